"""Writes to parties: insurers, institutions, contracts (and synthetic parties for tests, benchmarks
and the demo). Each service audits its change in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from agency.crypto import encrypt_text
from agency.models import AgencyProfile, Contract, ContractOtherItem, Institution, InstitutionEmailSender, Insurer, User
from audit.services import audit_record
from kenshin.copay import DETAIL_PRICE_FIELDS

# --- Parties ---------------------------------------------------------------------------------------


def _changed_fields(instance: Any) -> list[str]:
    """The names of the fields whose value differs from the stored row (every field of a new row)."""
    fields = [f for f in instance._meta.concrete_fields if f.editable and not f.primary_key]
    if instance.pk is None:
        return [f.name for f in fields if f.name not in ("created_at", "updated_at")]
    stored = type(instance).objects.filter(pk=instance.pk).values(*(f.attname for f in fields)).first() or {}
    return [f.name for f in fields if f.name not in ("created_at", "updated_at") and stored.get(f.attname) != getattr(instance, f.attname)]


def _save_party(instance: Any, *, actor: User | None, action: str, request: HttpRequest | None) -> Any:
    created = instance.pk is None
    instance.full_clean()
    with transaction.atomic():
        changed = _changed_fields(instance)
        instance.save()
        audit_record(
            action=f"{action}.{'created' if created else 'updated'}",
            actor=actor,
            request=request,
            object_type=action.split(".")[-1],
            object_ids=[instance.pk],
            detail={"changed": changed},
        )
    return instance


def insurer_save(*, insurer: Insurer, actor: User | None, request: HttpRequest | None = None) -> Insurer:
    return _save_party(insurer, actor=actor, action="party.insurer", request=request)


def institution_save(
    *, institution: Institution, actor: User | None, request: HttpRequest | None = None
) -> Institution:
    return _save_party(institution, actor=actor, action="party.institution", request=request)


def contract_save(
    *,
    contract: Contract,
    actor: User | None,
    request: HttpRequest | None = None,
    other_items: Sequence[tuple[str, int]] | None = None,
) -> Contract:
    """Create or change a contract; ``other_items`` (item code, price), when given, replace its 追加健診項目 prices."""
    with transaction.atomic():
        _save_party(contract, actor=actor, action="party.contract", request=request)
        if other_items is not None:
            wanted = dict(other_items)
            items = [ContractOtherItem(contract=contract, item_code=code, price=price) for code, price in wanted.items()]
            for item in items:
                item.full_clean(exclude=["contract"])
            stored = dict(contract.other_items.values_list("item_code", "price"))
            if stored != wanted:
                contract.other_items.all().delete()
                ContractOtherItem.objects.bulk_create(items)
                audit_record(
                    action="party.contract.other_items_set", actor=actor, request=request, object_type="contract",
                    object_ids=[contract.pk], detail={"old": stored, "new": wanted},
                )
    return contract


def contract_end(*, contract: Contract, valid_to: dt.date, actor: User | None, request: HttpRequest | None = None) -> Contract:
    """End a contract on ``valid_to`` (the last day it covers); checkups after it need a new contract."""
    if valid_to < contract.valid_from:
        raise ValidationError({"valid_to": _("契約終了日は契約開始日（%(start)s）以降にしてください。") % {
            "start": contract.valid_from.isoformat()}}, code="before_start")
    if contract.valid_to is not None and contract.valid_to <= valid_to:
        raise ValidationError({"valid_to": _("この契約は %(end)s に終了しています。終了日を延ばす場合は契約を変更してください。") % {
            "end": contract.valid_to.isoformat()}}, code="already_ended")
    old = contract.valid_to
    contract.valid_to = valid_to
    contract.full_clean()
    with transaction.atomic():
        contract.save(update_fields=["valid_to", "updated_at"])
        audit_record(
            action="party.contract.ended", actor=actor, request=request, object_type="contract", object_ids=[contract.pk],
            detail={"valid_to": valid_to.isoformat(), "previous_valid_to": old.isoformat() if old else None},
        )
    return contract


def institution_email_sender_add(
    *, institution: Institution, address: str, actor: User | None, request: HttpRequest | None = None
) -> InstitutionEmailSender:
    """Accept archives e-mailed from ``address`` for ``institution`` (an address belongs to one institution)."""
    sender = InstitutionEmailSender(institution=institution, address=address)
    sender.clean()
    taken = InstitutionEmailSender.objects.filter(address=sender.address).select_related("institution").first()
    if taken is not None:
        raise ValidationError({"address": _("このアドレスは既に %(institution)s の送信元として登録されています。") % {
            "institution": taken.institution}}, code="address_taken")
    sender.full_clean()
    with transaction.atomic():
        sender.save()
        audit_record(
            action="party.institution.sender_added", actor=actor, request=request, object_type="institution",
            object_ids=[institution.pk], detail={"sender": sender.pk},
        )
    return sender


def institution_email_sender_remove(
    *, sender: InstitutionEmailSender, actor: User | None, request: HttpRequest | None = None
) -> None:
    """Stop accepting archives e-mailed from this address."""
    with transaction.atomic():
        institution_id, sender_id = sender.institution_id, sender.pk
        sender.delete()
        audit_record(
            action="party.institution.sender_removed", actor=actor, request=request, object_type="institution",
            object_ids=[institution_id], detail={"sender": sender_id},
        )


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
    covers: dict[str, Any] | None = None,
) -> Contract:
    """A contract (with its additional-item prices) carrying the prices of
    ``kenshin.copay.ContractTerms``; the inverse of ``terms_from_contract``. The terms' copay rules
    are the 受診券's and stay out of the contract. ``covers``: what else it covers (the guidance prices,
    results only, 事業者健診等), as contract fields."""
    fields: dict[str, Any] = {
        **(covers or {}),
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
