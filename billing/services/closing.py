"""The monthly closing (月次締め): claims statements, payment statements, fee invoices, ledger rows.

Billing month M collects, at its cut-off (``billing.calendar.cutoff_for``):

* every accepted record not billed before whose checkup month (実施年月; the acceptance month when
  there is no checkup date) is M or earlier, that was accepted at or before the cut-off and that
  was delivered to its insurer (振分) at or before the cut-off: the insurer is billed only for what
  it received. A record of an earlier month is 月遅れ and marked so on its line; a record accepted
  after the cut-off waits for the next month; a record accepted but not delivered yet is listed at 0
  with the reason it is held (insurer inactive, or not routed yet) and billed once delivered;
* every 過誤 (insurer return) of a record billed in an earlier month and not deducted yet,
  returned at or before the cut-off, as a negative line;
* every manual adjustment entered at or before the cut-off and not applied yet.

Per insurer they make a claims statement (費用請求書), per institution a payment statement (支払通知)
with one part per insurer statement; each part is one ledger row. Then each insurer's fee invoice
is issued (``billing.services.fees``). Everything happens in one transaction, under the lock of the
month's row: closing a closed month returns what it made the first time and changes nothing, and
the database keeps every record, return and adjustment on one line only.

Months close in order: once a month is closed, the next to close is the month after it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Institution, Insurer, User
from audit.services import audit_record
from core.bulk import rows_insert
from intake.models import BILLED_KINDS, CHECKUP_KINDS, Record, RecordKind, RecordStatus
from routing.models import DeliveryItem, InsurerReturn

from .. import calendar
from ..models import (
    BillingMonth,
    BillingMonthStatus,
    ClaimAdjustment,
    ClaimsStatement,
    ClaimsStatementLine,
    FeeChargedItem,
    Invoice,
    InvoiceKind,
    InvoiceLineKind,
    LedgerKind,
    LineKind,
    PaymentStatement,
    PaymentStatementLine,
)
from .errors import ClosingTooEarly, MonthOrderError
from .fees import fee_lines, fee_terms_for
from .invoicing import actor_label, agency_profile, invoice_issue
from .ledger import ledger_append

# --- the month row ----------------------------------------------------------------------------------------


def billing_month_get(period: dt.date) -> BillingMonth:
    """The month's row, created with its cut-off when first needed (the cut-off is then fixed)."""
    period = calendar.month_start(period)
    month = BillingMonth.objects.filter(period=period).first()
    if month is not None:
        return month
    try:
        with transaction.atomic():
            return BillingMonth.objects.create(period=period, cutoff_at=calendar.cutoff_for(period))
    except IntegrityError:  # created concurrently
        return BillingMonth.objects.get(period=period)


def _check_order(month: BillingMonth) -> None:
    last = BillingMonth.objects.filter(status=BillingMonthStatus.CLOSED).order_by("-period").first()
    if last is None:
        return
    expected = calendar.next_month(last.period)
    if month.period < last.period:
        raise MonthOrderError(_("%(month)s より後の月（%(last)s）が締め済みのため、締められません。") % {
            "month": month.label, "last": last.label,
        })
    if month.period != expected:
        raise MonthOrderError(_("先に %(expected)s を締めてください。") % {"expected": calendar.period_label(expected)})


# --- summaries ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InsurerSummary:
    number: str
    name: str
    statement_id: int | None
    statement_number: str
    claims_total: int
    record_count: int
    late_count: int
    return_count: int
    invoice_id: int | None
    invoice_number: str
    invoice_total: int
    checkups_charged: int


@dataclass(frozen=True)
class InstitutionSummary:
    number: str
    name: str
    payment_statement_id: int
    payment_statement_number: str
    payment_total: int
    record_count: int


@dataclass(frozen=True)
class ClosingResult:
    period: str
    closed_now: bool
    status: str
    cutoff_at: str
    frozen_at: str | None
    insurers: list[InsurerSummary] = field(default_factory=list)
    institutions: list[InstitutionSummary] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def closing_summary(month: BillingMonth, *, closed_now: bool = False) -> ClosingResult:
    """What a closed month made, per insurer and per institution, read from its frozen rows."""
    statements = {s.insurer_id: s for s in month.claims_statements.select_related("insurer")}
    invoices = {
        i.insurer_id: i
        for i in Invoice.objects.filter(month=month, kind=InvoiceKind.INVOICE).select_related("insurer").prefetch_related("lines")
    }
    insurers: list[InsurerSummary] = []
    for insurer in Insurer.objects.filter(pk__in={*statements, *invoices}).order_by("number"):
        statement = statements.get(insurer.pk)
        invoice = invoices.get(insurer.pk)
        charged = sum(line.quantity for line in invoice.lines.all() if line.kind == InvoiceLineKind.PER_CHECKUP) if invoice else 0
        insurers.append(
            InsurerSummary(
                number=insurer.number,
                name=insurer.name,
                statement_id=statement.pk if statement else None,
                statement_number=statement.number if statement else "",
                claims_total=statement.total if statement else 0,
                record_count=statement.record_count if statement else 0,
                late_count=statement.late_count if statement else 0,
                return_count=statement.return_count if statement else 0,
                invoice_id=invoice.pk if invoice else None,
                invoice_number=(invoice.number or "") if invoice else "",
                invoice_total=invoice.total if invoice else 0,
                checkups_charged=charged,
            )
        )
    institutions = [
        InstitutionSummary(
            number=p.institution_number,
            name=p.institution_name,
            payment_statement_id=p.pk,
            payment_statement_number=p.number,
            payment_total=p.total,
            record_count=p.record_count,
        )
        for p in month.payment_statements.order_by("institution_number")
    ]
    return ClosingResult(
        period=month.label,
        closed_now=closed_now,
        status=month.status,
        cutoff_at=timezone.localtime(month.cutoff_at).isoformat(),
        frozen_at=timezone.localtime(month.frozen_at).isoformat() if month.frozen_at else None,
        insurers=insurers,
        institutions=institutions,
    )


# --- what a month collects ---------------------------------------------------------------------------------------


def _unbilled_records(month: BillingMonth) -> Any:
    """Accepted records not billed yet that belong to ``month`` or earlier and were accepted by its cut-off."""
    next_start = calendar.next_month(month.period)
    _start, next_start_at = calendar.month_bounds(month.period)
    billed = ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM, record=OuterRef("pk"))
    return (
        Record.objects.filter(
            status=RecordStatus.ACCEPTED,
            kind__in=BILLED_KINDS,  # results only and 事業者健診等 are never billed as claims
            insurer__isnull=False,
            checked_at__isnull=False,
            checked_at__lte=month.cutoff_at,
        )
        .filter(Q(checkup_date__lt=next_start) | Q(checkup_date__isnull=True, checked_at__lt=next_start_at))
        .exclude(Exists(billed))
    )


def _delivered(month: BillingMonth) -> Any:
    return Exists(DeliveryItem.objects.filter(record=OuterRef("pk"), delivery__created_at__lte=month.cutoff_at))


def billable_records(month: BillingMonth) -> Any:
    """Unbilled records of ``month`` or earlier, accepted and delivered to their insurer by its cut-off."""
    return _unbilled_records(month).filter(_delivered(month))


def held_records(month: BillingMonth) -> Any:
    """Unbilled records of ``month`` or earlier accepted by its cut-off but not delivered to their insurer yet."""
    return _unbilled_records(month).exclude(_delivered(month))


def held_reason(*, insurer_active: bool) -> str:
    if not insurer_active:
        return _("保険者が無効のため、保険者への送付を停止しています（送付後の月に請求します）")
    return _("締め日時までに保険者へ送付（振分）していないため、送付後の月に請求します")


def deductible_returns(month: BillingMonth) -> Any:
    """過誤 of records billed in an earlier month, returned by the cut-off and not deducted yet."""
    claim = ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM, record=OuterRef("record_id"))
    return (
        InsurerReturn.objects.filter(returned_at__lte=month.cutoff_at)
        .exclude(Exists(ClaimsStatementLine.objects.filter(insurer_return=OuterRef("pk"))))
        .filter(Exists(claim))
        .annotate(
            billed_amount=Subquery(claim.values("amount")[:1]),
            billed_insurer_id=Subquery(claim.values("statement__insurer_id")[:1]),
        )
    )


def pending_adjustments(month: BillingMonth) -> Any:
    return ClaimAdjustment.objects.filter(created_at__lte=month.cutoff_at).exclude(
        Exists(ClaimsStatementLine.objects.filter(adjustment=OuterRef("pk")))
    )


def chargeable_items(month: BillingMonth, insurer: Insurer, kinds: Any = (RecordKind.CHECKUP,)) -> Any:
    """Checkups (of ``kinds``) delivered to ``insurer`` by the end of the month and not charged a
    per-checkup fee yet (the checkups of a person and 年度 already charged are left out by `fee_items`)."""
    _start, end = calendar.month_bounds(month.period)
    return DeliveryItem.objects.filter(delivery__insurer=insurer, delivery__created_at__lt=end, record__kind__in=kinds).exclude(
        Exists(FeeChargedItem.objects.filter(delivery_item=OuterRef("pk")))
    )


def fee_items(month: BillingMonth, insurer: Insurer, *, other_checkups: bool = False) -> list[int]:
    """The delivery items to charge the per-checkup fee for: one per person and 年度 (the first
    delivered), each charged once, whatever the month; a corrected record that replaces a returned
    one is the same 特定健診. Results only and 事業者健診等 count when ``other_checkups`` (the insurer's
    terms).

    Two queries whatever the number of checkups: the items not charged yet, and the persons and 年度
    already charged to the insurer in the 年度 among them (a correlated subquery per item instead
    made the close quadratic when the planner misjudged fresh tables)."""
    kinds = CHECKUP_KINDS if other_checkups else (RecordKind.CHECKUP,)
    candidates = list(
        chargeable_items(month, insurer, kinds)
        .order_by("delivery__created_at", "pk")
        .values_list("pk", "record__person_key", "record__fiscal_year")
    )
    years = {year for _pk, key, year in candidates if key and year is not None}
    seen: set[tuple[str, int | None]] = set(
        FeeChargedItem.objects.filter(
            delivery_item__delivery__insurer=insurer,
            delivery_item__record__kind__in=CHECKUP_KINDS,
            delivery_item__record__fiscal_year__in=years,
        )
        .exclude(delivery_item__record__person_key="")
        .values_list("delivery_item__record__person_key", "delivery_item__record__fiscal_year")
        .distinct()
    ) if years else set()
    charged: list[int] = []
    for pk, key, year in candidates:
        if key and year is not None:
            if (key, year) in seen:
                continue
            seen.add((key, year))
        charged.append(pk)
    return charged


def guidance_fee_items(month: BillingMonth, insurer: Insurer) -> list[int]:
    """The guidance parts (開始時, 実績評価時, …) delivered to ``insurer`` by the end of the month and not
    charged yet: each one unit of the per-guidance fee."""
    _start, end = calendar.month_bounds(month.period)
    return list(
        DeliveryItem.objects.filter(delivery__insurer=insurer, delivery__created_at__lt=end, record__kind=RecordKind.GUIDANCE)
        .exclude(Exists(FeeChargedItem.objects.filter(delivery_item=OuterRef("pk"))))
        .order_by("delivery__created_at", "pk")
        .values_list("pk", flat=True)
    )


# --- closing -----------------------------------------------------------------------------------------------------


class _Line(NamedTuple):
    """A new line of the month, before its statement exists (saved by ``rows_insert``, no model per line)."""

    kind: str
    institution_id: int
    record_id: int | None
    insurer_return_id: int | None
    adjustment_id: int | None
    amount: int
    ticket_number: str
    checkup_date: dt.date | None
    service_month: dt.date | None
    accepted_at: dt.datetime | None
    late: bool
    note: str


LINE_FIELDS = ("statement", *_Line._fields)


def _pending_lines(month: BillingMonth) -> dict[int, list[_Line]]:
    """The new lines of the month per insurer id (not saved yet), read with one query per kind."""
    lines: dict[int, list[_Line]] = defaultdict(list)
    claim, held = LineKind.CLAIM.value, LineKind.HELD.value
    months: dict[dt.date, dt.date | None] = {}  # 実施年月 by checkup date: a month's records share few dates

    def served_in(checkup_date: dt.date | None, checked_at: dt.datetime | None) -> dt.date | None:
        if checkup_date is None:
            return calendar.service_month(None, checked_at)
        if checkup_date not in months:
            months[checkup_date] = calendar.service_month(checkup_date, checked_at)
        return months[checkup_date]

    for pk, insurer_id, institution_id, amount, ticket, checkup_date, checked_at in (
        billable_records(month)
        .order_by("insurer_id", "institution_id", "checked_at", "pk")
        .values_list("pk", "insurer_id", "institution_id", "claim_amount", "ticket_number", "checkup_date", "checked_at")
        .iterator(chunk_size=5_000)
    ):
        served = served_in(checkup_date, checked_at)
        lines[insurer_id].append(_Line(
            claim, institution_id, pk, None, None, amount, ticket, checkup_date, served, checked_at,
            served is not None and served < month.period, "",
        ))
    reasons = {active: held_reason(insurer_active=active)[:200] for active in (True, False)}
    for pk, insurer_id, active, institution_id, ticket, checkup_date, checked_at in (
        held_records(month)
        .order_by("insurer_id", "institution_id", "checked_at", "pk")
        .values_list("pk", "insurer_id", "insurer__is_active", "institution_id", "ticket_number", "checkup_date", "checked_at")
        .iterator(chunk_size=5_000)
    ):
        lines[insurer_id].append(_Line(
            held, institution_id, pk, None, None, 0, ticket, checkup_date, served_in(checkup_date, checked_at),
            checked_at, False, reasons[bool(active)],
        ))
    for returned in deductible_returns(month).select_related("record").order_by("returned_at", "pk"):
        record = returned.record
        lines[returned.billed_insurer_id].append(_Line(
            LineKind.RETURN.value, record.institution_id, record.pk, returned.pk, None, -returned.billed_amount,
            record.ticket_number, record.checkup_date, calendar.service_month(record.checkup_date, record.checked_at),
            record.checked_at, False, returned.get_reason_display()[:200],
        ))
    for adjustment in pending_adjustments(month).order_by("created_at", "pk"):
        lines[adjustment.insurer_id].append(_Line(
            LineKind.ADJUSTMENT.value, adjustment.institution_id, None, None, adjustment.pk, adjustment.amount,
            "", None, None, None, False, adjustment.reason[:200],
        ))
    return lines


def _sums(lines: list[_Line]) -> dict[str, int]:
    totals = {"record_count": 0, "return_count": 0, "claims_total": 0, "returns_total": 0, "adjustments_total": 0, "total": 0}
    for line in lines:
        kind = line.kind
        if kind == LineKind.CLAIM:
            totals["record_count"] += 1
            totals["claims_total"] += line.amount
        elif kind == LineKind.RETURN:
            totals["return_count"] += 1
            totals["returns_total"] += line.amount
        elif kind == LineKind.ADJUSTMENT:
            totals["adjustments_total"] += line.amount
        totals["total"] += line.amount
    return totals


def _close_claims(month: BillingMonth, frozen_at: dt.datetime) -> list[ClaimsStatement]:
    pending = _pending_lines(month)
    issuer = agency_profile().name
    stamp = f"{month.period:%Y%m}"
    statements: list[ClaimsStatement] = []
    parts: dict[int, list[tuple[ClaimsStatement, list[_Line]]]] = defaultdict(list)
    for insurer in Insurer.objects.filter(pk__in=pending).order_by("number"):
        lines = pending[insurer.pk]
        statement = ClaimsStatement(
            month=month,
            insurer=insurer,
            number=f"C{stamp}-{insurer.number}",
            insurer_number=insurer.number,
            insurer_name=insurer.name,
            issuer_name=issuer,
            late_count=sum(1 for line in lines if line.late),
            frozen_at=frozen_at,
            **_sums(lines),
        )
        statement.save(force_insert=True)
        rows_insert(ClaimsStatementLine, LINE_FIELDS, ((statement.pk, *line) for line in lines))
        statements.append(statement)
        by_institution: dict[int, list[_Line]] = defaultdict(list)
        for line in lines:
            if line.kind != LineKind.HELD:  # nothing to pay on a held record
                by_institution[line.institution_id].append(line)
        for institution_id, institution_lines in by_institution.items():
            parts[institution_id].append((statement, institution_lines))
    for institution in Institution.objects.filter(pk__in=parts).order_by("number"):
        all_lines = [line for _statement, lines in parts[institution.pk] for line in lines]
        totals = _sums(all_lines)
        payment = PaymentStatement(
            month=month,
            institution=institution,
            number=f"P{stamp}-{institution.number}",
            institution_number=institution.number,
            institution_name=institution.name,
            issuer_name=issuer,
            frozen_at=frozen_at,
            **totals,
        )
        payment.save(force_insert=True)
        for statement, lines in parts[institution.pk]:
            part_totals = _sums(lines)
            part = PaymentStatementLine(
                payment_statement=payment,
                claims_statement=statement,
                insurer_id=statement.insurer_id,
                institution=institution,
                **part_totals,
            )
            part.save(force_insert=True)
            ledger_append(
                kind=LedgerKind.CLAIMS_BILLED,
                amount=part.total,
                occurred_at=frozen_at,
                month=month,
                insurer_id=statement.insurer_id,
                institution=institution,
                claims_statement=statement,
                statement_part=part,
                memo=statement.number,
            )
    return statements


def _close_fees(month: BillingMonth, frozen_at: dt.datetime, actor: Any, request: HttpRequest | None) -> list[Invoice]:
    profile = agency_profile()
    last_day = calendar.next_month(month.period) - dt.timedelta(days=1)
    issued: list[Invoice] = []
    for insurer in Insurer.objects.filter(contract_start__lt=calendar.next_month(month.period)).order_by("number"):
        if Invoice.objects.filter(insurer=insurer, month=month, kind=InvoiceKind.INVOICE).exists():
            continue
        terms = fee_terms_for(insurer, profile)
        items = fee_items(month, insurer, other_checkups=terms.other_checkups)
        guidance = guidance_fee_items(month, insurer) if terms.per_guidance else []
        if not insurer.is_active and not items and not guidance:
            continue
        specs = fee_lines(insurer=insurer, period=month.period, delivered=len(items), terms=terms, guidance=len(guidance))
        if not specs:
            continue
        invoice = invoice_issue(
            insurer=insurer,
            lines=specs,
            period_start=month.period,
            period_end=last_day,
            month=month,
            issue_date=timezone.localdate(frozen_at),
            actor=actor,
            request=request,
        )
        for kind, charged in ((InvoiceLineKind.PER_CHECKUP, items), (InvoiceLineKind.PER_GUIDANCE, guidance)):
            line = invoice.lines.filter(kind=kind).first()
            if charged and line is not None:
                rows_insert(FeeChargedItem, ("delivery_item", "invoice_line"), ((pk, line.pk) for pk in charged))
        issued.append(invoice)
    return issued


def month_close_check(*, period: dt.date, now: dt.datetime | None = None) -> BillingMonth:
    """The month, if it is closed or may be closed now; otherwise the reason as a ``BillingError``."""
    now = now or timezone.now()
    month = billing_month_get(period)
    if month.is_closed:
        return month
    if now < month.cutoff_at:
        raise ClosingTooEarly(_("%(month)s の締め日時（%(cutoff)s）より前は締められません。") % {
            "month": month.label, "cutoff": timezone.localtime(month.cutoff_at).strftime("%Y-%m-%d %H:%M"),
        })
    _check_order(month)
    return month


def month_close(
    *, period: dt.date, actor: Any = None, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> ClosingResult:
    """Close billing month ``period`` (safe to run twice: a closed month is returned as it is)."""
    now = now or timezone.now()
    month = billing_month_get(period)
    with transaction.atomic():
        month = BillingMonth.objects.select_for_update().get(pk=month.pk)
        if month.is_closed:
            return closing_summary(month, closed_now=False)
        month_close_check(period=month.period, now=now)
        statements = _close_claims(month, now)
        invoices = _close_fees(month, now, actor, request)
        BillingMonth.objects.filter(pk=month.pk, status=BillingMonthStatus.OPEN).update(
            status=BillingMonthStatus.CLOSED,
            frozen_at=now,
            closed_by=actor if isinstance(actor, User) else None,
            closed_label=actor_label(actor),
        )
        month.refresh_from_db()
        summary = closing_summary(month, closed_now=True)
        audit_record(
            action="billing.month.closed",
            actor=actor if isinstance(actor, User) else None,
            actor_label="" if isinstance(actor, User) else "system",
            request=request,
            object_type="billing_month",
            object_ids=[month.label],
            detail={
                "cutoff_at": summary.cutoff_at,
                "statements": len(statements),
                "claims_total": sum(s.total for s in statements),
                "invoices": [i.number for i in invoices],
                "payment_statements": len(summary.institutions),
            },
        )
    return summary


def months_due(now: dt.datetime | None = None) -> list[dt.date]:
    """Months whose cut-off has passed and that are not closed yet, oldest first (in closing order)."""
    now = now or timezone.now()
    latest = calendar.latest_due_period(now)
    if latest is None:
        return []
    last = BillingMonth.objects.filter(status=BillingMonthStatus.CLOSED).order_by("-period").first()
    first = calendar.next_month(last.period) if last is not None else latest
    due: list[dt.date] = []
    period = first
    while period <= latest:
        due.append(period)
        period = calendar.next_month(period)
    return due


def months_close_due(*, now: dt.datetime | None = None, actor: Any = None) -> list[ClosingResult]:
    """Close every due month in order (the periodic job)."""
    return [month_close(period=period, actor=actor, now=now) for period in months_due(now)]
