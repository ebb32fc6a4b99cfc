"""Property tests over random months: whatever is accepted, delivered, returned and adjusted, and
whenever, the closings bill every checkup once in the right month (once it is delivered; held with
its reason until then), deduct every 過誤 once, charge every delivered checkup once, and every total
agrees with its lines and with the ledger."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import calendar, selectors
from billing.calendar import JST
from billing.models import (
    BillingMonth,
    ClaimAdjustment,
    ClaimsStatement,
    ClaimsStatementLine,
    FeeChargedItem,
    Invoice,
    InvoiceKind,
    InvoiceLineKind,
    LedgerEntry,
    LedgerKind,
    LineKind,
    PaymentStatement,
)
from billing.money import tax_included
from billing.services import month_close

from ..factories import DeliveryFactory, InsurerReturnFactory
from .conftest import make_record

START = dt.datetime(2025, 1, 1, tzinfo=JST)
SPAN_MINUTES = 100 * 24 * 60  # to 11 April
MONTHS = [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)]


@dataclass(frozen=True)
class Spec:
    insurer: int
    institution: int
    amount: int
    accepted_minute: int
    checkup_days_before: int
    delivered_after_days: int | None
    returned_after_days: int | None


specs = st.builds(
    Spec,
    insurer=st.integers(0, 1),
    institution=st.integers(0, 1),
    amount=st.integers(0, 60_000),
    accepted_minute=st.integers(0, SPAN_MINUTES),
    checkup_days_before=st.integers(0, 70),
    delivered_after_days=st.none() | st.integers(0, 20),
    returned_after_days=st.none() | st.integers(0, 40),
)
adjustments = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(-20_000, 20_000).filter(bool), st.integers(0, SPAN_MINUTES))


def _closing_moment(period: dt.date) -> dt.datetime:
    return calendar.cutoff_for(period) + dt.timedelta(hours=1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(specs, max_size=18), adjusts=st.lists(adjustments, max_size=3))
def test_random_months_reconcile(parties: dict[str, Any], records: list[Spec], adjusts: list[tuple[int, int, int, int]]) -> None:
    insurers, institutions = parties["insurers"], parties["institutions"]
    with transaction.atomic():
        events: list[tuple[dt.datetime, int, Any]] = []  # (when, order, what)
        for n, spec in enumerate(records):
            accepted = START + dt.timedelta(minutes=spec.accepted_minute)
            events.append((accepted, 0, ("accept", n)))
            if spec.delivered_after_days is not None:
                delivered = dt.datetime.combine(accepted.date() + dt.timedelta(days=spec.delivered_after_days), dt.time(23, 30), tzinfo=JST)
                delivered = max(delivered, accepted)
                events.append((delivered, 1, ("deliver", n)))
                if spec.returned_after_days is not None:
                    events.append((delivered + dt.timedelta(days=spec.returned_after_days, minutes=1), 2, ("return", n)))
        for n, (_ins, _inst, _amount, minute) in enumerate(adjusts):
            events.append((START + dt.timedelta(minutes=minute), 3, ("adjust", n)))
        for period in MONTHS:
            events.append((_closing_moment(period), 9, ("close", period)))
        events.sort(key=lambda event: (event[0], event[1]))

        made: dict[int, Any] = {}
        delivered_at: dict[int, dt.datetime] = {}
        returned_at: dict[int, dt.datetime] = {}
        status_at_close: dict[dt.date, set[int]] = {}
        pending_deliveries: dict[tuple[int, dt.datetime], list[int]] = defaultdict(list)
        for when, _order, (kind, ref) in events:
            if kind == "accept":
                spec = records[ref]
                made[ref] = make_record(
                    insurer=insurers[spec.insurer], institution=institutions[spec.institution], claim_amount=spec.amount,
                    checked_at=when, checkup_date=when.date() - dt.timedelta(days=spec.checkup_days_before),
                )
            elif kind == "deliver":
                pending_deliveries[(records[ref].insurer, when)].append(ref)
                delivered_at[ref] = when
            elif kind == "return":
                _flush(pending_deliveries, made, insurers)
                InsurerReturnFactory(record=made[ref], returned_at=when)
                returned_at[ref] = when
            elif kind == "adjust":
                ins, inst, amount, _minute = adjusts[ref]
                ClaimAdjustment.objects.create(insurer=insurers[ins], institution=institutions[inst], amount=amount, reason="x", created_at=when)
            else:
                _flush(pending_deliveries, made, insurers)
                status_at_close[ref] = {n for n in made if n not in returned_at}
                month_close(period=ref, now=when)
        _flush(pending_deliveries, made, insurers)

        # --- the model: where each record is billed, where each return is deducted ---
        # A record is billed in the first month it belongs to, accepted and delivered by the cut-off;
        # in the months before (accepted, not delivered yet) it is listed as held.
        billed_in: dict[int, dt.date] = {}
        held_in: set[tuple[int, dt.date]] = set()
        for n, record in made.items():
            served = calendar.month_start(record.checkup_date)
            for period in MONTHS:
                cutoff = calendar.cutoff_for(period)
                if n in status_at_close[period] and record.checked_at <= cutoff and served <= period:
                    if n in delivered_at and delivered_at[n] <= cutoff:
                        billed_in[n] = period
                        break
                    held_in.add((made[n].pk, period))
        lines = list(ClaimsStatementLine.objects.select_related("statement__month"))
        claims = {line.record_id: line for line in lines if line.kind == LineKind.CLAIM}
        assert {made[n].pk: period for n, period in billed_in.items()} == {pk: line.statement.month.period for pk, line in claims.items()}
        for n, period in billed_in.items():
            line = claims[made[n].pk]
            assert line.amount == made[n].claim_amount
            assert line.late == (calendar.month_start(made[n].checkup_date) < period)
        assert {(line.record_id, line.statement.month.period) for line in lines if line.kind == LineKind.HELD} == held_in
        assert all(line.amount == 0 and line.note for line in lines if line.kind == LineKind.HELD)
        deducted = {line.record_id: line for line in lines if line.kind == LineKind.RETURN}
        expected_returns = {}
        for n, when in returned_at.items():
            if n in billed_in:
                later = [p for p in MONTHS if p > billed_in[n] and when <= calendar.cutoff_for(p)]
                if later:
                    expected_returns[made[n].pk] = later[0]
        assert {pk: line.statement.month.period for pk, line in deducted.items()} == expected_returns
        for pk, line in deducted.items():
            assert line.amount == -claims[pk].amount
        applied = {line.adjustment_id for line in lines if line.kind == LineKind.ADJUSTMENT}
        assert applied == set(ClaimAdjustment.objects.filter(created_at__lte=calendar.cutoff_for(MONTHS[-1])).values_list("pk", flat=True))

        # --- totals: lines = statements = parts = payment statements = ledger ---
        for month in BillingMonth.objects.all():
            assert month.is_closed
            assert selectors.month_reconciliation(month).balanced
        for statement in ClaimsStatement.objects.all():
            mine = [line for line in lines if line.statement_id == statement.pk]
            assert statement.total == sum(line.amount for line in mine)
            assert statement.claims_total == sum(line.amount for line in mine if line.kind == LineKind.CLAIM)
            assert statement.record_count == sum(1 for line in mine if line.kind == LineKind.CLAIM)
            assert sum(statement.parts.values_list("total", flat=True)) == statement.total
        for payment in PaymentStatement.objects.all():
            mine = [line for line in lines if line.statement.month_id == payment.month_id and line.institution_id == payment.institution_id]
            assert payment.total == sum(line.amount for line in mine)
        assert (LedgerEntry.objects.filter(kind=LedgerKind.CLAIMS_BILLED).aggregate(s=Sum("amount"))["s"] or 0) == \
            (ClaimsStatement.objects.aggregate(s=Sum("total"))["s"] or 0)  # a statement of held records only is 0

        # --- fees: each delivered checkup charged once, in the month it was delivered (by the month's end) ---
        expected_charges: dict[tuple[dt.date, int], int] = defaultdict(int)
        for n, when in delivered_at.items():
            period = calendar.month_start(when.astimezone(JST).date())
            if period <= MONTHS[-1]:
                expected_charges[(period, made[n].insurer_id)] += 1
        charged = {
            (invoice.month.period, invoice.insurer_id): sum(
                line.quantity for line in invoice.lines.all() if line.kind == InvoiceLineKind.PER_CHECKUP
            )
            for invoice in Invoice.objects.filter(kind=InvoiceKind.INVOICE).select_related("month").prefetch_related("lines")
        }
        assert {key: count for key, count in charged.items() if count} == dict(expected_charges)
        assert FeeChargedItem.objects.count() == sum(expected_charges.values())
        for invoice in Invoice.objects.all():
            assert invoice.total == sum(invoice.lines.values_list("amount", flat=True))
            assert invoice.tax_total == tax_included(invoice.total)
        assert LedgerEntry.objects.filter(kind=LedgerKind.FEE_INVOICED).aggregate(s=Sum("amount"))["s"] == \
            Invoice.objects.filter(kind=InvoiceKind.INVOICE).aggregate(s=Sum("total"))["s"]

        # --- closing again changes nothing ---
        before = (ClaimsStatementLine.objects.count(), Invoice.objects.count(), LedgerEntry.objects.count())
        for period in MONTHS:
            assert not month_close(period=period, now=_closing_moment(MONTHS[-1]) + dt.timedelta(days=1)).closed_now
        assert (ClaimsStatementLine.objects.count(), Invoice.objects.count(), LedgerEntry.objects.count()) == before
        transaction.set_rollback(True)


def _flush(pending: dict[tuple[int, dt.datetime], list[int]], made: dict[int, Any], insurers: list[Any]) -> None:
    for (insurer, when), refs in sorted(pending.items(), key=lambda item: item[0][1]):
        DeliveryFactory(insurer=insurers[insurer], created_at=when, records=[made[ref] for ref in refs])
    pending.clear()


@given(st.integers(-10**12, 10**12))
def test_tax_of_a_credit_note_is_the_negated_tax(total: int) -> None:
    assert tax_included(-total) == -tax_included(total)
    if total >= 0:
        assert tax_included(total) == total * 10 // 110
        assert 0 <= total * 10 - tax_included(total) * 110 < 110


@pytest.mark.parametrize(
    ("total", "tax"),
    [(0, 0), (1, 0), (10, 0), (11, 1), (109, 9), (110, 10), (3_500, 318), (200_000, 18_181), (410_500, 37_318), (-410_500, -37_318)],
)
def test_tax_table(total: int, tax: int) -> None:
    assert tax_included(total) == tax
