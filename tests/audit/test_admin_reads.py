"""Reads of personal data in the Django admin are audited like the portal's own pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from agency.models import CredentialReset, Role, User
from audit.models import AuditEvent, Outcome

from ..conftest import login_verified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_urls")]


@pytest.fixture
def admin_client(make_user: Callable[..., User]) -> tuple[Client, User]:
    admin_user = make_user(Role.AGENCY_ADMIN, is_staff=True, is_superuser=True)  # the Django admin: superusers only
    return login_verified(Client(), admin_user), admin_user


def _last(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-seq").first()
    assert event is not None, action
    return event


def test_user_list_and_record_reads_are_audited(admin_client: tuple[Client, User], make_user: Callable[..., User]) -> None:
    client, admin_user = admin_client
    person = make_user(Role.INSURER_STAFF)
    assert client.get("/admin/agency/user/").status_code == 200
    listed = _last("admin.agency.user.list")
    assert listed.actor_id == admin_user.pk
    assert listed.object_type == "agency.user"
    assert {str(person.pk), str(admin_user.pk)} <= set(listed.object_ids)
    assert listed.outcome == Outcome.SUCCESS

    assert client.get(f"/admin/agency/user/{person.pk}/change/").status_code == 200
    viewed = _last("admin.agency.user.view")
    assert viewed.object_ids == [str(person.pk)]
    assert client.get(f"/admin/agency/user/{person.pk}/history/").status_code == 200
    assert _last("admin.agency.user.history").object_ids == [str(person.pk)]


def test_identity_verification_records_and_the_audit_log_are_audited(
    admin_client: tuple[Client, User], make_user: Callable[..., User]
) -> None:
    client, admin_user = admin_client
    reset = CredentialReset.objects.create(
        user=make_user(Role.INSTITUTION_STAFF), method=CredentialReset.Method.CALL_BACK, document_reference="通話記録 1",
        verified_at=timezone.now(), verified_by=admin_user)
    assert client.get("/admin/agency/credentialreset/").status_code == 200
    assert str(reset.pk) in _last("admin.agency.credentialreset.list").object_ids
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert _last("admin.audit.auditevent.list").object_ids


def test_autocomplete_answers_are_audited(admin_client: tuple[Client, User], make_user: Callable[..., User]) -> None:
    client, _admin = admin_client
    person = make_user(Role.INSTITUTION_STAFF, username="yamada-hanako")
    response = client.get("/admin/autocomplete/", {
        "term": "yamada", "app_label": "agency", "model_name": "credentialreset", "field_name": "user"})
    assert response.status_code == 200
    event = _last("admin.autocomplete")
    assert event.object_ids == [str(person.pk)]
    assert event.detail["model"] == "credentialreset"
