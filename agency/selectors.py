"""Reads of parties and accounts, scoped to what the requesting user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from .crypto import decrypt_text
from .models import (
    ApiClient,
    ClientCertificate,
    CollectiveContract,
    CollectiveInsurer,
    Contract,
    CredentialReset,
    Institution,
    InstitutionEmailSender,
    Insurer,
    Role,
    User,
)


def insurer_list(*, user: Any) -> QuerySet[Insurer]:
    qs = Insurer.objects.all()
    if user.role == Role.INSURER_STAFF:
        return qs.filter(pk=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(contracts__institution_id=user.institution_id).distinct()
    return qs


def institution_list(*, user: Any) -> QuerySet[Institution]:
    qs = Institution.objects.all()
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(pk=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.filter(contracts__insurer_id=user.insurer_id).distinct()
    return qs


def contract_list(*, user: Any) -> QuerySet[Contract]:
    qs = Contract.objects.select_related("insurer", "institution").prefetch_related("other_items")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    return qs


def collective_contract_list() -> QuerySet[CollectiveContract]:
    """Collective contracts (agency staff only: the pages that show them are the administrator's)."""
    return CollectiveContract.objects.select_related("representative").order_by("-valid_from", "name")


def collective_insurer_list(*, contract: CollectiveContract) -> QuerySet[CollectiveInsurer]:
    return contract.insurers.select_related("insurer").order_by("insurer__number", "joined_on")


def user_list(*, user: Any) -> QuerySet[User]:
    return User.objects.select_related("insurer", "institution").order_by("username")


def institution_archive_password(*, institution: Institution) -> str:
    """The password the institution registered for its locked archives ("" when none)."""
    return decrypt_text(institution.archive_password) if institution.archive_password else ""


def api_client_list() -> QuerySet[ApiClient]:
    """Every machine client of the API with its party and how many certificates it has (agency staff only)."""
    return ApiClient.objects.select_related("institution", "insurer", "created_by").annotate(
        certificate_count=Count("certificates", filter=Q(certificates__revoked_at__isnull=True))
    ).order_by("-is_active", "name", "pk")


def client_certificate_list() -> QuerySet[ClientCertificate]:
    return ClientCertificate.objects.select_related("api_client__institution", "api_client__insurer")


def credential_reset_list(*, person: User) -> QuerySet[CredentialReset]:
    """The 本人確認記録 of one person, newest first."""
    return CredentialReset.objects.filter(user=person).select_related("verified_by")


def email_sender_list(*, institution: Institution) -> QuerySet[InstitutionEmailSender]:
    return InstitutionEmailSender.objects.filter(institution=institution).order_by("address")
