"""A routing run is a unit of work with a lease: a run whose worker died is run again by the sweeper
and routes every record once; a second run while the first is alive routes nothing.
(With real processes killed by SIGKILL: ``tests/billing/test_worker_kills.py``.)"""

from __future__ import annotations

from typing import Any

import pytest

from agency.leases import lease_key, leases_sweep
from agency.models import LeaseState, WorkLease
from audit.models import AuditEvent
from intake.models import Record, RecordStatus
from routing.models import Delivery, DeliveryItem
from routing.tasks import route_deliveries_task

from ..agency.helpers import after, held_by_dead_worker
from .helpers import intake_generated

pytestmark = pytest.mark.django_db

ROUTE = "routing.route_deliveries"


def test_routing_run_of_a_dead_worker_is_resumed_and_routes_each_record_once(capture: Any, settings: Any) -> None:
    intake_generated(capture, records=8, institutions=2, insurers=2)
    accepted = set(Record.objects.filter(status=RecordStatus.ACCEPTED).values_list("pk", flat=True))
    held_by_dead_worker(ROUTE, [])

    assert route_deliveries_task() is None  # the lease is held: not routed twice at once
    assert not Delivery.objects.exists()
    with after(settings.WORK_LEASE_SECONDS), capture(execute=True):
        swept = leases_sweep()

    assert swept.resumed == [lease_key(ROUTE, [])]
    assert set(DeliveryItem.objects.values_list("record_id", flat=True)) == accepted
    assert DeliveryItem.objects.count() == len(accepted)
    assert WorkLease.objects.get(key=lease_key(ROUTE, [])).state == LeaseState.DONE
    assert AuditEvent.objects.filter(action="work.resumed", detail__task=ROUTE).count() == 1
    assert route_deliveries_task() == []  # the next run finds nothing left
    assert DeliveryItem.objects.count() == len(accepted)
