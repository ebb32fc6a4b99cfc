"""振分 at size: the routing page's plan from aggregates (a bounded number of queries at any number of
pending records and insurers) and routing's memory, flat in the number of records routed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from agency.demo import AGENCY
from agency.models import Role
from intake.models import Record
from kenshin.naming import ArchiveName

from ..factories import AgencyProfileFactory, DeliveryFactory, InsurerFactory, SubmissionFactory

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
