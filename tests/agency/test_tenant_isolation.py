"""Insurers see only their own rows, institutions only theirs; a cross-tenant request is a 404, audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Role
from audit.models import AuditEvent, Outcome

pytestmark = pytest.mark.django_db


def _foreign_urls(contract_b: Any) -> list[tuple[str, str, str]]:
    return [
        (reverse("parties:insurer_detail", args=[contract_b.insurer.number]), "insurer", contract_b.insurer.number),
        (reverse("parties:institution_detail", args=[contract_b.institution.number]), "institution", contract_b.institution.number),
        (reverse("parties:contract_detail", args=[contract_b.pk]), "contract", str(contract_b.pk)),
        (reverse("agency_api:insurer_detail", args=[contract_b.insurer.number]), "insurer", contract_b.insurer.number),
        (reverse("agency_api:institution_detail", args=[contract_b.institution.number]), "institution", contract_b.institution.number),
        (reverse("agency_api:contract_detail", args=[contract_b.pk]), "contract", str(contract_b.pk)),
    ]


@pytest.mark.parametrize("role", [Role.INSURER_STAFF, Role.INSTITUTION_STAFF])
def test_other_tenants_objects_answer_404_and_are_audited(
    role: Role, user_client: Callable[..., Client], contract_a: Any, contract_b: Any
) -> None:
    client = user_client(role)
    for url, object_type, ident in _foreign_urls(contract_b):
        before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
        response = client.get(url)
        assert response.status_code == 404, url
        denied = AuditEvent.objects.filter(outcome=Outcome.DENIED).order_by("-seq")
        assert denied.count() == before + 1, url
        event = denied.first()
        assert event.object_type == object_type
        assert event.object_ids == [ident]
        assert event.path == url


@pytest.mark.parametrize("role", [Role.INSURER_STAFF, Role.INSTITUTION_STAFF])
def test_own_objects_are_reachable(role: Role, user_client: Callable[..., Client], contract_a: Any, contract_b: Any) -> None:
    client = user_client(role)
    for url in [
        reverse("parties:insurer_detail", args=[contract_a.insurer.number]),
        reverse("parties:institution_detail", args=[contract_a.institution.number]),
        reverse("parties:contract_detail", args=[contract_a.pk]),
    ]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [Role.INSURER_STAFF, Role.INSTITUTION_STAFF])
def test_lists_show_only_own_tenant(role: Role, user_client: Callable[..., Client], contract_a: Any, contract_b: Any) -> None:
    client = user_client(role)
    for url in [reverse("parties:insurer_list"), reverse("parties:institution_list"), reverse("parties:contract_list")]:
        page = client.get(url).content.decode()
        assert contract_a.insurer.number in page or contract_a.institution.number in page, url
        assert contract_b.insurer.number not in page, url
        assert contract_b.institution.number not in page, url
    numbers = {row["number"] for row in client.get("/api/v1/insurers/").json()["results"]}
    assert numbers == {contract_a.insurer.number}
    contracts = client.get("/api/v1/contracts/").json()["results"]
    assert [c["id"] for c in contracts] == [contract_a.pk]


def test_agency_staff_see_every_party(user_client: Callable[..., Client], contract_a: Any, contract_b: Any) -> None:
    client = user_client(Role.AGENCY_CLERK)
    page = client.get(reverse("parties:insurer_list")).content.decode()
    assert contract_a.insurer.number in page
    assert contract_b.insurer.number in page
