"""Qualified invoices: tax per rate, immutability (Python and database), credit notes, gap-free numbers."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction

from billing import documents, selectors
from billing.models import (
    Invoice,
    InvoiceImmutable,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceTaxTotal,
    LedgerEntry,
    LedgerKind,
)
from billing.services import InvoiceNotCancellable, LineSpec, invoice_cancel, invoice_issue

from ..factories import InsurerFactory

LINES = [
    LineSpec(InvoiceLineKind.INITIAL, "初期費用", 1, 200_000),
    LineSpec(InvoiceLineKind.FIXED, "固定費", 1, 200_000),
    LineSpec(InvoiceLineKind.PER_CHECKUP, "従量料金", 3, 3_500),
]


def _issue(insurer: Any, lines: list[LineSpec] = LINES) -> Invoice:
    return invoice_issue(insurer=insurer, lines=lines, period_start=dt.date(2025, 2, 1), period_end=dt.date(2025, 2, 28),
                         issue_date=dt.date(2025, 3, 6))


@pytest.fixture
def invoice(profile: Any) -> Invoice:
    insurer = InsurerFactory(billing_address="東京都港区1-1", billing_department="保健事業課", billing_contact_name="請求担当")
    return _issue(insurer)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_an_invoice_carries_the_qualified_invoice_facts(invoice: Invoice) -> None:
    assert invoice.status == "issued" and invoice.number.startswith("INV-") and invoice.sequence >= 1
    assert invoice.registration_number == "T7123456789012"
    assert invoice.total == 410_500
    [ten] = invoice.tax_totals.all()
    assert (ten.rate, ten.total, ten.tax) == (10, 410_500, 37_318)  # floor(410500 × 10 / 110), once per rate
    assert invoice.tax_total == 37_318
    assert invoice.due_date == dt.date(2025, 4, 30)
    assert invoice.recipient_name == invoice.insurer.name
    assert LedgerEntry.objects.get(invoice=invoice).amount == 410_500


def test_the_pdf_shows_the_figures(invoice: Invoice) -> None:
    text = _pdf_text(documents.invoice_pdf(invoice))
    for expected in (invoice.number, "T7123456789012", "適格請求書", invoice.recipient_name, "410,500", "37,318",
                     "200,000", "10,500", "3,500", "2025年3月6日", "1円未満", "ホームネット株式会社"):
        assert expected in text, expected


def test_the_csv_lists_lines_and_totals(invoice: Invoice) -> None:
    text = documents.invoice_csv(invoice).decode("utf-8-sig")
    rows = text.split("\r\n")
    assert rows[0].startswith("請求書番号,")
    assert sum(1 for row in rows if row.startswith(invoice.number)) == 3 + 2 + 1
    assert "410500" in rows[-2] and "37318" in text


def test_an_issued_invoice_refuses_changes_in_python(invoice: Invoice) -> None:
    invoice.note = "changed"
    with pytest.raises(InvoiceImmutable):
        invoice.save()
    with pytest.raises(InvoiceImmutable):
        invoice.delete()
    line = invoice.lines.first()
    line.amount = 1
    with pytest.raises(InvoiceImmutable):
        line.save()
    with pytest.raises(InvoiceImmutable):
        InvoiceLine(invoice=invoice, position=9, kind="other", description="x", quantity=1, unit_price=1, amount=1).save()
    fresh = Invoice.objects.get(pk=invoice.pk)
    with pytest.raises(InvoiceImmutable):
        fresh.save()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE billing_invoice SET total = 1 WHERE id = %s",
        "UPDATE billing_invoice SET recipient_name = 'x' WHERE id = %s",
        "DELETE FROM billing_invoice WHERE id = %s",
        "UPDATE billing_invoiceline SET amount = 1, unit_price = 1 WHERE invoice_id = %s",
        "DELETE FROM billing_invoiceline WHERE invoice_id = %s",
        "UPDATE billing_invoicetaxtotal SET tax = 0 WHERE invoice_id = %s",
        "DELETE FROM billing_invoicetaxtotal WHERE invoice_id = %s",
        "INSERT INTO billing_invoiceline (invoice_id, position, kind, description, quantity, unit_price, amount, tax_rate)"
        " VALUES (%s, 9, 'other', 'x', 1, 1, 1, 10)",
        "INSERT INTO billing_invoicetaxtotal (invoice_id, rate, total, tax) VALUES (%s, 8, 1, 0)",
    ],
)
def test_the_database_refuses_edits_of_an_issued_invoice(invoice: Invoice, statement: str) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [invoice.pk])
    assert Invoice.objects.get(pk=invoice.pk).total == 410_500
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 3


def test_the_database_refuses_edits_through_the_orm(invoice: Invoice) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceTaxTotal.objects.filter(invoice=invoice).delete()


def test_a_credit_note_negates_the_lines(invoice: Invoice) -> None:
    credit = invoice_cancel(invoice=invoice, reason="契約開始日の誤り")
    assert credit.kind == InvoiceKind.CREDIT_NOTE and credit.refers_id == invoice.pk
    assert credit.sequence == invoice.sequence + 1
    original = list(invoice.lines.order_by("position"))
    negated = list(credit.lines.order_by("position"))
    assert [(line.quantity, line.unit_price, line.amount, line.refers_line_id) for line in negated] == [
        (line.quantity, -line.unit_price, -line.amount, line.pk) for line in original
    ]
    assert (credit.total, credit.tax_total) == (-invoice.total, -invoice.tax_total)
    assert LedgerEntry.objects.get(invoice=credit, kind=LedgerKind.CREDIT_NOTE).amount == -410_500
    assert selectors.invoice_outstanding(invoice) == 0
    text = _pdf_text(documents.invoice_pdf(credit))
    assert "適格返還請求書" in text and invoice.number in text and "-410,500" in text
    # the original is unchanged
    assert Invoice.objects.get(pk=invoice.pk).total == 410_500


def test_cancelling_twice_is_refused(invoice: Invoice) -> None:
    credit = invoice_cancel(invoice=invoice, reason="誤り")
    with pytest.raises(InvoiceNotCancellable):
        invoice_cancel(invoice=invoice, reason="もう一度")
    with pytest.raises(InvoiceNotCancellable):
        invoice_cancel(invoice=credit, reason="赤伝の取消")
    assert Invoice.objects.filter(refers=invoice).count() == 1
    # and the database would refuse a second credit note of the same invoice
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.create(
            kind=InvoiceKind.CREDIT_NOTE, refers=invoice, insurer=invoice.insurer, period_start=invoice.period_start,
            period_end=invoice.period_end, issuer_name="x", issuer_address="x", registration_number=invoice.registration_number,
            recipient_number=invoice.recipient_number, recipient_name="x", rounding_note="x",
        )


def test_numbers_are_sequential_without_gaps(profile: Any) -> None:
    insurer = InsurerFactory()
    issued = [_issue(insurer, [LineSpec(InvoiceLineKind.OTHER, "x", 1, n * 1_000)]) for n in range(1, 6)]
    invoice_cancel(invoice=issued[1], reason="x")
    with pytest.raises(ValueError, match="at least one line"), transaction.atomic():
        _issue(insurer, [])  # refused before a number is taken
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(sequences[0], sequences[0] + 6))
    assert [invoice.number for invoice in issued] == [f"INV-{s:07d}" for s in sequences[:5]]


def test_a_failed_issue_leaves_no_gap(profile: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    insurer = InsurerFactory()
    first = _issue(insurer)
    from billing.services import invoicing

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(invoicing, "ledger_append", boom)
    with pytest.raises(RuntimeError):
        _issue(insurer)
    monkeypatch.undo()
    second = _issue(insurer)
    assert second.sequence == first.sequence + 1
    assert Invoice.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_numbers_stay_gap_free_under_concurrency(profile: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers (one IMMEDIATE transaction at a time): the row lock is tested on PostgreSQL")
    insurer = InsurerFactory()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def issue_many() -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(6):
                _issue(insurer, [LineSpec(InvoiceLineKind.OTHER, "並行", 1, 1_000 + n)])
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=issue_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 13))
    assert len(set(Invoice.objects.values_list("number", flat=True))) == 12
