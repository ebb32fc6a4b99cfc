"""Intake over the REST API: send an archive, follow its checking, fetch the receipt and the findings.

Machine clients authenticate with their client certificate and token
(``agency.clientcert.ClientCertificateTokenAuthentication``); human users may call the same
endpoints from their portal session (second factor verified). Objects are loaded only through
``intake.access``; the findings are personal data and every read of them is audited.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agency.clientcert import ClientCertificateApiMixin
from agency.models import User
from agency.permissions import Perm
from core.exceptions import ApplicationError
from core.http import request_audit

from .. import selectors
from ..access import access_submission
from ..models import Channel, Submission
from ..services.receive import submission_receive
from .serializers import (
    ErrorSerializer,
    FindingSerializer,
    ReceiptSerializer,
    SubmissionStatusSerializer,
    UploadSerializer,
    hints,
)

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class RawArchive:
    """The unparsed request body of an ``application/zip`` upload, read later as a stream."""

    stream: BinaryIO


class ZipBodyParser(BaseParser):
    """``application/zip``: the body is the archive itself (its name in ``X-Filename``)."""

    media_type = "application/zip"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> RawArchive:
        return RawArchive(stream)


class OctetStreamBodyParser(ZipBodyParser):
    media_type = "application/octet-stream"


def _clean_file_name(value: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = re.split(r"[\\/]", value.strip())[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return name[:255]


class PersonalDataApiMixin:
    """REST framework counterpart of ``@personal_data``: set before authentication, so that a
    refused request to a personal-data endpoint is audited as denied too."""

    personal_data_action = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if self.personal_data_action:
            request_audit(request._request).action = self.personal_data_action
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


BAD_REQUEST = {400: OpenApiResponse(ErrorSerializer, description=_("リクエストの形式が不正です。"))}
BAD_PAGING = {400: OpenApiResponse(ErrorSerializer, description=_("limit・offset が範囲外です（invalid_paging）。"))}
ERRORS = {
    401: OpenApiResponse(
        ErrorSerializer, description=_("トークンがありません、または証明書のクライアントのものではありません。")
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        description=_("証明書が未登録・失効・期限切れ、またはこの操作の権限がありません。"),
    ),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description=_("受付が見つかりません（他機関の受付を含む）。"))}


class ArchiveUploadSchema(AutoSchema):
    """The upload's body is required in every one of its forms (drf-spectacular cannot tell for a binary body)."""

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class SubmissionListCreateApi(ClientCertificateApiMixin, GenericAPIView):
    """GET: the own institution's submissions (newest first). POST: send an archive."""

    schema = ArchiveUploadSchema()

    parser_classes = [MultiPartParser, ZipBodyParser, OctetStreamBodyParser]
    permission = Perm.INTAKE_VIEW
    write_permission = Perm.INTAKE_UPLOAD
    serializer_class = SubmissionStatusSerializer
    queryset = Submission.objects.none()

    def get_queryset(self) -> Any:
        return selectors.submission_list(user=self.request.user)

    @extend_schema(
        operation_id="submissions_list",
        summary="受付の一覧",
        responses={200: SubmissionStatusSerializer(many=True), **BAD_PAGING, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = SubmissionStatusSerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="submissions_create",
        summary="アーカイブの送付",
        description=(
            "標準様式のZIPアーカイブを送付します。`multipart/form-data` の `file`、または本文にZIPそのもの"
            "（`Content-Type: application/zip` と `X-Filename`）。事務点検は受付後に非同期で行われ、"
            "状態は `GET /api/v1/submissions/{id}/` で確認できます。同じ `Idempotency-Key` での再送、"
            "または同じ内容のアーカイブは新しい受付を作らず、最初の受付を 200 で返します。"
        ),
        request={
            "multipart/form-data": UploadSerializer,
            "application/zip": OpenApiTypes.BINARY,
            "application/octet-stream": OpenApiTypes.BINARY,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "pattern": r"^[!-~]{1,128}$", "minLength": 1, "maxLength": 128},
                OpenApiParameter.HEADER,
                description="再送時に同じ値を送ると、同じ受付が返ります（1〜128文字の印字可能ASCII）。",
            ),
            OpenApiParameter(
                "X-Filename",
                str,
                OpenApiParameter.HEADER,
                description="本文にZIPを送る場合のアーカイブ名（標準様式のファイル名）。",
            ),
            OpenApiParameter(
                "X-Archive-Password",
                str,
                OpenApiParameter.HEADER,
                description="本文にパスワード付きZIPを送る場合のパスワード。",
            ),
        ],
        responses={
            201: OpenApiResponse(SubmissionStatusSerializer, description=_("新しい受付")),
            200: OpenApiResponse(
                SubmissionStatusSerializer, description=_("再送または同じ内容：最初の受付（Idempotent-Replayed: true）")
            ),
            409: OpenApiResponse(ErrorSerializer, description=_("同じ内容のアーカイブが他の機関から受付済みです。")),
            413: OpenApiResponse(ErrorSerializer, description=_("アーカイブが大きすぎます。")),
            415: OpenApiResponse(
                ErrorSerializer,
                description=_("本文の Content-Type が multipart/form-data・application/zip・application/octet-stream のいずれでもありません。"),
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description=_("この Idempotency-Key は別の内容のアーカイブに使用済みです（idempotency_key_reused）。"),
            ),
            **BAD_REQUEST,
            **ERRORS,
        },
        examples=[
            OpenApiExample("duplicate", value={"detail": "…", "code": "duplicate_archive"}, status_codes=["409"]),
            OpenApiExample("key reused", value={"detail": "…", "code": "idempotency_key_reused"}, status_codes=["422"]),
        ],
    )
    def post(self, request: Request) -> Response:
        institution = request.user.institution
        key = request.headers.get("Idempotency-Key", "").strip()
        if (key or "Idempotency-Key" in request.headers) and not IDEMPOTENCY_KEY.match(key):
            raise ApplicationError(_("Idempotency-Key は1〜128文字の印字可能なASCII文字で指定してください。"), code="invalid_idempotency_key", status=400)
        limit = settings.INTAKE_MAX_ARCHIVE_BYTES
        data = request.data
        if isinstance(data, RawArchive):
            file_name = _clean_file_name(request.headers.get("X-Filename", ""))
            if not file_name:
                raise ApplicationError(_("X-Filename にアーカイブ名を指定してください。"), code="filename_required", status=400)
            if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
                raise ApplicationError(_("アーカイブが大きすぎます。"), code="too_large", status=413)
            source: Any = data.stream
            password = request.headers.get("X-Archive-Password", "")
        elif request.content_type.startswith("multipart/form-data"):
            repeated = [name for name in ("file", "password") if len(cast(QueryDict, data).getlist(name)) > 1]
            if repeated:
                raise ApplicationError(
                    _("%(fields)s は1つだけ送ってください。") % {"fields": "・".join(repeated)}, code="repeated_field", status=400
                )
            upload = UploadSerializer(data=data)
            if not upload.is_valid():
                raise ApplicationError(_("file フィールドにアーカイブを添付してください。"), code="file_required", status=400)
            uploaded = upload.validated_data["file"]
            if uploaded.size > limit:
                raise ApplicationError(_("アーカイブが大きすぎます。"), code="too_large", status=413)
            source = uploaded
            file_name = _clean_file_name(uploaded.name or "")
            password = upload.validated_data.get("password", "")
        else:
            raise ApplicationError(_("multipart/form-data の file、または application/zip の本文でアーカイブを送付してください。"), code="archive_required", status=400)

        user = request.user
        result = submission_receive(
            source=source,
            file_name=file_name,
            institution=institution,
            channel=Channel.API,
            # A machine client is no User row: it is recorded in the audit log from the request
            # (actor label "api:<client id>"), and received_by stays empty.
            actor=user if isinstance(user, User) else None,
            idempotency_key=key,
            request=request._request,
            password=password,
        )
        submission = result.submission
        body = SubmissionStatusSerializer(submission).data
        headers = {"Location": reverse("intake_api:submission_detail", args=[submission.pk])}
        if result.duplicate:
            headers[REPLAYED_HEADER] = "true"
            return Response(body, status=status.HTTP_200_OK, headers=headers)
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


class SubmissionDetailApi(ClientCertificateApiMixin, GenericAPIView):
    """Status and progress of one submission."""

    permission = Perm.INTAKE_VIEW
    serializer_class = SubmissionStatusSerializer
    queryset = Submission.objects.none()

    @extend_schema(
        operation_id="submissions_retrieve",
        summary="受付の状態と点検の進捗",
        responses={200: SubmissionStatusSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        submission = access_submission(request._request, submission_id)
        return Response(SubmissionStatusSerializer(submission).data)


class SubmissionReceiptApi(ClientCertificateApiMixin, GenericAPIView):
    """The receipt (受領書) of one submission as JSON."""

    permission = Perm.INTAKE_VIEW
    serializer_class = ReceiptSerializer
    queryset = Submission.objects.none()

    @extend_schema(
        operation_id="submissions_receipt",
        summary="受領書",
        responses={200: ReceiptSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        submission = access_submission(request._request, submission_id)
        return Response(ReceiptSerializer(submission).data)


class SubmissionErrorsApi(PersonalDataApiMixin, ClientCertificateApiMixin, GenericAPIView):
    """The findings of 事務点検 on one submission (personal data: every read is audited)."""

    permission = Perm.INTAKE_VIEW
    personal_data_action = "intake.findings.view"
    serializer_class = FindingSerializer
    queryset = Submission.objects.none()

    @extend_schema(
        operation_id="submissions_errors",
        summary="点検結果（エラー・警告）の一覧",
        responses={200: FindingSerializer(many=True), **BAD_PAGING, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        http = request._request
        submission = access_submission(http, submission_id)
        page = self.paginate_queryset(selectors.finding_list(submission=submission))
        audit = request_audit(http)
        audit.touch("record", sorted({f.record_id for f in page if f.record_id}))
        audit.detail["submission"] = submission.pk
        data = FindingSerializer(page, many=True, context={"hints": hints()}).data
        return self.get_paginated_response(data)
