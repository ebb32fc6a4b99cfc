"""Every compliance, audit-review and public URL for every role, against the permission matrix.

The same walk as ``tests/agency/test_permission_matrix.py`` restricted to this package's URLs, with
the samples of ``samples.py`` (which the project-wide matrix uses too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Role
from agency.permissions import ROLE_PERMISSIONS

from ..agency.helpers import open_window
from ..agency.test_permission_matrix import _required_permission, _routes
from ..conftest import login_verified
from . import samples

MINE = ("compliance:", "audit:", "disclosure")


def _my_routes() -> list[Any]:
    return [r for r in _routes() if r.name.startswith(MINE)]


def test_every_route_declares_a_permission_or_is_public() -> None:
    routes = _my_routes()
    assert {r.name for r in routes} >= {"compliance:dashboard", "audit:event_list", "disclosure", "disclosure_checklist"}
    for route in routes:
        if route.name in samples.PUBLIC:
            assert getattr(route.callback, "login_required", True) is False, route.name
        else:
            assert _required_permission(route.callback) is not None, route.name
        if route.params:
            assert route.name in samples.SAMPLES, route.name


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.django_db
def test_role_matrix(role: Role, make_user: Callable[..., Any], contract_a: Any) -> None:
    user = make_user(role)
    if role == Role.MAINTENANCE:
        open_window(user)
    client = login_verified(Client(), user)
    wrong = {}
    for route in _my_routes():
        args = samples.SAMPLES[route.name]({}) if route.name in samples.SAMPLES else []
        status = client.get(reverse(route.name, args=args)).status_code
        if route.name in samples.PUBLIC:
            expected = samples.PUBLIC[route.name]
        else:
            expected = 200 if _required_permission(route.callback) in ROLE_PERMISSIONS[role] else 403
        if status != expected:
            wrong[route.name] = (status, expected)
    assert wrong == {}, f"{role}: (got, expected) {wrong}"


@pytest.mark.django_db
def test_anonymous_requests_are_sent_to_login_except_public_pages() -> None:
    client = Client()
    for route in _my_routes():
        args = samples.SAMPLES[route.name]({}) if route.name in samples.SAMPLES else []
        url = reverse(route.name, args=args)
        response = client.get(url)
        if route.name in samples.PUBLIC:
            assert response.status_code == samples.PUBLIC[route.name], url
        else:
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("accounts:login")), url
