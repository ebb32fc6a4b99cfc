"""Deliveries over the REST API, for insurer systems: list, detail, archive download, acknowledgement.

Insurer systems authenticate like institutions' (client certificate from the TLS proxy + token,
``agency.clientcert``); insurer staff may call the same endpoints from their portal session.
Deliveries are loaded only through ``intake.access.access_delivery`` (another insurer's delivery
or a missing one → 404, audited as denied). Downloading an archive is audited as an export.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from agency.clientcert import ClientCertificateApiMixin
from agency.permissions import Perm
from core.api import choice_param
from core.http import request_audit
from intake.api.serializers import ErrorSerializer
from intake.api.views import ERRORS, PersonalDataApiMixin

from .. import access, selectors
from ..models import Delivery, DeliveryChannel, DeliveryStatus
from ..services import deliveries

NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description=_("送付データが見つかりません（他の保険者の送付データを含む）。"))}


class DeliverySerializer(serializers.Serializer):
    """One delivery: the archive, its counts and totals (integer yen), where it stands."""

    id = serializers.IntegerField()
    file_name = serializers.CharField(help_text=_("アーカイブ名（標準様式）"))
    insurer = serializers.CharField(source="insurer.number", help_text=_("保険者番号"))
    sender = serializers.CharField(source="sender_code", help_text=_("送付元（代行機関番号）"))
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    record_count = serializers.IntegerField(help_text=_("受診者数"))
    file_count = serializers.IntegerField(help_text=_("DATA・CLAIMS のファイル数"))
    unit_total = serializers.IntegerField(help_text=_("単価総計（円）"))
    payment_total = serializers.IntegerField(help_text=_("窓口支払金額総計（円）"))
    claim_total = serializers.IntegerField(help_text=_("請求金額総計（円）"))
    sha256 = serializers.CharField(source="archive.sha256", help_text=_("アーカイブのSHA-256"))
    size = serializers.IntegerField(source="archive.size", help_text=_("アーカイブのバイト数"))
    downloaded_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    archive_url = serializers.SerializerMethodField()
    acknowledge_url = serializers.SerializerMethodField()

    def get_archive_url(self, delivery: Delivery) -> str:
        return reverse("delivery_api:delivery_archive", args=[delivery.pk])

    def get_acknowledge_url(self, delivery: Delivery) -> str:
        return reverse("delivery_api:delivery_acknowledge", args=[delivery.pk])


class AcknowledgementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class DeliveryListApi(ClientCertificateApiMixin, GenericAPIView):
    """The insurer's deliveries, newest first (``?status=ready`` for those not fetched yet)."""

    permission = Perm.DELIVERIES_VIEW
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    def get_queryset(self) -> Any:
        deliveries = selectors.delivery_list(user=self.request.user)
        status = choice_param(self.request, "status", list(DeliveryStatus.values))
        if status:
            deliveries = deliveries.filter(status=status)
        return deliveries

    @extend_schema(
        operation_id="deliveries_list",
        summary="送付データの一覧",
        parameters=[OpenApiParameter("status", str, enum=DeliveryStatus.values, description="状態で絞り込みます。")],
        responses={
            200: DeliverySerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description=_(
                "status が一覧にない値（invalid_status）、または limit・offset が範囲外（invalid_paging）です。")),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryDetailApi(ClientCertificateApiMixin, GenericAPIView):
    """One delivery of the insurer: counts, totals and where it stands."""

    permission = Perm.DELIVERIES_VIEW
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    @extend_schema(operation_id="deliveries_retrieve", summary="送付データ", responses={200: DeliverySerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(DeliverySerializer(access.access_delivery(request._request, delivery_id)).data)


class DeliveryArchiveApi(PersonalDataApiMixin, ClientCertificateApiMixin, GenericAPIView):
    """The archive itself (application/zip); every download is recorded and audited as an export."""

    permission = Perm.DELIVERIES_DOWNLOAD
    personal_data_action = "routing.delivery.export"
    queryset = Delivery.objects.none()

    @extend_schema(
        operation_id="deliveries_archive",
        summary="送付データ（標準様式アーカイブ）の取得",
        description="標準様式のZIPアーカイブ（種別3）。`X-Content-SHA256` はアーカイブのSHA-256です。",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, delivery_id: int) -> HttpResponse:
        http = request._request
        delivery = access.access_delivery(http, delivery_id)
        audit = request_audit(http)
        audit.touch("delivery", [delivery.pk])
        audit.detail.update(records=delivery.record_count, sha256=delivery.archive.sha256)
        data = deliveries.delivery_download(delivery=delivery, actor=request.user, request=http, channel=DeliveryChannel.API)
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{delivery.file_name}"'
        response["X-Content-SHA256"] = delivery.archive.sha256
        return response


class DeliveryAcknowledgeApi(ClientCertificateApiMixin, GenericAPIView):
    """GET: whether the delivery is acknowledged. POST: acknowledge it (idempotent)."""

    permission = Perm.DELIVERIES_DOWNLOAD
    write_permission = Perm.DELIVERIES_DOWNLOAD
    serializer_class = AcknowledgementSerializer
    queryset = Delivery.objects.none()

    @extend_schema(operation_id="deliveries_acknowledgement", summary="受領確認の状態",
                   responses={200: AcknowledgementSerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(AcknowledgementSerializer(access.access_delivery(request._request, delivery_id)).data)

    @extend_schema(operation_id="deliveries_acknowledge", summary="受領確認", request=None,
                   responses={200: AcknowledgementSerializer, **ERRORS, **NOT_FOUND})
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = access.access_delivery(request._request, delivery_id)
        delivery = deliveries.delivery_acknowledge(delivery=delivery, actor=request.user, request=request._request)
        return Response(AcknowledgementSerializer(delivery).data)
