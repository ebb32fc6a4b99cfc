"""A month close is a unit of work with a lease: the sweeper closes a month whose worker died during
the close, once; a refused close ends its unit; the close of a month being closed elsewhere waits.
(With real processes killed by SIGKILL: ``test_worker_kills.py``.)"""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from agency.leases import lease_key, leases_sweep
from agency.models import LeaseState, WorkLease
from billing.models import BillingMonth, ClaimsStatementLine, LineKind
from billing.services import ClosingTooEarly
from billing.tasks import close_month_task

from ..agency.helpers import after, held_by_dead_worker
from ..factories import DeliveryFactory
from .conftest import at, make_record, now_is

pytestmark = pytest.mark.django_db

FEB = dt.date(2025, 2, 1)


@pytest.fixture
def february(parties: dict[str, Any]) -> list[Any]:
    (a, b), (one, two) = parties["insurers"], parties["institutions"]
    records = [
        make_record(insurer=a, institution=one, claim_amount=8_000, checked_at=at("2025-02-10 10:00")),
        make_record(insurer=b, institution=two, claim_amount=6_000, checked_at=at("2025-02-12 10:00")),
    ]
    for record in records:  # billed only once delivered to the insurer
        DeliveryFactory(insurer=record.insurer, created_at=at("2025-02-20 12:00"), records=[record])
    return records


def test_month_close_of_a_dead_worker_is_resumed_and_bills_each_record_once(
    february: list[Any], settings: Any, capture: Any
) -> None:
    with now_is(at("2025-03-06 09:00")):
        held_by_dead_worker(close_month_task.name, ["2025-02", None])
        assert not BillingMonth.objects.filter(period=FEB, status="closed").exists()  # rolled back with its worker
        with after(settings.WORK_LEASE_SECONDS), capture(execute=True):
            swept = leases_sweep()

    assert swept.resumed == [lease_key(close_month_task.name, ["2025-02", None])]
    assert BillingMonth.objects.get(period=FEB).is_closed
    lines = ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM)
    assert sorted(lines.values_list("record_id", flat=True)) == sorted(record.pk for record in february)
    assert not WorkLease.objects.exclude(state=LeaseState.DONE).exists()
    with now_is(at("2025-03-06 10:00")):
        assert close_month_task("2025-02", None) == close_month_task("2025-02")  # closed once, answered as it is
    assert ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM).count() == 2


def test_a_refused_close_ends_its_unit(february: list[Any]) -> None:
    with now_is(at("2025-03-01 09:00")), pytest.raises(ClosingTooEarly):
        close_month_task("2025-02")

    lease = WorkLease.objects.get(key=lease_key(close_month_task.name, ["2025-02"]))
    assert lease.state == LeaseState.DONE and "締め日時" in lease.last_error
    assert leases_sweep().resumed == []


def test_the_command_does_not_close_a_month_a_worker_is_closing(february: list[Any]) -> None:
    with now_is(at("2025-03-06 09:00")):
        held_by_dead_worker(close_month_task.name, ["2025-02"])
        with pytest.raises(CommandError, match="being closed by a worker"):
            call_command("close_month", "2025-02", stdout=StringIO())

    assert not BillingMonth.objects.filter(period=FEB, status="closed").exists()
