"""A generated month end to end: the generator's archives through intake and routing, 過誤 by an
insurer, a late archive, the closing of February and March, insurer payments from a bank CSV, the
全銀 file and the fee invoices; every figure reconciled."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum

from agency.demo import seed_demo
from agency.models import Institution, Insurer
from agency.services import synthetic_parties_load
from billing import documents, selectors
from billing.models import (
    BillingMonth,
    ClaimsStatement,
    ClaimsStatementLine,
    Invoice,
    InvoiceKind,
    InvoiceLineKind,
    LedgerEntry,
    LedgerKind,
    LineKind,
    PaymentStatement,
    TransferBatch,
)
from billing.services import bank_csv_import, transfer_batch_create, transfer_file
from intake.models import Channel, Record, RecordStatus, SubmissionStatus
from intake.services import receive
from intake.timeline import record_timeline
from kenshin.synth.generator import GeneratorConfig, default_parties, generate
from routing.models import DeliveryItem
from routing.services import deliveries as delivery_services
from routing.services import returns

from .conftest import at, with_account
from .zengin_reader import read_zengin

AGENCY = "91399055"
FEB, MAR = dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _intake(archive: Any) -> Any:
    institution = Institution.objects.get(number=archive.institution)
    result = receive.submission_receive(source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA)
    result.submission.refresh_from_db()
    return result.submission


@pytest.fixture
def generated(db: Any, django_capture_on_commit_callbacks: Any, bank_account: Any) -> dict[str, Any]:
    seed_demo()
    config = GeneratorConfig(year=2024, records=18, seed=7, agency_number=AGENCY, institutions=3)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    for n, institution in enumerate(Institution.objects.order_by("number"), start=1):
        with_account(institution, n)
    archives = list(generate(config, parties))
    submissions = []
    # Two archives arrive and are routed in February ...
    with time_machine.travel(at("2025-02-27 10:00"), tick=True):
        for archive in archives[:2]:
            with django_capture_on_commit_callbacks(execute=True):
                submissions.append(_intake(archive))
        delivery_services.deliveries_route()  # notifications are left to their task (not run here)
    # ... the third is accepted after February's cut-off (月遅れ), and routed in March.
    with time_machine.travel(at("2025-03-07 10:00"), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            submissions.append(_intake(archives[2]))
        delivery_services.deliveries_route()
    for submission in submissions:
        submission.refresh_from_db()
        assert submission.status == SubmissionStatus.ACCEPTED, list(submission.findings.values_list("code", "message"))
    # A new insurer contract starting in February: initial and fixed fee in February's invoice.
    newcomer = Insurer.objects.get(number=parties.insurers[0].number)
    newcomer.contract_start = dt.date(2025, 2, 1)
    newcomer.save()
    return {"submissions": submissions, "newcomer": newcomer}


def test_a_generated_month_closes_into_figures_that_reconcile(generated: dict[str, Any], tmp_path: Path) -> None:
    feb_records = list(Record.objects.filter(submission__in=generated["submissions"][:2], status=RecordStatus.ACCEPTED))
    late_records = list(Record.objects.filter(submission=generated["submissions"][2], status=RecordStatus.ACCEPTED))
    assert len(feb_records) == 36 and len(late_records) == 18

    # --- February, through the command ---
    out = StringIO()
    with time_machine.travel(at("2025-03-06 09:00"), tick=False):
        call_command("close_month", "2025-02", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["closed_now"] is True
    feb = BillingMonth.objects.get(period=FEB)
    rec = selectors.month_reconciliation(feb)
    assert rec.balanced
    claimed = sum(r.claim_amount for r in feb_records)
    assert rec.lines_total == rec.statements_total == rec.ledger_claims_total == claimed
    assert claimed == sum(s.amount_accepted for s in generated["submissions"][:2])
    # every statement: Σ lines = its total; the per-institution breakdown adds up
    for statement in ClaimsStatement.objects.filter(month=feb):
        assert sum(statement.lines.values_list("amount", flat=True)) == statement.total == statement.claims_total
        assert sum(statement.parts.values_list("total", flat=True)) == statement.total
        by_insurer = [r for r in feb_records if r.insurer_id == statement.insurer_id]
        assert statement.record_count == len(by_insurer)
        assert statement.late_count == sum(1 for r in by_insurer if r.checkup_date < FEB)
    per_institution = defaultdict(int)
    for record in feb_records:
        per_institution[record.institution.number] += record.claim_amount
    assert {p.institution_number: p.total for p in PaymentStatement.objects.filter(month=feb)} == per_institution
    assert {row["number"]: row["payment_total"] for row in summary["institutions"]} == per_institution
    # per-checkup fee count = records delivered to the insurer in February
    delivered = Counter(DeliveryItem.objects.filter(delivery__created_at__lt=at("2025-03-01 00:00")).values_list("delivery__insurer__number", flat=True))
    charged = {
        invoice.insurer.number: sum(line.quantity for line in invoice.lines.filter(kind=InvoiceLineKind.PER_CHECKUP))
        for invoice in Invoice.objects.filter(month=feb, kind=InvoiceKind.INVOICE)
    }
    assert {k: v for k, v in charged.items() if v} == dict(delivered)
    newcomer_invoice = Invoice.objects.get(month=feb, insurer=generated["newcomer"])
    kinds = [line.kind for line in newcomer_invoice.lines.all()]
    assert kinds[:2] == [InvoiceLineKind.INITIAL, InvoiceLineKind.FIXED]
    for row in summary["insurers"]:
        invoice = Invoice.objects.get(number=row["invoice_number"])
        assert row["invoice_total"] == invoice.total
        assert invoice.tax_total == invoice.total * 10 // 110
    # the PDFs say what the rows say
    text = _pdf_text(documents.invoice_pdf(newcomer_invoice))
    assert newcomer_invoice.number in text and f"{newcomer_invoice.total:,}" in text and "T7123456789012" in text
    assert f"{newcomer_invoice.tax_total:,}" in text and "200,000" in text
    statement = ClaimsStatement.objects.filter(month=feb).order_by("-total").first()
    text = _pdf_text(documents.statement_pdf(statement))
    assert statement.number in text and f"{statement.total:,}" in text
    payment = PaymentStatement.objects.filter(month=feb).first()
    assert f"{payment.total:,}" in _pdf_text(documents.payment_statement_pdf(payment))

    # closing again changes nothing
    counts = (ClaimsStatementLine.objects.count(), Invoice.objects.count(), LedgerEntry.objects.count())
    again = StringIO()
    with time_machine.travel(at("2025-03-10 09:00"), tick=False):
        call_command("close_month", "2025-02", stdout=again)
    assert "already closed" in again.getvalue()
    assert (ClaimsStatementLine.objects.count(), Invoice.objects.count(), LedgerEntry.objects.count()) == counts

    # --- an insurer returns two February records (過誤) ---
    returned = feb_records[:2]
    with time_machine.travel(at("2025-03-12 10:00"), tick=True):
        for record in returned:
            returns.insurer_return_create(record=record, reason="04", note="", actor=None)

    # --- insurers pay February from the bank's CSV; institutions are paid ---
    rows = ["入金日,金額,振込依頼人名,摘要"] + [f"2025-03-20,{s.total},ﾎｹﾝｼﾔ,{s.number}" for s in ClaimsStatement.objects.filter(month=feb)]
    result = bank_csv_import(data="\n".join(rows).encode("cp932"))
    assert len(result.recorded) == ClaimsStatement.objects.filter(month=feb).count() and not result.unmatched
    batch = transfer_batch_create(month=feb, transfer_date=dt.date(2025, 3, 25)).batch
    parsed = read_zengin(transfer_file(batch))
    assert int(parsed["trailer"]["count"]) == len(parsed["data"]) == len(per_institution)
    assert int(parsed["trailer"]["total"]) == claimed == sum(int(r["amount"]) for r in parsed["data"])
    assert {r["customer_code1"]: int(r["amount"]) for r in parsed["data"]} == per_institution
    assert LedgerEntry.objects.filter(kind=LedgerKind.TRANSFER).aggregate(s=Sum("amount"))["s"] == claimed
    assert [step.key for step in record_timeline(feb_records[5]) if step.done][-2:] == ["billed", "paid"]

    # --- March: the late archive and the returns ---
    with time_machine.travel(at("2025-04-08 09:00"), tick=False):
        call_command("close_month", "2025-03", stdout=StringIO())
    mar = BillingMonth.objects.get(period=MAR)
    assert selectors.month_reconciliation(mar).balanced
    lines = ClaimsStatementLine.objects.filter(statement__month=mar)
    assert {line.record_id for line in lines.filter(kind=LineKind.CLAIM)} == {r.pk for r in late_records}
    assert all(line.late for line in lines.filter(kind=LineKind.CLAIM))  # checkups of February or earlier
    assert {(line.record_id, line.amount) for line in lines.filter(kind=LineKind.RETURN)} == {(r.pk, -r.claim_amount) for r in returned}
    total = sum(r.claim_amount for r in late_records) - sum(r.claim_amount for r in returned)
    assert mar.claims_statements.aggregate(s=Sum("total"))["s"] == total
    # over both months: every accepted checkup billed once, the ledger equals the statements
    assert ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM).count() == len(feb_records) + len(late_records)
    assert LedgerEntry.objects.filter(kind=LedgerKind.CLAIMS_BILLED).aggregate(s=Sum("amount"))["s"] == claimed + total
    assert TransferBatch.objects.count() == 1
