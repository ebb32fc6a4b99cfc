"""The monthly closing: what a month collects, 月遅れ, 過誤, fees, idempotence and order."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from billing import selectors
from billing.models import (
    BillingMonth,
    ClaimsStatement,
    ClaimsStatementLine,
    FeeChargedItem,
    FixedFeePeriod,
    InsurerBillingTerms,
    Invoice,
    InvoiceLineKind,
    LedgerEntry,
    LedgerKind,
    LineKind,
    PaymentStatement,
)
from billing.services import ClosingTooEarly, MonthOrderError, claim_adjustment_create, month_close, months_close_due
from billing.tasks import close_due_months_task, close_month_task
from intake.models import RecordStatus
from intake.timeline import record_timeline

from ..factories import DeliveryFactory, InsurerFactory, InsurerReturnFactory
from .conftest import at, make_record

FEB = dt.date(2025, 2, 1)
MAR = dt.date(2025, 3, 1)
AFTER_FEB_CUTOFF = at("2025-03-06 09:00")
AFTER_MAR_CUTOFF = at("2025-04-08 09:00")  # 5 April 2025 is a Saturday: cut-off Monday 7 April 23:59


def _table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (BillingMonth, ClaimsStatement, ClaimsStatementLine, PaymentStatement, Invoice, LedgerEntry, FeeChargedItem)
    }


@pytest.fixture
def month_data(parties: dict[str, Any]) -> dict[str, Any]:
    (a, b), (one, two) = parties["insurers"], parties["institutions"]
    rec = {
        "r1": make_record(insurer=a, institution=one, claim_amount=8_000, checked_at=at("2025-02-10 10:00"), checkup_date=dt.date(2025, 2, 8)),
        # accepted after the end of February, before its cut-off: still February's
        "r2": make_record(insurer=a, institution=two, claim_amount=9_000, checked_at=at("2025-03-05 23:58"), checkup_date=dt.date(2025, 2, 25)),
        # a March checkup accepted before February's cut-off: March's
        "r3": make_record(insurer=b, institution=one, claim_amount=7_000, checked_at=at("2025-03-03 10:00"), checkup_date=dt.date(2025, 3, 2)),
        # accepted one minute after February's cut-off: 月遅れ in March
        "r4": make_record(insurer=a, institution=one, claim_amount=6_500, checked_at=at("2025-03-06 00:00"), checkup_date=dt.date(2025, 2, 20)),
        # a January checkup (January was never closed): late in February
        "r5": make_record(insurer=a, institution=one, claim_amount=5_000, checked_at=at("2025-01-15 10:00"), checkup_date=dt.date(2025, 1, 10)),
        # returned by 事務点検: never billed
        "r6": make_record(insurer=a, institution=two, claim_amount=4_000, checked_at=at("2025-02-11 10:00"), status=RecordStatus.RETURNED),
        # accepted in February, never delivered to the insurer: held, not billed
        "r7": make_record(insurer=a, institution=two, claim_amount=3_000, checked_at=at("2025-02-12 10:00"), checkup_date=dt.date(2025, 2, 10)),
    }
    DeliveryFactory(insurer=a, created_at=at("2025-02-27 12:00"), records=[rec["r1"], rec["r2"], rec["r5"]])
    DeliveryFactory(insurer=b, created_at=at("2025-03-04 12:00"), records=[rec["r3"]])
    DeliveryFactory(insurer=a, created_at=at("2025-03-07 12:00"), records=[rec["r4"]])
    return {"a": a, "b": b, "one": one, "two": two, **rec}


def test_february_collects_what_was_accepted_by_its_cutoff(month_data: dict[str, Any]) -> None:
    d = month_data
    summary = month_close(period=FEB, now=AFTER_FEB_CUTOFF)
    assert summary.closed_now and summary.status == "closed"
    statement = ClaimsStatement.objects.get(month__period=FEB, insurer=d["a"])
    claims = {line.record_id: line for line in statement.lines.filter(kind=LineKind.CLAIM)}
    assert set(claims) == {d["r1"].pk, d["r2"].pk, d["r5"].pk}
    # the record not delivered to A is on the statement at 0, with the reason it is held
    held = statement.lines.get(kind=LineKind.HELD)
    assert (held.record_id, held.amount) == (d["r7"].pk, 0) and "送付" in held.note
    [step] = [step for step in record_timeline(d["r7"]) if step.key == "billed"]
    assert step.warning and not step.done and statement.number in step.detail and held.note in step.detail
    assert claims[d["r5"].pk].late and not claims[d["r1"].pk].late and not claims[d["r2"].pk].late
    assert statement.total == statement.claims_total == 8_000 + 9_000 + 5_000
    assert statement.record_count == 3 and statement.late_count == 1
    assert not ClaimsStatement.objects.filter(insurer=d["b"]).exists()
    # per institution
    payments = {p.institution_id: p for p in PaymentStatement.objects.filter(month__period=FEB)}
    assert payments[d["one"].pk].total == 13_000 and payments[d["two"].pk].total == 9_000
    # fees: three checkups delivered to A in February; B has nothing to bill this month
    invoice = Invoice.objects.get(month__period=FEB, insurer=d["a"])
    assert [(line.kind, line.quantity, line.unit_price) for line in invoice.lines.all()] == [(InvoiceLineKind.PER_CHECKUP, 3, 3_500)]
    assert invoice.total == 10_500 and invoice.tax_total == 954  # floor(10500 × 10 / 110)
    assert not Invoice.objects.filter(insurer=d["b"]).exists()
    rec = selectors.month_reconciliation(BillingMonth.objects.get(period=FEB))
    assert rec.balanced and rec.lines_total == 22_000 and rec.checkups_charged == 3
    assert [(i.number, i.claims_total, i.invoice_total) for i in summary.insurers] == [(d["a"].number, 22_000, 10_500)]
    assert AuditEvent.objects.filter(action="billing.month.closed").count() == 1


def test_closing_twice_changes_nothing(month_data: dict[str, Any]) -> None:
    first = month_close(period=FEB, now=AFTER_FEB_CUTOFF)
    counts = _table_counts()
    again = month_close(period=FEB, now=AFTER_FEB_CUTOFF + dt.timedelta(days=3))
    assert not again.closed_now
    assert _table_counts() == counts
    assert again.insurers == first.insurers and again.institutions == first.institutions
    assert again.frozen_at == first.frozen_at


def test_march_takes_the_late_record_and_deducts_the_return(month_data: dict[str, Any]) -> None:
    d = month_data
    month_close(period=FEB, now=AFTER_FEB_CUTOFF)
    InsurerReturnFactory(record=d["r1"], returned_at=at("2025-03-10 10:00"))
    with time_machine.travel(at("2025-03-20 10:00"), tick=False):
        claim_adjustment_create(insurer=d["b"], institution=d["two"], amount=-1_200, reason="単価訂正")
    month_close(period=MAR, now=AFTER_MAR_CUTOFF)
    a_march = ClaimsStatement.objects.get(month__period=MAR, insurer=d["a"])
    lines = {(line.kind, line.record_id): line for line in a_march.lines.all()}
    assert lines[(LineKind.CLAIM, d["r4"].pk)].late
    assert lines[(LineKind.RETURN, d["r1"].pk)].amount == -8_000
    assert (a_march.claims_total, a_march.returns_total, a_march.total) == (6_500, -8_000, -1_500)
    b_march = ClaimsStatement.objects.get(month__period=MAR, insurer=d["b"])
    assert (b_march.claims_total, b_march.adjustments_total, b_march.total) == (7_000, -1_200, 5_800)
    # the per-checkup fees for the checkups delivered in March: B's of 4 March, A's of 7 March
    assert Invoice.objects.get(month__period=MAR, insurer=d["b"]).lines.get().quantity == 1
    assert Invoice.objects.get(month__period=MAR, insurer=d["a"]).lines.get().quantity == 1
    # r7 is still not delivered: held again in March, never billed
    assert lines[(LineKind.HELD, d["r7"].pk)].amount == 0
    # every record billed once over both months; the ledger equals the statements
    assert ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM).count() == 5
    for period in (FEB, MAR):
        assert selectors.month_reconciliation(BillingMonth.objects.get(period=period)).balanced
    ledger = sum(LedgerEntry.objects.filter(kind=LedgerKind.CLAIMS_BILLED).values_list("amount", flat=True))
    assert ledger == sum(ClaimsStatement.objects.values_list("total", flat=True)) == 22_000 - 1_500 + 5_800


def test_a_month_cannot_close_before_its_cutoff(month_data: dict[str, Any]) -> None:
    with pytest.raises(ClosingTooEarly):
        month_close(period=FEB, now=at("2025-03-05 23:58"))
    assert not ClaimsStatement.objects.exists()


def test_months_close_in_order(month_data: dict[str, Any]) -> None:
    month_close(period=FEB, now=AFTER_FEB_CUTOFF)
    with pytest.raises(MonthOrderError):
        month_close(period=dt.date(2025, 4, 1), now=at("2025-05-08 09:00"))
    with pytest.raises(MonthOrderError):
        month_close(period=dt.date(2025, 1, 1), now=AFTER_FEB_CUTOFF)


def test_the_periodic_job_closes_due_months_in_order(month_data: dict[str, Any]) -> None:
    assert [r.period for r in months_close_due(now=AFTER_FEB_CUTOFF)] == ["2025-02"]
    assert months_close_due(now=AFTER_FEB_CUTOFF) == []
    assert [r.period for r in months_close_due(now=at("2025-05-08 09:00"))] == ["2025-03", "2025-04"]


def test_initial_and_fixed_fees(profile: Any) -> None:
    new = InsurerFactory(contract_start=dt.date(2025, 2, 10))
    monthly = InsurerFactory(contract_start=dt.date(2024, 11, 1))
    InsurerBillingTerms.objects.create(insurer=monthly, fixed_fee_period=FixedFeePeriod.MONTHLY, fee_fixed=20_000)
    month_close(period=FEB, now=AFTER_FEB_CUTOFF)
    invoice = Invoice.objects.get(insurer=new, month__period=FEB)
    assert [(line.kind, line.amount) for line in invoice.lines.all()] == [
        (InvoiceLineKind.INITIAL, 200_000), (InvoiceLineKind.FIXED, 200_000),
    ]
    assert invoice.total == 400_000 and invoice.tax_total == 36_363
    assert Invoice.objects.get(insurer=monthly, month__period=FEB).total == 20_000
    month_close(period=MAR, now=AFTER_MAR_CUTOFF)
    assert not Invoice.objects.filter(insurer=new, month__period=MAR).exists()  # yearly: next in February 2026
    assert Invoice.objects.get(insurer=monthly, month__period=MAR).total == 20_000
    assert not Invoice.objects.filter(month__period=MAR, lines__kind=InvoiceLineKind.INITIAL).exists()


def test_the_task_and_the_command(month_data: dict[str, Any]) -> None:
    d = month_data
    with time_machine.travel(AFTER_FEB_CUTOFF, tick=False):
        first = close_month_task.delay("2025-02").get()
        again = close_month_task.delay("2025-02").get()
        out = StringIO()
        call_command("close_month", "2025-02", stdout=out)
    assert first["closed_now"] and not again["closed_now"] and first["insurers"] == again["insurers"]
    invoice = Invoice.objects.get(month__period=FEB, insurer=d["a"])
    text = out.getvalue()
    assert "already closed" in text
    assert f"{d['a'].number}" in text and "claims 22,000 yen" in text and f"fee invoice {invoice.number} 10,500 yen" in text
    assert f"{d['one'].number}" in text and "payment 13,000 yen" in text and "payment 9,000 yen" in text
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("close_month", "2025-13")
    with time_machine.travel(at("2025-04-01 09:00"), tick=False), pytest.raises(CommandError, match="より前は締められません"):
        call_command("close_month", "2025-03")
    with time_machine.travel(AFTER_MAR_CUTOFF, tick=False):
        assert close_due_months_task.delay().get() == ["2025-03"]
        assert close_due_months_task.delay().get() == []
