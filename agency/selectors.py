"""Reads of parties and accounts, scoped to what the requesting user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .crypto import decrypt_text
from .models import Contract, Institution, Insurer, Role, User


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


def user_list(*, user: Any) -> QuerySet[User]:
    return User.objects.select_related("insurer", "institution").order_by("username")


def institution_archive_password(*, institution: Institution) -> str:
    """The password the institution registered for its locked archives ("" when none)."""
    return decrypt_text(institution.archive_password) if institution.archive_password else ""
