"""Issuing the agency's qualified invoices (適格請求書) and cancelling them with credit notes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import AgencyProfile, Insurer, User
from audit.services import audit_record

from .. import calendar
from ..models import (
    BillingMonth,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    InvoiceTaxTotal,
    LedgerKind,
)
from ..money import ROUNDING_NOTE, STANDARD_RATE, tax_included
from .errors import AgencyProfileMissing, InvoiceNotCancellable
from .ledger import ledger_append
from .numbering import invoice_number_allocate


@dataclass(frozen=True)
class LineSpec:
    """One invoice line to issue (tax included, integer yen)."""

    kind: str
    description: str
    quantity: int
    unit_price: int
    tax_rate: int = STANDARD_RATE
    refers_line_id: int | None = None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


def actor_label(actor: Any) -> str:
    if isinstance(actor, User):
        return actor.get_username()
    return "system"


def agency_profile() -> AgencyProfile:
    profile = AgencyProfile.objects.order_by("pk").first()
    if profile is None:
        raise AgencyProfileMissing(_("代行機関情報が登録されていません。"))
    return profile


def due_date_for(issue_date: dt.date) -> dt.date:
    """お支払期限: the last day of the month after the issue date."""
    return calendar.add_months(calendar.month_start(issue_date), 2) - dt.timedelta(days=1)


def tax_totals(lines: Sequence[LineSpec]) -> dict[int, tuple[int, int]]:
    """Per tax rate: the tax-included total of its lines and the tax computed once from that total."""
    totals: dict[int, int] = defaultdict(int)
    for line in lines:
        totals[line.tax_rate] += line.amount
    return {rate: (total, tax_included(total, rate)) for rate, total in sorted(totals.items(), reverse=True)}


def invoice_issue(
    *,
    insurer: Insurer,
    lines: Sequence[LineSpec],
    period_start: dt.date,
    period_end: dt.date,
    month: BillingMonth | None = None,
    issue_date: dt.date | None = None,
    kind: str = InvoiceKind.INVOICE,
    refers: Invoice | None = None,
    note: str = "",
    actor: Any = None,
    request: HttpRequest | None = None,
) -> Invoice:
    """Issue one invoice: snapshot issuer and recipient, write lines and per-rate totals, number it."""
    if not lines:
        raise ValueError("an invoice has at least one line")
    profile = agency_profile()
    now = timezone.now()
    issue_date = issue_date or timezone.localdate(now)
    rates = tax_totals(lines)
    total = sum(total for total, _tax in rates.values())
    with transaction.atomic():
        invoice = Invoice(
            kind=kind,
            status=InvoiceStatus.DRAFT,
            refers=refers,
            insurer=insurer,
            month=month,
            period_start=period_start,
            period_end=period_end,
            issuer_name=profile.name,
            issuer_address=profile.address,
            issuer_phone=profile.phone,
            registration_number=profile.invoice_registration_number,
            recipient_number=insurer.number,
            recipient_name=insurer.name,
            recipient_postal_code=insurer.billing_postal_code,
            recipient_address=insurer.billing_address,
            recipient_department=insurer.billing_department,
            recipient_contact=insurer.billing_contact_name,
            rounding_note=str(ROUNDING_NOTE),
            note=note[:300],
        )
        invoice.full_clean(exclude=["number", "sequence"])
        invoice.save(force_insert=True)
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=spec.kind,
                description=spec.description[:200],
                quantity=spec.quantity,
                unit_price=spec.unit_price,
                amount=spec.amount,
                tax_rate=spec.tax_rate,
                refers_line_id=spec.refers_line_id,
            )
            for position, spec in enumerate(lines, start=1)
        )
        InvoiceTaxTotal.objects.bulk_create(
            InvoiceTaxTotal(invoice=invoice, rate=rate, total=rate_total, tax=tax) for rate, (rate_total, tax) in rates.items()
        )
        # The number is taken last, so the counter row is locked as briefly as possible.
        sequence, number = invoice_number_allocate()
        updated = Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.DRAFT).update(
            status=InvoiceStatus.ISSUED,
            sequence=sequence,
            number=number,
            issue_date=issue_date,
            due_date=due_date_for(issue_date) if kind == InvoiceKind.INVOICE else None,
            total=total,
            tax_total=sum(tax for _total, tax in rates.values()),
            issued_at=now,
            issued_by=actor if isinstance(actor, User) else None,
            issued_label=actor_label(actor),
        )
        if updated != 1:  # pragma: no cover - the draft was created above in this transaction
            raise RuntimeError("the draft invoice disappeared while it was issued")
        invoice = Invoice.objects.get(pk=invoice.pk)
        ledger_append(
            kind=LedgerKind.FEE_INVOICED if kind == InvoiceKind.INVOICE else LedgerKind.CREDIT_NOTE,
            amount=total,
            occurred_at=now,
            month=month,
            insurer=insurer,
            invoice=invoice,
            memo=number,
        )
        audit_record(
            action="billing.invoice.issued" if kind == InvoiceKind.INVOICE else "billing.credit_note.issued",
            actor=actor if isinstance(actor, User) else None,
            actor_label="" if isinstance(actor, User) else "system",
            request=request,
            object_type="invoice",
            object_ids=[invoice.pk],
            detail={
                "number": number,
                "insurer": insurer.number,
                "total": total,
                "tax": invoice.tax_total,
                "refers": refers.number if refers is not None else None,
            },
        )
    return invoice


def invoice_cancel(*, invoice: Invoice, reason: str, actor: Any = None, request: HttpRequest | None = None) -> Invoice:
    """Cancel an issued invoice with a credit note whose lines negate its lines; the original is untouched.

    An invoice is cancelled once; a credit note is not cancelled.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise InvoiceNotCancellable(_("取消の理由を入力してください。"))
    with transaction.atomic():
        original = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if original.status != InvoiceStatus.ISSUED:
            raise InvoiceNotCancellable(_("発行済みの請求書だけを取り消せます。"))
        if original.kind != InvoiceKind.INVOICE:
            raise InvoiceNotCancellable(_("返還請求書は取り消せません。"))
        if Invoice.objects.filter(refers=original).exists():
            raise InvoiceNotCancellable(_("この請求書は既に取り消されています（返還請求書 %(number)s）。") % {
                "number": Invoice.objects.get(refers=original).number,
            })
        lines = [
            LineSpec(
                kind=line.kind,
                description=_("【取消】%(description)s") % {"description": line.description},
                quantity=line.quantity,
                unit_price=-line.unit_price,
                tax_rate=line.tax_rate,
                refers_line_id=line.pk,
            )
            for line in original.lines.order_by("position")
        ]
        credit = invoice_issue(
            insurer=original.insurer,
            lines=lines,
            period_start=original.period_start,
            period_end=original.period_end,
            month=original.month,
            kind=InvoiceKind.CREDIT_NOTE,
            refers=original,
            note=_("請求書 %(number)s の取消: %(reason)s") % {"number": original.number, "reason": reason},
            actor=actor,
            request=request,
        )
    return credit


__all__ = ["InvoiceLineKind", "LineSpec", "invoice_cancel", "invoice_issue"]
