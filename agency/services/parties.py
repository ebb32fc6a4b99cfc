"""Writes to parties: insurers, institutions, contracts (and synthetic parties for tests, benchmarks
and the demo). Each service audits its change in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from agency.crypto import encrypt_text
from agency.models import AgencyProfile, Contract, ContractOtherItem, Institution, Insurer, User
from audit.services import audit_record
from kenshin.copay import DETAIL_PRICE_FIELDS

# --- Parties ---------------------------------------------------------------------------------------


def _save_party(instance: Any, *, actor: User | None, action: str, request: HttpRequest | None) -> Any:
    created = instance.pk is None
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        audit_record(
            action=f"{action}.{'created' if created else 'updated'}",
            actor=actor,
            request=request,
            object_type=action.split(".")[-1],
            object_ids=[instance.pk],
        )
    return instance


def insurer_save(*, insurer: Insurer, actor: User | None, request: HttpRequest | None = None) -> Insurer:
    return _save_party(insurer, actor=actor, action="party.insurer", request=request)


def institution_save(
    *, institution: Institution, actor: User | None, request: HttpRequest | None = None
) -> Institution:
    return _save_party(institution, actor=actor, action="party.institution", request=request)


def contract_save(*, contract: Contract, actor: User | None, request: HttpRequest | None = None) -> Contract:
    return _save_party(contract, actor=actor, action="party.contract", request=request)


def institution_archive_password_set(
    *, institution: Institution, password: str, actor: User | None, request: HttpRequest | None = None
) -> Institution:
    """Register (or, with an empty password, clear) the password the institution locks its archives with."""
    with transaction.atomic():
        institution.archive_password = encrypt_text(password) if password else ""
        institution.save(update_fields=["archive_password", "updated_at"])
        audit_record(
            action="party.institution.archive_password_set" if password else "party.institution.archive_password_cleared",
            actor=actor, request=request, object_type="institution", object_ids=[institution.pk],
        )
    return institution


# --- Synthetic parties (tests, benchmarks, demo archives) ---------------------------------------------


def contract_from_terms(
    *,
    insurer: Insurer,
    institution: Institution,
    terms: Any,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    actor: User | None = None,
) -> Contract:
    """A contract (with its additional-item prices) carrying the prices of
    ``kenshin.copay.ContractTerms``; the inverse of ``terms_from_contract``. The terms' copay rules
    are the 受診券's and stay out of the contract."""
    fields: dict[str, Any] = {
        "commission_type": int(terms.commission_type.value),
        "basic_price": terms.basic_price,
        "dock_price": terms.dock_price,
        **{name: terms.detail_prices.get(item, 0) for item, name in DETAIL_PRICE_FIELDS.items()},
    }
    contract = contract_save(
        contract=Contract(insurer=insurer, institution=institution, valid_from=valid_from, valid_to=valid_to, **fields),
        actor=actor,
    )
    items = [ContractOtherItem(contract=contract, item_code=code, price=price) for code, price in terms.other_prices.items()]
    for item in items:
        item.full_clean()
    ContractOtherItem.objects.bulk_create(items)
    return contract


def synthetic_parties_load(*, parties: Any, actor: User | None = None, agency_number: str | None = None) -> dict[str, int]:
    """Create the insurers, institutions and contracts of a synthetic ``Parties`` set that do not
    exist yet (idempotent), so generated archives meet real reference data.

    ``agency_number`` (the receiver written into the archives) is set as the agency's code when
    an agency profile exists.
    """
    created = {"insurers": 0, "institutions": 0, "contracts": 0}
    with transaction.atomic():
        if agency_number:
            AgencyProfile.objects.exclude(agency_code=agency_number).update(agency_code=agency_number)
        for item in parties.insurers:
            if not Insurer.objects.filter(number=item.number).exists():
                insurer_save(insurer=Insurer(number=item.number, name=item.name, contract_start=dt.date(2020, 4, 1)), actor=actor)
                created["insurers"] += 1
        for item in parties.institutions:
            if not Institution.objects.filter(number=item.number).exists():
                institution_save(
                    institution=Institution(
                        number=item.number, name=item.name, postal_code=item.postal_code, address=item.address,
                        phone=item.telephone,
                    ),
                    actor=actor,
                )
                created["institutions"] += 1
        for item in parties.contracts:
            exists = Contract.objects.filter(
                insurer__number=item.insurer_number, institution__number=item.institution_number,
                commission_type=int(item.terms.commission_type.value), valid_from=item.valid_from,
            ).exists()
            if exists:
                continue
            contract_from_terms(
                insurer=Insurer.objects.get(number=item.insurer_number),
                institution=Institution.objects.get(number=item.institution_number),
                terms=item.terms, valid_from=item.valid_from, valid_to=item.valid_to, actor=actor,
            )
            created["contracts"] += 1
    return created
