"""Lockout counts one user name from one address: five failures lock that pair only (the holder logs in
from elsewhere), every further lockout of the pair doubles the wait, and the administrators are
alerted once per lockout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import Role
from audit.models import AuditEvent

from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ATTACKER, HOLDER = "203.0.113.66", "198.51.100.7"


def _login(address: str, username: str, password: str = TEST_PASSWORD) -> int:
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password}).status_code


def _fail(address: str, username: str, times: int) -> list[int]:
    return [_login(address, username, "Wrong#password99") for _ in range(times)]


@pytest.fixture
def clerk() -> Any:
    return UserFactory(role=Role.AGENCY_CLERK)


@pytest.fixture
def admin() -> Any:
    return UserFactory(role=Role.AGENCY_ADMIN, email="security@agency.example.jp")


def test_failures_from_one_address_lock_only_that_address(clerk: Any) -> None:
    assert _fail(ATTACKER, clerk.username, 5)[-1] == 429

    assert _login(ATTACKER, clerk.username) == 429  # even the right password, from there
    assert _login(HOLDER, clerk.username) == 302  # the holder, from elsewhere, logs in


def test_each_further_lockout_of_the_pair_doubles_the_wait(clerk: Any, settings: Any) -> None:
    base = settings.AXES_COOLOFF_BASE
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert _fail(ATTACKER, clerk.username, 5)[-1] == 429
        clock.move_to(start + base + dt.timedelta(minutes=1))
        assert _fail(ATTACKER, clerk.username, 5)[-1] == 429  # open again after the base wait; locked again
        probe = start + 2 * base + dt.timedelta(minutes=2)
        clock.move_to(probe)
        assert _login(ATTACKER, clerk.username) == 429  # the second lockout lasts longer than the first
        # (an attempt while locked restarts the wait: the next try must wait the doubled time from it)
        clock.move_to(probe + 2 * base - dt.timedelta(minutes=1))
        assert _login(ATTACKER, clerk.username) == 429
        clock.move_to(probe + 2 * base - dt.timedelta(minutes=1) + 2 * base + dt.timedelta(minutes=1))
        assert _login(ATTACKER, clerk.username) == 302


def test_the_wait_is_capped(clerk: Any, settings: Any) -> None:
    settings.AXES_COOLOFF_MAX = settings.AXES_COOLOFF_BASE
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _fail(ATTACKER, clerk.username, 5)
        clock.move_to(start + settings.AXES_COOLOFF_BASE + dt.timedelta(minutes=1))
        _fail(ATTACKER, clerk.username, 5)
        clock.move_to(start + 2 * settings.AXES_COOLOFF_BASE + dt.timedelta(minutes=3))
        assert _login(ATTACKER, clerk.username) == 302


def test_administrators_are_alerted_once_per_lockout(clerk: Any, admin: Any, capture: Any) -> None:
    with capture(execute=True):
        _fail(ATTACKER, clerk.username, 5)
        _fail(ATTACKER, clerk.username, 3)  # refused while locked: audited, no new alert

    [alert] = mail.outbox
    assert alert.to == ["security@agency.example.jp"] and "アカウントロック" in alert.subject
    assert clerk.username in alert.body and ATTACKER in alert.body and "他の接続元からは利用できます" in alert.body
    assert AuditEvent.objects.filter(action="auth.lockout", actor_label=clerk.username).count() >= 2
