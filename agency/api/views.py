"""Read and register parties through the REST API (numbers are check-digit validated)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics, serializers

from kenshin.checkdigits import normalize_insurer_number

from .. import selectors, services
from ..access import access_contract, access_institution, access_insurer
from ..models import Contract, Institution, Insurer
from ..permissions import Perm


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


class InsurerListApi(generics.ListCreateAPIView):
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


class InsurerDetailApi(generics.RetrieveAPIView):
    serializer_class = InsurerSerializer
    permission = Perm.PARTIES_VIEW

    def get_object(self) -> Insurer:
        return access_insurer(self.request._request, self.kwargs["number"])


class InstitutionListApi(generics.ListCreateAPIView):
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


class InstitutionDetailApi(generics.RetrieveAPIView):
    serializer_class = InstitutionSerializer
    permission = Perm.PARTIES_VIEW

    def get_object(self) -> Institution:
        return access_institution(self.request._request, self.kwargs["number"])


class ContractListApi(generics.ListAPIView):
    serializer_class = ContractSerializer
    permission = Perm.CONTRACTS_VIEW
    queryset = Contract.objects.none()

    def get_queryset(self) -> QuerySet[Contract]:
        return selectors.contract_list(user=self.request.user)


class ContractDetailApi(generics.RetrieveAPIView):
    serializer_class = ContractSerializer
    permission = Perm.CONTRACTS_VIEW

    def get_object(self) -> Contract:
        return access_contract(self.request._request, self.kwargs["contract_id"])
