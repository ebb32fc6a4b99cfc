"""Reads of billing data, scoped to what the user may see, and the balances derived from the ledger.

Nothing here is stored as a total that could be edited: what an insurer has paid, what a statement
still lacks and what an institution is owed are sums over ledger rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from agency.models import Institution, Insurer, Role
from intake.models import Record, RecordStatus

from .calendar import month_start
from .models import (
    BillingMonth,
    ClaimsStatement,
    ClaimsStatementLine,
    FeeChargedItem,
    InsurerPayment,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    PaymentStatement,
    PaymentStatementLine,
    TransferBatch,
)

# --- lists, per user ------------------------------------------------------------------------------------


def billing_month_list() -> QuerySet[BillingMonth]:
    return BillingMonth.objects.order_by("-period")


def claims_statement_list(*, user: Any) -> QuerySet[ClaimsStatement]:
    qs = ClaimsStatement.objects.select_related("month", "insurer")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def invoice_list(*, user: Any) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(status=InvoiceStatus.ISSUED).select_related("month", "insurer", "refers")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def payment_statement_list(*, user: Any) -> QuerySet[PaymentStatement]:
    qs = PaymentStatement.objects.select_related("month", "institution")
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.none()
    return qs


def insurer_payment_list(*, user: Any) -> QuerySet[InsurerPayment]:
    qs = InsurerPayment.objects.select_related("insurer", "claims_statement", "invoice", "reverses")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def transfer_batch_list(*, user: Any) -> QuerySet[TransferBatch]:
    qs = TransferBatch.objects.select_related("month")
    if user.role in (Role.INSURER_STAFF, Role.INSTITUTION_STAFF):
        return qs.none()
    return qs


def statement_lines(statement: ClaimsStatement, *, institution: Institution | None = None) -> QuerySet[ClaimsStatementLine]:
    qs = statement.lines.select_related("institution", "record__submission", "insurer_return", "adjustment").order_by(
        "institution__number", "kind", "accepted_at", "pk"
    )
    if institution is not None:
        qs = qs.filter(institution=institution)
    return qs


def statement_parts(statement: ClaimsStatement) -> QuerySet[PaymentStatementLine]:
    """The per-institution breakdown of a claims statement."""
    return statement.parts.select_related("institution", "payment_statement").order_by("institution__number")


def payment_statement_parts(payment: PaymentStatement) -> QuerySet[PaymentStatementLine]:
    return payment.lines.select_related("insurer", "claims_statement").order_by("insurer__number")


def payment_statement_lines(payment: PaymentStatement) -> QuerySet[ClaimsStatementLine]:
    """The records behind a payment statement (the institution's own lines in each insurer statement)."""
    return ClaimsStatementLine.objects.filter(
        statement__in=payment.lines.values("claims_statement"), institution_id=payment.institution_id
    ).select_related("statement", "record__submission").order_by("statement__insurer_number", "kind", "accepted_at", "pk")


# --- balances, derived from the ledger ------------------------------------------------------------------


def _sum(qs: QuerySet[LedgerEntry]) -> int:
    return int(qs.aggregate(total=Sum("amount"))["total"] or 0)


def statement_paid(statement_ids: Iterable[int]) -> dict[int, int]:
    """Amount received against each claims statement."""
    rows = (
        LedgerEntry.objects.filter(kind=LedgerKind.PAYMENT_RECEIVED, claims_statement_id__in=list(statement_ids))
        .values("claims_statement_id")
        .annotate(paid=Sum("amount"))
    )
    return {row["claims_statement_id"]: int(row["paid"] or 0) for row in rows}


def invoice_paid(invoice_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        LedgerEntry.objects.filter(kind=LedgerKind.PAYMENT_RECEIVED, invoice_id__in=list(invoice_ids))
        .values("invoice_id")
        .annotate(paid=Sum("amount"))
    )
    return {row["invoice_id"]: int(row["paid"] or 0) for row in rows}


def statement_settled(statement: ClaimsStatement, paid: int | None = None) -> bool:
    """A statement is settled once what was received covers its total (a total of 0 or less is settled)."""
    if paid is None:
        paid = statement_paid([statement.pk]).get(statement.pk, 0)
    return paid >= statement.total


def settled_statement_ids(statements: QuerySet[ClaimsStatement]) -> set[int]:
    rows = list(statements.values("pk", "total"))
    paid = statement_paid(row["pk"] for row in rows)
    return {row["pk"] for row in rows if paid.get(row["pk"], 0) >= row["total"]}


def invoice_outstanding(invoice: Invoice) -> int:
    """What is still to be paid on a fee invoice: its total, less its credit note, less payments."""
    if invoice.kind != InvoiceKind.INVOICE:
        return 0
    credited = _sum(LedgerEntry.objects.filter(kind=LedgerKind.CREDIT_NOTE, invoice__refers=invoice))
    return invoice.total + credited - invoice_paid([invoice.pk]).get(invoice.pk, 0)


@dataclass(frozen=True)
class InsurerBalance:
    claims_billed: int
    claims_received: int
    fees_invoiced: int
    fees_received: int

    @property
    def claims_outstanding(self) -> int:
        return self.claims_billed - self.claims_received

    @property
    def fees_outstanding(self) -> int:
        return self.fees_invoiced - self.fees_received


def insurer_balance(insurer: Insurer) -> InsurerBalance:
    entries = LedgerEntry.objects.filter(insurer=insurer)
    return InsurerBalance(
        claims_billed=_sum(entries.filter(kind=LedgerKind.CLAIMS_BILLED)),
        claims_received=_sum(entries.filter(kind=LedgerKind.PAYMENT_RECEIVED, claims_statement__isnull=False)),
        fees_invoiced=_sum(entries.filter(kind__in=[LedgerKind.FEE_INVOICED, LedgerKind.CREDIT_NOTE])),
        fees_received=_sum(entries.filter(kind=LedgerKind.PAYMENT_RECEIVED, invoice__isnull=False)),
    )


def institution_balance(institution: Institution) -> int:
    """What the agency still owes an institution: its parts billed, less what was transferred."""
    entries = LedgerEntry.objects.filter(institution=institution)
    return _sum(entries.filter(kind=LedgerKind.CLAIMS_BILLED)) - _sum(entries.filter(kind=LedgerKind.TRANSFER))


def part_transfer_status(parts: Iterable[PaymentStatementLine]) -> dict[int, str]:
    """Per statement part: "transferred", "payable" (its insurer statement is settled) or "awaiting"."""
    parts = list(parts)
    paid = statement_paid({part.claims_statement_id for part in parts})
    status: dict[int, str] = {}
    for part in parts:
        if hasattr(part, "transfer_item"):
            status[part.pk] = "transferred"
        elif paid.get(part.claims_statement_id, 0) >= part.claims_statement.total:
            status[part.pk] = "payable"
        else:
            status[part.pk] = "awaiting"
    return status


@dataclass(frozen=True)
class OpenItem:
    key: str  # "statement:<id>" or "invoice:<id>"
    label: str
    insurer: Insurer
    outstanding: int


def open_items() -> list[OpenItem]:
    """Claims statements and fee invoices not fully paid (for recording a payment)."""
    items: list[OpenItem] = []
    statements = list(ClaimsStatement.objects.select_related("insurer").order_by("-month__period", "insurer_number"))
    paid = statement_paid(s.pk for s in statements)
    for statement in statements:
        outstanding = statement.total - paid.get(statement.pk, 0)
        if outstanding > 0:
            items.append(OpenItem(f"statement:{statement.pk}", f"{statement.number} {statement.insurer_name}", statement.insurer, outstanding))
    for invoice in Invoice.objects.filter(status=InvoiceStatus.ISSUED, kind=InvoiceKind.INVOICE).select_related("insurer").order_by("-sequence"):
        outstanding = invoice_outstanding(invoice)
        if outstanding > 0:
            items.append(OpenItem(f"invoice:{invoice.pk}", f"{invoice.number} {invoice.recipient_name}", invoice.insurer, outstanding))
    return items


# --- reconciliation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    lines_total: int
    statements_total: int
    parts_total: int
    payment_statements_total: int
    ledger_claims_total: int
    checkups_charged: int
    charged_items: int
    invoices_total: int
    ledger_fees_total: int

    @property
    def balanced(self) -> bool:
        return (
            self.lines_total == self.statements_total == self.parts_total == self.payment_statements_total == self.ledger_claims_total
            and self.checkups_charged == self.charged_items
            and self.invoices_total == self.ledger_fees_total
        )


def month_reconciliation(month: BillingMonth) -> Reconciliation:
    """Σ statement lines = statement totals = parts = payment statements = ledger; fee counts = charged items."""
    invoices = Invoice.objects.filter(month=month, status=InvoiceStatus.ISSUED, kind=InvoiceKind.INVOICE)
    return Reconciliation(
        lines_total=int(ClaimsStatementLine.objects.filter(statement__month=month).aggregate(s=Sum("amount"))["s"] or 0),
        statements_total=int(month.claims_statements.aggregate(s=Sum("total"))["s"] or 0),
        parts_total=int(PaymentStatementLine.objects.filter(payment_statement__month=month).aggregate(s=Sum("total"))["s"] or 0),
        payment_statements_total=int(month.payment_statements.aggregate(s=Sum("total"))["s"] or 0),
        ledger_claims_total=_sum(LedgerEntry.objects.filter(month=month, kind=LedgerKind.CLAIMS_BILLED)),
        checkups_charged=int(
            InvoiceLine.objects.filter(invoice__in=invoices, kind=InvoiceLineKind.PER_CHECKUP).aggregate(s=Sum("quantity"))["s"] or 0
        ),
        charged_items=FeeChargedItem.objects.filter(invoice_line__invoice__in=invoices).count(),
        invoices_total=int(invoices.aggregate(s=Sum("total"))["s"] or 0),
        ledger_fees_total=_sum(LedgerEntry.objects.filter(month=month, kind=LedgerKind.FEE_INVOICED)),
    )



# --- months: which have data, and what one holds ----------------------------------------------------------------


def months_with_data() -> list[dt.date]:
    """Billing months people may pick: every month with a row, and every month in which an accepted checkup
    took place (up to this month), newest first."""
    today = timezone.localdate()
    periods = set(BillingMonth.objects.values_list("period", flat=True))
    checkups = (
        Record.objects.filter(status=RecordStatus.ACCEPTED, insurer__isnull=False, checkup_date__isnull=False)
        .order_by().annotate(month=TruncMonth("checkup_date")).values_list("month", flat=True).distinct()
    )
    periods.update(month_start(m if isinstance(m, dt.date) else m.date()) for m in checkups if m is not None)
    return sorted((p for p in periods if p <= month_start(today)), reverse=True)


def late_lines(month: BillingMonth) -> QuerySet[ClaimsStatementLine]:
    """月遅れ: checkups of earlier months billed in ``month`` (accepted after their own month's cut-off)."""
    return ClaimsStatementLine.objects.filter(statement__month=month, late=True).select_related(
        "statement__insurer", "institution", "record__submission"
    ).order_by("service_month", "statement__insurer__number", "pk")
