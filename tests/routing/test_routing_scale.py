"""振分 at size: the routing page's plan from aggregates (a bounded number of queries at any number of
pending records and insurers) and routing's memory, flat in the number of records routed."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from agency.demo import AGENCY
from agency.models import Role
from intake.models import Record, RecordKind
from kenshin.naming import ArchiveName
from routing.services import deliveries as delivery_services

from ..factories import AgencyProfileFactory, DeliveryFactory, InsurerFactory, SubmissionFactory
from .helpers import intake_generated

pytestmark = pytest.mark.django_db

ROUTING_PAGE_QUERIES = 14  # the request's session, user and audit, and the page's three aggregates: the same at any size


@pytest.mark.parametrize(("insurers", "per_insurer"), [(2, 2), (6, 25)])
def test_the_routing_page_plans_from_aggregates_in_a_bounded_number_of_queries(
    insurers: int, per_insurer: int, user_client: Callable[..., Client], django_assert_max_num_queries: Any
) -> None:
    AgencyProfileFactory(**AGENCY)
    parties = InsurerFactory.create_batch(insurers)
    for insurer in parties:
        SubmissionFactory(records=per_insurer, records__insurer=insurer, records__claim_amount=7_000)
    DeliveryFactory(insurer=parties[0])  # the first insurer had a delivery today: its next file is the second
    clerk = user_client(Role.AGENCY_CLERK)
    clerk.get(reverse("insurer:routing_run"))
    with django_assert_max_num_queries(ROUTING_PAGE_QUERIES):
        response = clerk.get(reverse("insurer:routing_run"))
    assert response.status_code == 200
    overview = {row["insurer"].number: row for row in response.context["overview"]}
    assert set(overview) == {insurer.number for insurer in parties}
    for insurer in parties:
        row = overview[insurer.number]
        expected = Record.objects.filter(insurer=insurer).aggregate(total=Sum("claim_amount"))["total"]
        assert (row["records"], row["claim_total"], row["fits"]) == (per_insurer, expected, True)
        assert ArchiveName.parse(row["file_name"]).same_day_count == (1 if insurer == parties[0] else 0)
        assert row["file_name"] in response.content.decode()


def _routing_peak(capture: Any, records: int, seed: int) -> tuple[int, int]:
    """Receive one archive of ``records`` records for one insurer, then route it under tracemalloc:
    (peak bytes allocated while routing, records routed). A small archive routed first loads what is
    loaded once per process (schemas, item master, translations)."""
    intake_generated(capture, records=2, seed=seed + 1, insurers=1)
    with capture(execute=True):
        delivery_services.deliveries_route()
    intake_generated(capture, records=records, seed=seed, insurers=1)
    gc.collect()
    tracemalloc.start()
    try:
        with capture(execute=True):
            created = delivery_services.deliveries_route()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sum(delivery.record_count for delivery in created)


ROUTING_PEAK_BOUND = 6 * 1024 * 1024  # at any number of records (a delivery held in memory grows by ~20 KiB a record)


@pytest.mark.parametrize("records", [40, 400])
def test_routing_memory_does_not_grow_with_the_number_of_records(capture: Any, records: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery_services, "READ_BATCH", 25)  # several batches at both sizes, as in a real run
    peak, routed = _routing_peak(capture, records, seed=400 + records)
    assert routed == records
    assert Record.objects.filter(status="accepted", delivery_item__isnull=True).count() == 0
    print(f"routing {records} records: peak {peak / 2**20:.2f} MiB")  # the figure, shown with -s
    assert peak < ROUTING_PEAK_BOUND, f"routing {records} records allocated {peak / 2**20:.1f} MiB at its peak"


def test_the_routing_page_plans_one_archive_per_kind_of_record(user_client: Callable[..., Client]) -> None:
    """Checkups and guidance of one insurer travel in archives of their own 実施区分: the page names both,
    in the order the run writes them, each with its own same-day count."""
    AgencyProfileFactory(**AGENCY)
    insurer = InsurerFactory()
    SubmissionFactory(records=2, records__insurer=insurer, records__claim_amount=7_000)
    SubmissionFactory(records=3, records__insurer=insurer, records__claim_amount=4_000, records__kind=RecordKind.GUIDANCE)
    response = user_client(Role.AGENCY_CLERK).get(reverse("insurer:routing_run"))
    rows = response.context["overview"]
    assert [(row["kind"], row["records"], row["claim_total"]) for row in rows] == [
        (RecordKind.CHECKUP, 2, 14_000), (RecordKind.GUIDANCE, 3, 12_000)]
    names = [ArchiveName.parse(row["file_name"]) for row in rows]
    assert [(name.service_event_type, name.same_day_count) for name in names] == [("1", 0), ("2", 1)]
    page = response.content.decode()
    assert "（特定保健指導）" in page and all(row["file_name"] in page for row in rows)
