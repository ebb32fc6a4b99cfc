"""Read and register parties through the REST API (numbers are check-digit validated).

For the portal's own users (their session, second factor verified): a machine client is refused
with 403 ``machine_client_refused`` and the refusal is audited (``PortalSessionApiMixin``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers

from core.api import ErrorSerializer
from kenshin.checkdigits import normalize_insurer_number

from .. import selectors, services
from ..access import access_contract, access_institution, access_insurer
from ..clientcert import PortalSessionApiMixin
from ..models import Contract, Institution, Insurer
from ..permissions import Perm

# The security requirement itself (drf-spectacular's annotation says names, its code takes requirements).
SESSION_ONLY: Any = [{"cookieAuth": []}]
REFUSED = {
    401: OpenApiResponse(ErrorSerializer, description=_("ログインしていません（またはトークンが証明書と一致しません）。")),
    403: OpenApiResponse(
        ErrorSerializer,
        description=_("二要素認証が済んでいない、この操作の権限がない、"
                      "または機関・保険者のシステム（クライアント証明書）からの呼び出し（machine_client_refused、監査記録あり）。"),
    ),
}
LIST_ERRORS = {400: OpenApiResponse(ErrorSerializer, description=_("limit・offset が範囲外です（invalid_paging）。")), **REFUSED}
CREATE_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description=_("入力内容に誤りがあります（code: invalid、項目ごとの誤りは errors）。")),
    **REFUSED,
    415: OpenApiResponse(ErrorSerializer, description=_("本文の Content-Type が JSON・フォームのいずれでもありません。")),
}


def _not_found(what: str) -> dict[int, OpenApiResponse]:
    return {404: OpenApiResponse(ErrorSerializer, description=f"{what}が見つかりません（参照できないものを含む）。")}


class InsurerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Insurer
        fields = ["number", "name", "contract_start", "billing_postal_code", "billing_address", "is_active"]

    def validate_number(self, value: str) -> str:
        return normalize_insurer_number(value)


class InstitutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Institution
        fields = ["number", "name", "postal_code", "address", "phone", "is_active"]


class ContractSerializer(serializers.ModelSerializer):
    insurer = serializers.CharField(source="insurer.number", read_only=True)
    institution = serializers.CharField(source="institution.number", read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id", "insurer", "institution", "valid_from", "valid_to", "commission_type", "basic_price",
            "anemia_price", "ecg_price", "fundus_price", "creatinine_price", "dock_price", "issues_tickets",
        ]


@extend_schema_view(
    get=extend_schema(operation_id="insurers_list", summary="保険者の一覧", auth=SESSION_ONLY, responses={
        200: InsurerSerializer(many=True), **LIST_ERRORS}),
    post=extend_schema(operation_id="insurers_create", summary="保険者の登録", auth=SESSION_ONLY, responses={
        201: InsurerSerializer, **CREATE_ERRORS}),
)
class InsurerListApi(PortalSessionApiMixin, generics.ListCreateAPIView):
    """The insurers the user may see; agency staff register new ones."""

    serializer_class = InsurerSerializer
    permission = Perm.PARTIES_VIEW
    write_permission = Perm.PARTIES_MANAGE
    queryset = Insurer.objects.none()

    def get_queryset(self) -> QuerySet[Insurer]:
        return selectors.insurer_list(user=self.request.user)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.insurer_save(
            insurer=Insurer(**serializer.validated_data), actor=self.request.user, request=self.request._request
        )


INSURER_NUMBER = OpenApiParameter(
    "number", {"type": "string", "pattern": r"^([0-9]{6}|[0-9]{8})$"}, OpenApiParameter.PATH,
    description="保険者番号（8桁。国保の6桁番号も可）",
)
INSTITUTION_NUMBER = OpenApiParameter(
    "number", {"type": "string", "pattern": r"^[0-9]{10}$"}, OpenApiParameter.PATH, description="機関番号（10桁）",
)


@extend_schema_view(get=extend_schema(operation_id="insurers_retrieve", summary="保険者", auth=SESSION_ONLY,
                                      parameters=[INSURER_NUMBER], responses={
    200: InsurerSerializer, **REFUSED, **_not_found("保険者")}))
class InsurerDetailApi(PortalSessionApiMixin, generics.RetrieveAPIView):
    """One insurer the user may see."""

    serializer_class = InsurerSerializer
    permission = Perm.PARTIES_VIEW

    def get_object(self) -> Insurer:
        return access_insurer(self.request._request, self.kwargs["number"])


@extend_schema_view(
    get=extend_schema(operation_id="institutions_list", summary="健診機関の一覧", auth=SESSION_ONLY, responses={
        200: InstitutionSerializer(many=True), **LIST_ERRORS}),
    post=extend_schema(operation_id="institutions_create", summary="健診機関の登録", auth=SESSION_ONLY, responses={
        201: InstitutionSerializer, **CREATE_ERRORS}),
)
class InstitutionListApi(PortalSessionApiMixin, generics.ListCreateAPIView):
    """The institutions the user may see; agency staff register new ones."""

    serializer_class = InstitutionSerializer
    permission = Perm.PARTIES_VIEW
    write_permission = Perm.PARTIES_MANAGE
    queryset = Institution.objects.none()

    def get_queryset(self) -> QuerySet[Institution]:
        return selectors.institution_list(user=self.request.user)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.institution_save(
            institution=Institution(**serializer.validated_data), actor=self.request.user, request=self.request._request
        )


@extend_schema_view(get=extend_schema(operation_id="institutions_retrieve", summary="健診機関", auth=SESSION_ONLY,
                                      parameters=[INSTITUTION_NUMBER], responses={
    200: InstitutionSerializer, **REFUSED, **_not_found("健診機関")}))
class InstitutionDetailApi(PortalSessionApiMixin, generics.RetrieveAPIView):
    """One institution the user may see."""

    serializer_class = InstitutionSerializer
    permission = Perm.PARTIES_VIEW

    def get_object(self) -> Institution:
        return access_institution(self.request._request, self.kwargs["number"])


@extend_schema_view(get=extend_schema(operation_id="contracts_list", summary="契約の一覧", auth=SESSION_ONLY, responses={
    200: ContractSerializer(many=True), **LIST_ERRORS}))
class ContractListApi(PortalSessionApiMixin, generics.ListAPIView):
    """The contracts the user may see."""

    serializer_class = ContractSerializer
    permission = Perm.CONTRACTS_VIEW
    queryset = Contract.objects.none()

    def get_queryset(self) -> QuerySet[Contract]:
        return selectors.contract_list(user=self.request.user)


@extend_schema_view(get=extend_schema(operation_id="contracts_retrieve", summary="契約", auth=SESSION_ONLY, responses={
    200: ContractSerializer, **REFUSED, **_not_found("契約")}))
class ContractDetailApi(PortalSessionApiMixin, generics.RetrieveAPIView):
    """One contract the user may see."""

    serializer_class = ContractSerializer
    permission = Perm.CONTRACTS_VIEW

    def get_object(self) -> Contract:
        return access_contract(self.request._request, self.kwargs["contract_id"])
