"""Regenerating backup codes asks for the password or a fresh authenticator code (never a backup code,
never a code used before); wrong answers are audited and, after five, the session ends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from agency.models import Role
from agency.otp_storage import backup_code_tag
from agency.services import backup_codes_regenerate
from audit.models import AuditEvent, Outcome

from ..conftest import login_verified, totp_now
from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("accounts:backup_codes_regenerate")


@pytest.fixture
def holder() -> Any:
    return UserFactory(role=Role.AGENCY_CLERK)


@pytest.fixture
def client(holder: Any) -> Client:
    return login_verified(Client(), holder)


def _codes(user: Any) -> set[str]:
    """The stored backup codes (kept only as keyed hashes)."""
    return set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def _tags(codes: list[str]) -> set[str]:
    return {backup_code_tag(code) for code in codes}


def test_the_page_asks_before_anything_changes(client: Client, holder: Any) -> None:
    old = backup_codes_regenerate(user=holder)
    page = client.get(URL)
    assert page.status_code == 200
    assert "パスワード" in page.content.decode() and "確認コード" in page.content.decode()
    assert _codes(holder) == _tags(old)
    refused = client.post(URL, {})
    assert "入力してください" in refused.content.decode() and _codes(holder) == _tags(old)


def test_the_password_regenerates_the_codes(client: Client, holder: Any) -> None:
    old = backup_codes_regenerate(user=holder)

    response = client.post(URL, {"password": TEST_PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("accounts:backup_codes")
    shown = client.get(response["Location"]).content.decode()
    new = _codes(holder)
    displayed = set(re.findall(r"\b[a-z0-9]{8}\b", shown))
    assert new.isdisjoint(_tags(old)) and len(new) == 10 and new <= _tags(sorted(displayed))
    assert AuditEvent.objects.get(action="auth.reauthenticated").detail == {"factor": "password"}
    assert AuditEvent.objects.filter(action="auth.backup_codes_regenerated", actor_id=holder.pk).exists()


def test_a_fresh_authenticator_code_regenerates_them_once(client: Client, holder: Any) -> None:
    code = totp_now(holder)

    first = client.post(URL, {"token": code})
    assert first.status_code == 302
    codes = _codes(holder)
    replayed = client.post(URL, {"token": code})

    assert replayed.status_code == 200 and "正しくありません" in replayed.content.decode()
    assert _codes(holder) == codes
    assert AuditEvent.objects.get(action="auth.reauthentication_failed").outcome == Outcome.FAILURE


def test_a_wrong_password_or_a_backup_code_changes_nothing(client: Client, holder: Any) -> None:
    old = backup_codes_regenerate(user=holder)

    for data in ({"password": "Wrong#password77"}, {"token": old[0]}):
        response = client.post(URL, data)
        assert response.status_code == 200 and "正しくありません" in response.content.decode()

    assert _codes(holder) == _tags(old)
    assert StaticDevice.objects.get(user=holder).token_set.count() == 10  # the backup code was not spent
    assert AuditEvent.objects.filter(action="auth.reauthentication_failed").count() == 2


def test_five_wrong_answers_end_the_session(client: Client, holder: Any) -> None:
    for _attempt in range(4):
        assert client.post(URL, {"password": "Wrong#password77"}).status_code == 200
    ended = client.post(URL, {"password": "Wrong#password77"})

    assert ended.status_code == 302 and ended["Location"] == reverse("accounts:login")
    assert client.get(URL).status_code == 302  # logged out
    assert AuditEvent.objects.filter(action="auth.logout_forced", actor_id=holder.pk).exists()
