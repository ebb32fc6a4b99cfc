"""Documents of billing: invoices, claims statements and payment statements as PDF and CSV.

Everything is rendered from the frozen rows (the invoice's snapshot, the statements' lines), so a
document downloaded again is the same document. PDFs are made by ``core.pdf.render_pdf`` from the
templates under ``templates/billing/pdf/``, in the bundled Japanese font; nothing is fetched.
CSV files are UTF-8 with a byte-order mark and CRLF line ends, so that spreadsheet programs open
them as Japanese text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from core.pdf import render_pdf

from .calendar import period_label
from .models import ClaimsStatement, Invoice, LineKind, PaymentStatement
from .selectors import payment_statement_lines, payment_statement_parts, statement_lines, statement_parts

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text cells (names and notes come from outside)."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([value if isinstance(value, int) else _text_cell(str(value)) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _moment(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- invoices ---------------------------------------------------------------------------------------------


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "lines": list(invoice.lines.order_by("position")),
        "tax_totals": list(invoice.tax_totals.order_by("-rate")),
        "credit_note": Invoice.objects.filter(refers=invoice).first(),
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    return render_pdf("billing/pdf/invoice.html", invoice_context(invoice))


def invoice_csv(invoice: Invoice) -> bytes:
    header = [_("請求書番号"), _("種類"), _("発行日"), _("登録番号"), _("発行者"), _("宛先"), _("行"), _("区分"), _("品目"),
              _("数量"), _("単価（税込）"), _("金額（税込）"), _("税率（%）")]
    head = [invoice.number or "", invoice.get_kind_display(), _date(invoice.issue_date), invoice.registration_number,
            invoice.issuer_name, invoice.recipient_name]
    rows: list[list[Any]] = [
        [*head, line.position, line.get_kind_display(), line.description, line.quantity, line.unit_price, line.amount, line.tax_rate]
        for line in invoice.lines.order_by("position")
    ]
    for total in invoice.tax_totals.order_by("-rate"):
        rows.append([*head, "", _("%(rate)d%%対象 合計") % {"rate": total.rate}, "", "", "", total.total, total.rate])
        rows.append([*head, "", _("%(rate)d%%対象 消費税額") % {"rate": total.rate}, str(invoice.rounding_note), "", "", total.tax, total.rate])
    rows.append([*head, "", _("合計（税込）"), "", "", "", invoice.total, ""])
    return _csv(header, rows)


# --- claims statements --------------------------------------------------------------------------------------


def statement_context(statement: ClaimsStatement) -> dict[str, Any]:
    return {
        "statement": statement,
        "month_label": period_label(statement.month.period),
        "parts": list(statement_parts(statement)),
        "lines": list(statement_lines(statement)),
    }


def statement_pdf(statement: ClaimsStatement) -> bytes:
    return render_pdf("billing/pdf/claims_statement.html", statement_context(statement))


STATEMENT_COLUMNS = ("請求書番号", "請求年月", "保険者番号", "機関番号", "機関名", "区分", "受診券整理番号", "健診実施日",
                     "実施年月", "受理日時", "月遅れ", "金額", "摘要")


def statement_csv(statement: ClaimsStatement) -> bytes:
    label = period_label(statement.month.period)
    kinds = {value: str(name) for value, name in LineKind.choices}  # translated once, not once a line
    late = _("月遅れ")
    rows = [
        [statement.number, label, statement.insurer_number, line.institution.number, line.institution.name,
         kinds.get(line.kind, line.kind), line.ticket_number, _date(line.checkup_date),
         period_label(line.service_month) if line.service_month else "", _moment(line.accepted_at),
         late if line.late else "", line.amount, line.note]
        # Only the lines and their institutions: the records, returns and adjustments the page shows are not columns here.
        for line in statement_lines(statement).select_related(None).select_related("institution")
    ]
    return _csv([_(column) for column in STATEMENT_COLUMNS], rows)


# --- payment statements -------------------------------------------------------------------------------------


def payment_statement_context(payment: PaymentStatement) -> dict[str, Any]:
    return {
        "payment": payment,
        "month_label": period_label(payment.month.period),
        "parts": list(payment_statement_parts(payment)),
        "lines": list(payment_statement_lines(payment)),
    }


def payment_statement_pdf(payment: PaymentStatement) -> bytes:
    return render_pdf("billing/pdf/payment_statement.html", payment_statement_context(payment))


PAYMENT_COLUMNS = ("支払通知番号", "請求年月", "機関番号", "保険者番号", "保険者名", "費用請求書番号", "区分", "受診券整理番号",
                   "健診実施日", "受理日時", "月遅れ", "金額", "摘要")


def payment_statement_csv(payment: PaymentStatement) -> bytes:
    label = period_label(payment.month.period)
    rows = [
        [payment.number, label, payment.institution_number, line.statement.insurer_number, line.statement.insurer_name,
         line.statement.number, line.get_kind_display(), line.ticket_number, _date(line.checkup_date),
         _moment(line.accepted_at), _("月遅れ") if line.late else "", line.amount, line.note]
        for line in payment_statement_lines(payment)
    ]
    return _csv([_(column) for column in PAYMENT_COLUMNS], rows)


# --- the lists people filter, as CSV ------------------------------------------------------------------------------

STATEMENT_LIST_COLUMNS = ("請求書番号", "請求年月", "保険者番号", "保険者名", "件数", "うち月遅れ", "過誤件数", "請求額", "過誤調整額",
                          "その他の調整額", "請求合計", "入金済", "状態")
INVOICE_LIST_COLUMNS = ("請求書番号", "種類", "請求年月", "保険者番号", "宛先", "発行日", "お支払期限", "合計（税込）", "うち消費税",
                        "未入金", "取消対象の請求書")
PAYMENT_STATEMENT_LIST_COLUMNS = ("支払通知番号", "請求年月", "機関番号", "機関名", "件数", "過誤件数", "請求額", "過誤調整額",
                                  "その他の調整額", "支払予定額")
PAYMENT_LIST_COLUMNS = ("入金日", "保険者番号", "保険者名", "対象", "登録方法", "振込依頼人", "摘要", "入金額", "登録日時", "登録者")
TRANSFER_LIST_COLUMNS = ("作成日時", "請求年月", "取組日", "件数", "合計金額", "作成者")


def statement_list_csv(statements: Iterable[ClaimsStatement]) -> bytes:
    """Statements with ``paid`` and ``settled`` attached (as the list page shows them)."""
    rows = (
        [s.number, s.month.label, s.insurer_number, s.insurer_name, s.record_count, s.late_count, s.return_count,
         s.claims_total, s.returns_total, s.adjustments_total, s.total, getattr(s, "paid", 0),
         _("入金済") if getattr(s, "settled", False) else _("入金待ち")]
        for s in statements
    )
    return _csv([_(column) for column in STATEMENT_LIST_COLUMNS], rows)


def invoice_list_csv(invoices: Iterable[Invoice]) -> bytes:
    """Invoices with ``outstanding`` attached."""
    rows = (
        [i.number or "", i.get_kind_display(), i.month.label if i.month else "", i.recipient_number, i.recipient_name,
         _date(i.issue_date), _date(i.due_date), i.total, i.tax_total, getattr(i, "outstanding", 0),
         i.refers.number if i.refers and i.refers.number else ""]
        for i in invoices
    )
    return _csv([_(column) for column in INVOICE_LIST_COLUMNS], rows)


def payment_statement_list_csv(payments: Iterable[PaymentStatement]) -> bytes:
    rows = (
        [p.number, p.month.label, p.institution_number, p.institution_name, p.record_count, p.return_count, p.claims_total,
         p.returns_total, p.adjustments_total, p.total]
        for p in payments
    )
    return _csv([_(column) for column in PAYMENT_STATEMENT_LIST_COLUMNS], rows)


def insurer_payment_list_csv(payments: Iterable[Any]) -> bytes:
    rows = (
        [_date(p.received_on), p.insurer.number, p.insurer.name,
         p.claims_statement.number if p.claims_statement else (p.invoice.number or "" if p.invoice else ""),
         p.get_source_display(), p.payer_name, p.reference, p.amount, _moment(p.recorded_at), p.recorded_label]
        for p in payments
    )
    return _csv([_(column) for column in PAYMENT_LIST_COLUMNS], rows)


def transfer_list_csv(batches: Iterable[Any]) -> bytes:
    rows = (
        [_moment(b.created_at), b.month.label, _date(b.transfer_date), b.line_count, b.total_amount, b.created_label]
        for b in batches
    )
    return _csv([_(column) for column in TRANSFER_LIST_COLUMNS], rows)
