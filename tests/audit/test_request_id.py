"""The request id recorded with each audit event is the TLS proxy's (which also writes it to its access
log) only when the request came from a trusted proxy; a client's own X-Request-ID is ignored."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from agency.models import Role
from audit.models import AuditEvent

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

PROXY = "172.30.250.2"


def _failed_login(peer: str, request_id: str) -> AuditEvent:
    user = UserFactory(role=Role.AGENCY_CLERK)
    Client(REMOTE_ADDR=peer).post(
        reverse("accounts:login"), {"username": user.username, "password": "Wrong#password77"}, HTTP_X_REQUEST_ID=request_id
    )
    return AuditEvent.objects.get(action="auth.login_failed", actor_label=user.username)


@override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_request_id_is_taken_from_the_trusted_proxy() -> None:
    assert _failed_login(PROXY, "0f1e2d3c4b5a69788796a5b4c3d2e1f0").request_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_request_id_from_any_other_peer_is_ignored() -> None:
    event = _failed_login("203.0.113.9", "forgedbyclient")

    assert event.request_id != "forgedbyclient"
    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_every_request_gets_its_own_id() -> None:
    assert _failed_login("127.0.0.1", "fromloopback").request_id != "fromloopback"
