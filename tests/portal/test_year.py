"""``build_year``: a year of work through the services, at a tiny size — what it says it made is in the
database, every month is closed with its invoices, the reading is in a chain that verifies, and a second
run is refused."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from agency.demo import seed_demo
from audit.models import AuditEvent
from audit.selectors import audit_integrity_verify
from billing.models import BillingMonth, BillingMonthStatus, ClaimsStatement, Invoice
from intake.models import Record, RecordStatus, Submission
from routing.models import Delivery, DeliveryStatus, InsurerReturn

pytestmark = pytest.mark.django_db

TINY = ("--checkups", "40", "--months", "2", "--per-archive", "10", "--institutions", "2",
        "--insurers", "2", "--defect-rate", "0.02", "--views-per-record", "3", "--fiscal-year", "2025")


def _build() -> tuple[dict[str, Any], int]:
    """Build the tiny year; its summary and the number of audit events there were before."""
    seed_demo()  # the agency profile (and the demo's parties and logins, which play no part in the year)
    before = AuditEvent.objects.count()
    out = StringIO()
    call_command("build_year", *TINY, "--json", stdout=out)
    return json.loads(out.getvalue()), before


def test_build_year_makes_a_year_that_adds_up() -> None:
    summary, events_before = _build()

    records = Record.objects.all()
    assert summary["submissions"] == Submission.objects.count() > 4  # four archives a month, then the resubmissions
    assert summary["checkups"] == records.count() > 40
    accepted = records.filter(status=RecordStatus.ACCEPTED)
    assert summary["accepted"] == accepted.count() + summary["insurer_returns"]  # accepted at intake, less 過誤
    assert summary["returned"] == records.filter(status=RecordStatus.RETURNED).count() - summary["insurer_returns"] > 0
    resubmitted = accepted.filter(replaces__isnull=False)
    assert summary["resubmitted"] == resubmitted.count() > 0  # returns were sent again, corrected, and accepted

    # Every accepted record went into a delivery, which its insurer fetched and acknowledged.
    assert not accepted.filter(delivery_item__isnull=True).exists()
    deliveries = Delivery.objects.all()
    assert summary["deliveries"] == deliveries.count() > 0
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.ACKNOWLEDGED}

    # Each month the insurers returned one routed record (過誤); it left the accepted set.
    returns = InsurerReturn.objects.select_related("record")
    assert summary["insurer_returns"] == returns.count() == 2
    assert {r.record.status for r in returns} != {RecordStatus.ACCEPTED}

    # April and May 2025 are closed, with statements and the agency's fee invoices.
    months = BillingMonth.objects.order_by("period")
    assert [(m.period.isoformat(), m.status) for m in months.filter(status=BillingMonthStatus.CLOSED)] == [
        ("2025-04-01", BillingMonthStatus.CLOSED), ("2025-05-01", BillingMonthStatus.CLOSED)]
    assert summary["months_closed"] == 2
    assert ClaimsStatement.objects.filter(month__period="2025-04-01", total__gt=0).exists()
    assert summary["invoices"] == Invoice.objects.count() > 0

    # The reading: three views of each accepted record of the first round (corrected ones included), a login
    # before each user's first view of a day; all in one chain, sealed, that verifies.
    views = AuditEvent.objects.filter(action__in=("intake.record.view", "routing.record.view"))
    assert views.count() == 3 * accepted.count()
    assert AuditEvent.objects.filter(action="auth.otp_verified", actor_label__startswith="year-").exists()
    assert summary["audit_events"] == AuditEvent.objects.count() - events_before
    assert AuditEvent.objects.filter(action="billing.month.closed").count() == 2
    report = audit_integrity_verify()
    assert report.intact, report.problems
    assert report.events == AuditEvent.objects.count()


def test_build_year_refuses_a_second_run() -> None:
    _build()
    submissions = Submission.objects.count()
    with pytest.raises(CommandError, match="year_already_built"):
        call_command("build_year", *TINY, stdout=StringIO())
    assert Submission.objects.count() == submissions


def test_build_year_refuses_a_year_whose_months_have_not_ended() -> None:
    seed_demo()
    with pytest.raises(CommandError, match="year_not_possible"):
        call_command("build_year", "--checkups", "10", "--fiscal-year", "2099", stdout=StringIO())
    assert not Submission.objects.exists()
