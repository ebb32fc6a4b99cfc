"""Deliveries over the REST API for insurer systems (client certificate + token, or a portal session).

Certificates and the proxy's headers are made as in the intake API tests (``tests/agency/helpers.py``);
deliveries come from generated archives checked by intake and routed (``helpers.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from agency.models import Role
from agency.services.clients import api_client_create, client_certificate_register
from audit.models import AuditEvent, Outcome
from routing.models import Delivery, DeliveryChannel, DeliveryStatus

from ..agency.helpers import PROXY, Machine, make_certificate
from ..conftest import login_verified
from ..factories import UserFactory
from .helpers import intake_generated, route

LIST_URL = "/api/v1/deliveries/"


@pytest.fixture(autouse=True)
def _trusted_proxy() -> Iterator[None]:
    with override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"]):
        yield


@pytest.fixture
def deliveries(db: Any, capture: Any) -> list[Delivery]:
    intake_generated(capture, records=8, seed=401, insurers=3)
    created = route(capture)
    assert len({d.insurer_id for d in created}) >= 2
    return created


@pytest.fixture
def make_machine(make_user: Callable[..., Any]) -> Callable[..., Machine]:
    admin = make_user(Role.AGENCY_ADMIN)

    def make(*, insurer: Any = None, institution: Any = None) -> Machine:
        client, token = api_client_create(name="保険者システム", insurer=insurer, institution=institution, actor=admin)
        pem = make_certificate(f"client-{client.pk}")
        return Machine(client, token, pem, client_certificate_register(api_client=client, pem=pem, actor=admin))

    return make


@pytest.fixture
def mine(deliveries: list[Delivery]) -> Delivery:
    return deliveries[0]


@pytest.fixture
def theirs(deliveries: list[Delivery], mine: Delivery) -> Delivery:
    return next(d for d in deliveries if d.insurer_id != mine.insurer_id)


@pytest.fixture
def machine(make_machine: Callable[..., Machine], mine: Delivery) -> Machine:
    return make_machine(insurer=mine.insurer)


@pytest.fixture
def stranger(make_machine: Callable[..., Machine], theirs: Delivery) -> Machine:
    return make_machine(insurer=theirs.insurer)


def test_an_insurer_system_lists_and_reads_its_own_deliveries(client: Client, machine: Machine, mine: Delivery, theirs: Delivery) -> None:
    response = client.get(LIST_URL, **machine.headers())
    assert response.status_code == 200
    listed = response.json()["results"]
    assert {row["id"] for row in listed} == set(Delivery.objects.filter(insurer=mine.insurer).values_list("pk", flat=True))
    assert theirs.pk not in {row["id"] for row in listed}
    detail = client.get(f"{LIST_URL}{mine.pk}/", **machine.headers()).json()
    assert detail["file_name"] == mine.file_name and detail["sha256"] == mine.archive.sha256
    assert detail["insurer"] == mine.insurer.number and detail["sender"] == "91399055"
    assert detail["record_count"] == mine.record_count and detail["claim_total"] == mine.claim_total
    assert detail["archive_url"] == f"{LIST_URL}{mine.pk}/archive/" and detail["status"] == "ready"
    assert client.get(LIST_URL + "?status=downloaded", **machine.headers()).json()["results"] == []


def test_archive_download_is_recorded_and_audited_as_export(client: Client, machine: Machine, mine: Delivery) -> None:
    response = client.get(f"{LIST_URL}{mine.pk}/archive/", **machine.headers(), HTTP_X_FORWARDED_FOR="192.0.2.44")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert hashlib.sha256(response.content).hexdigest() == mine.archive.sha256 == response["X-Content-SHA256"]
    mine.refresh_from_db()
    assert mine.status == DeliveryStatus.DOWNLOADED
    [download] = mine.downloads.all()
    assert (download.channel, download.actor_label, download.user, download.ip) == (
        DeliveryChannel.API, f"api:{machine.client.pk}", None, "192.0.2.44",
    )
    export = AuditEvent.objects.get(action="routing.delivery.export")
    assert export.outcome == Outcome.SUCCESS and export.actor_label == f"api:{machine.client.pk}"
    assert (export.object_type, export.object_ids) == ("delivery", [str(mine.pk)])
    assert client.get(f"{LIST_URL}?status=downloaded", **machine.headers()).json()["results"][0]["id"] == mine.pk


def test_acknowledgement_is_idempotent(client: Client, machine: Machine, mine: Delivery) -> None:
    url = f"{LIST_URL}{mine.pk}/acknowledge/"
    assert client.get(url, **machine.headers()).json()["acknowledged_at"] is None
    first = client.post(url, **machine.headers())
    second = client.post(url, **machine.headers())
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["status"] == "acknowledged"
    mine.refresh_from_db()
    assert mine.acknowledged_label == f"api:{machine.client.pk}"
    assert AuditEvent.objects.filter(action="routing.delivery.acknowledged").count() == 1


def test_another_insurers_system_gets_404_on_every_endpoint_and_it_is_audited(client: Client, stranger: Machine, mine: Delivery) -> None:
    for method, url in (
        ("get", f"{LIST_URL}{mine.pk}/"),
        ("get", f"{LIST_URL}{mine.pk}/archive/"),
        ("get", f"{LIST_URL}{mine.pk}/acknowledge/"),
        ("post", f"{LIST_URL}{mine.pk}/acknowledge/"),
    ):
        before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
        response = getattr(client, method)(url, **stranger.headers())
        assert response.status_code == 404, url
        denied = AuditEvent.objects.filter(outcome=Outcome.DENIED).order_by("-seq")
        assert denied.count() == before + 1, url
        event = denied.first()
        assert (event.object_type, event.object_ids, event.path) == ("delivery", [str(mine.pk)], url)
        assert event.actor_label == f"api:{stranger.client.pk}"
    mine.refresh_from_db()
    assert mine.status == DeliveryStatus.READY and not mine.downloads.exists()


def test_institution_systems_have_no_deliveries_and_credentials_are_required(
    client: Client, make_machine: Callable[..., Machine], institution_a: Any, machine: Machine, mine: Delivery
) -> None:
    institution_machine = make_machine(institution=institution_a)
    assert client.get(LIST_URL, **institution_machine.headers()).status_code == 403
    assert client.get(f"{LIST_URL}{mine.pk}/archive/", **institution_machine.headers()).status_code == 403
    assert client.get(LIST_URL).status_code == 401
    assert client.get(LIST_URL, **machine.headers(token="wrong")).status_code == 401
    assert client.get(f"{LIST_URL}{mine.pk}/archive/", **machine.headers(pem=make_certificate("unknown"))).status_code == 403


def test_insurer_staff_can_use_the_api_from_their_portal_session(mine: Delivery, theirs: Delivery) -> None:
    session = login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=mine.insurer))
    assert session.get(f"{LIST_URL}{mine.pk}/archive/").status_code == 200
    assert session.get(f"{LIST_URL}{theirs.pk}/").status_code == 404
    clerk = login_verified(Client(), UserFactory(role=Role.AGENCY_CLERK))
    assert clerk.get(f"{LIST_URL}{theirs.pk}/").status_code == 200  # the agency sees every delivery
    assert clerk.get(f"{LIST_URL}{theirs.pk}/archive/").status_code == 403  # but downloads are the insurer's


def test_the_schema_documents_the_delivery_endpoints(client: Client, db: Any) -> None:
    schema = client.get("/api/v1/schema/").content.decode()
    for operation in ("deliveries_list", "deliveries_retrieve", "deliveries_archive", "deliveries_acknowledge"):
        assert operation in schema


def test_the_list_uses_a_fixed_number_of_queries(
    client: Client, machine: Machine, deliveries: list[Delivery], django_assert_max_num_queries: Any
) -> None:
    clerk = login_verified(Client(), UserFactory(role=Role.AGENCY_CLERK))
    with django_assert_max_num_queries(12):
        response = clerk.get(LIST_URL)
    assert len(response.json()["results"]) == len(deliveries) >= 2
