"""Leases on background work (``agency.leases``): an error queues the unit again after a back-off,
the sweeper resumes it then, finished leases are pruned after a month, and beat runs the sweeper."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from agency.demo import AGENCY
from agency.leases import DONE_KEPT_DAYS, lease_key, leases_sweep
from agency.models import LeaseState, WorkLease
from routing import tasks as routing_tasks
from routing.tasks import route_deliveries_task

from ..factories import AgencyProfileFactory
from .helpers import after

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _agency_profile() -> None:
    AgencyProfileFactory(**AGENCY)  # routing needs the agency's number

ROUTE = "routing.route_deliveries"


def test_a_failing_unit_is_queued_again_after_a_back_off(monkeypatch: pytest.MonkeyPatch, settings: Any, capture: Any) -> None:
    def broken(**kwargs: Any) -> list[Any]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(routing_tasks, "deliveries_route", broken)
    with pytest.raises(RuntimeError):
        route_deliveries_task()
    lease = WorkLease.objects.get(key=lease_key(ROUTE, []))
    assert lease.state == LeaseState.QUEUED and lease.holder == "" and lease.attempts == 1
    assert lease.last_error == "RuntimeError: the database went away"
    assert lease.expires_at > timezone.now()
    assert leases_sweep().resumed == []  # not before its back-off

    monkeypatch.undo()
    with after(settings.WORK_LEASE_SECONDS), capture(execute=True):
        assert leases_sweep().resumed == [lease.key]

    lease.refresh_from_db()
    assert lease.state == LeaseState.DONE and lease.attempts == 2 and lease.resumed == 1 and lease.last_error == ""


def test_finished_leases_are_pruned_after_a_month() -> None:
    route_deliveries_task()
    assert WorkLease.objects.get().state == LeaseState.DONE

    leases_sweep(now=timezone.now() + dt.timedelta(days=DONE_KEPT_DAYS - 1))
    assert WorkLease.objects.exists()
    assert leases_sweep(now=timezone.now() + dt.timedelta(days=DONE_KEPT_DAYS + 1)).pruned == 1
    assert not WorkLease.objects.exists()


def test_beat_runs_the_sweeper_every_sweep_period(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["agency-leases-sweep"]
    assert entry["task"] == "agency.leases_sweep"
    assert entry["schedule"] == dt.timedelta(seconds=settings.WORK_SWEEP_SECONDS)
    assert settings.WORK_SWEEP_SECONDS < settings.WORK_LEASE_SECONDS < settings.WORK_QUEUE_SECONDS
