"""Login with password and TOTP, backup codes, lockout, timeouts and the password rules."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency import services
from agency.models import Role, User
from agency.otp_storage import backup_code_tag
from audit.models import AuditEvent

from ..conftest import login_verified, totp_now
from ..factories import TEST_PASSWORD, InstitutionFactory, UserFactory

LOGIN = reverse("accounts:login")
OTP = reverse("accounts:otp_verify")
HOME = reverse("home")


def _password_step(client: Client, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.mark.django_db
def test_login_with_password_then_totp_reaches_home() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    client = Client()
    response = _password_step(client, user.username)
    assert response.status_code == 302
    assert response["Location"].startswith(OTP)

    response = client.post(OTP, {"token": totp_now(user)})
    assert response.status_code == 302
    assert response["Location"] == HOME
    page = client.get(HOME)
    assert page.status_code == 200
    assert "事務点検担当" in page.content.decode()
    actions = list(AuditEvent.objects.filter(actor_id=user.pk).values_list("action", flat=True))
    assert "auth.login" in actions
    assert "auth.otp_verified" in actions


@pytest.mark.django_db
def test_password_only_session_reaches_nothing_but_the_second_factor(insurer_a: Any, contract_a: Any) -> None:
    user = UserFactory(role=Role.AGENCY_ADMIN)
    client = Client()
    _password_step(client, user.username)
    protected = [
        HOME,
        reverse("parties:insurer_list"),
        reverse("parties:insurer_detail", args=[insurer_a.number]),
        reverse("parties:institution_detail", args=[contract_a.institution.number]),
        reverse("parties:contract_detail", args=[contract_a.pk]),
        reverse("parties:user_list"),
        reverse("accounts:password_change"),
        "/admin/",
    ]
    for url in protected:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(OTP) or "/admin/login/" in response["Location"], url
    api = client.get("/api/v1/insurers/")
    assert api.status_code == 403
    assert api.json()["code"] == "otp_required"
    assert api.json()["detail"] == "二要素認証が済んでいません。"


@pytest.mark.django_db
def test_wrong_totp_is_refused_and_audited() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    client = Client()
    _password_step(client, user.username)
    wrong = f"{(int(totp_now(user)) + 1) % 1_000_000:06d}"
    response = client.post(OTP, {"token": wrong})
    assert response.status_code == 200
    assert client.get(HOME).status_code == 302
    assert AuditEvent.objects.filter(actor_id=user.pk, action="auth.otp_failed").exists()


@pytest.mark.django_db
def test_first_login_enrols_totp_and_shows_single_use_backup_codes() -> None:
    user = UserFactory(role=Role.INSTITUTION_STAFF, institution=InstitutionFactory(), totp=False)
    client = Client()
    response = _password_step(client, user.username)
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:otp_setup")

    page = client.get(reverse("accounts:otp_setup"))
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    from django_otp.oath import TOTP

    token = f"{TOTP(device.bin_key).token():06d}"
    response = client.post(reverse("accounts:otp_setup"), {"token": token})
    assert response["Location"] == reverse("accounts:backup_codes")
    codes_page = client.get(reverse("accounts:backup_codes")).content.decode()
    # the page shows the codes; the database keeps only their keyed hashes (agency.otp_storage)
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", codes_page)
    assert len(codes) == 10
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == {backup_code_tag(code) for code in codes}
    assert client.get(reverse("accounts:backup_codes")).status_code == 302  # shown once
    assert TOTPDevice.objects.get(user=user).confirmed
    assert AuditEvent.objects.filter(actor_id=user.pk, action="auth.otp_enrolled").exists()

    # A backup code logs in once, and only once.
    for expected_ok in (True, False):
        other = Client()
        _password_step(other, user.username)
        other.post(OTP, {"token": codes[0]})
        assert (other.get(HOME).status_code == 200) is expected_ok


@pytest.mark.django_db
def test_lockout_after_five_failures_with_generic_error() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    client = Client()
    unknown = _password_step(client, "no-such-user", "Wrong#password99").content.decode()
    for _ in range(4):
        wrong = _password_step(client, user.username, "Wrong#password99")
        assert wrong.status_code == 200
    generic = wrong.content.decode()
    # The same message whether the user exists or not.
    assert "正しいユーザー名とパスワードを入力してください" in generic
    assert "正しいユーザー名とパスワードを入力してください" in unknown

    fifth = _password_step(client, user.username, "Wrong#password99")
    assert fifth.status_code == 429
    # Locked: even the right password is refused now.
    sixth = _password_step(client, user.username)
    assert sixth.status_code == 429
    assert client.get(HOME).status_code == 302
    assert AuditEvent.objects.filter(action="auth.lockout", actor_label=user.username).exists()
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_label=user.username).count() >= 5


@pytest.mark.django_db
def test_idle_timeout_ends_the_session_and_is_audited() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    with time_machine.travel(dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        client = Client()
        _password_step(client, user.username)
        client.post(OTP, {"token": totp_now(user)})
        assert client.get(HOME).status_code == 200
        clock.shift(dt.timedelta(minutes=14))
        assert client.get(HOME).status_code == 200  # activity renews the idle clock
        clock.shift(dt.timedelta(minutes=16))
        response = client.get(HOME)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert client.get(HOME).status_code == 302
    event = AuditEvent.objects.get(actor_id=user.pk, action="auth.session_timeout")
    assert event.detail["reason"] == "idle_timeout"


def _session_writes(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(HOME).status_code == 200
    return sum(1 for query in queries if query["sql"].startswith('UPDATE "django_session"'))


@pytest.mark.django_db
def test_the_last_activity_is_written_once_per_resolution_and_the_idle_timeout_never_ends_late() -> None:
    """Requests within SESSION_ACTIVITY_RESOLUTION (30 s) of the recorded activity leave the session row alone; the
    idle timeout counts from the recorded activity, so a session ends at most 30 s early and never late."""
    user = UserFactory(role=Role.AGENCY_CLERK)
    with time_machine.travel(dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        client = Client()
        _password_step(client, user.username)
        client.post(OTP, {"token": totp_now(user)})
        clock.shift(dt.timedelta(seconds=10))
        assert _session_writes(client) == 0
        clock.shift(dt.timedelta(seconds=19))
        assert _session_writes(client) == 0
        clock.shift(dt.timedelta(seconds=1))  # 30 s after the login's activity
        assert _session_writes(client) == 1
        clock.shift(dt.timedelta(seconds=20))  # recorded: 9:00:30, real last request: 9:00:50
        assert _session_writes(client) == 0
        clock.shift(dt.timedelta(minutes=15, seconds=-19))  # 15 min 1 s after 9:00:30, 14 min 41 s after 9:00:50
        response = client.get(HOME)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert AuditEvent.objects.get(actor_id=user.pk, action="auth.session_timeout").detail["reason"] == "idle_timeout"


@pytest.mark.django_db
def test_absolute_session_lifetime_is_ten_hours() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    with time_machine.travel(dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC), tick=False) as clock:
        client = Client()
        _password_step(client, user.username)
        client.post(OTP, {"token": totp_now(user)})
        for _ in range(50):  # active every 14 minutes: never idle
            clock.shift(dt.timedelta(minutes=14))
            if client.get(HOME).status_code != 200:
                break
    elapsed_minutes = (_ + 1) * 14
    assert 600 <= elapsed_minutes < 615
    assert AuditEvent.objects.get(actor_id=user.pk, action="auth.session_timeout").detail["reason"] == "absolute_timeout"


@pytest.mark.django_db
def test_pages_for_logged_in_users_are_not_cached(client: Client) -> None:
    login_verified(client, UserFactory(role=Role.AGENCY_CLERK))
    response = client.get(HOME)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_passwords_are_stored_as_argon2id_and_never_in_clear() -> None:
    user = services.user_create(username="hashcheck", password="Qz9!kWm3#vTp7r", role=Role.AGENCY_CLERK, actor=None)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM agency_user WHERE id = %s", [user.pk])
        assert "Qz9!kWm3#vTp7r" not in cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("Ab1!efgh", False),  # too short
        ("Abcdefgh12345", False),  # no symbol
        ("abcdefgh!@#$%", False),  # no digit
        ("Xk7#qPz2!mWv9", True),  # 13 mixed
        ("Password123!!x", False),  # common word
        ("Kenshin2026!!!", False),  # domain word
        ("taro.yamada#Q82x", False),  # contains the user name
        ("Zq!19800401abcx", False),  # contains the birth date
        ("Zq!0401mnbvcxz", False),  # contains MMDD of the birth date
        ("v" * 50 + "#7Lq", True),  # long passphrase
    ],
)
@pytest.mark.django_db
def test_password_policy(password: str, accepted: bool) -> None:
    user = User(username="taro.yamada", first_name="Taro", last_name="Yamada", role=Role.AGENCY_CLERK,
                birth_date=dt.date(1980, 4, 1))
    if accepted:
        password_validation.validate_password(password, user)
    else:
        with pytest.raises(ValidationError):
            password_validation.validate_password(password, user)


@pytest.mark.django_db
def test_none_of_the_last_twelve_passwords_can_be_reused() -> None:
    user = services.user_create(username="rotator", password="Start#Pass0001x", role=Role.AGENCY_CLERK, actor=None)
    history = [f"Rotate#Word{n:04d}q" for n in range(1, 12)]
    for password in history:
        services.user_password_change(user=user, new_password=password)
    for old in ["Start#Pass0001x", *history]:
        with pytest.raises(ValidationError) as excinfo:
            services.user_password_change(user=user, new_password=old)
        assert excinfo.value.error_list[0].code == "password_reused"
    services.user_password_change(user=user, new_password="Fresh#Word9999q")
    # Thirteen changes later the first one has left the window.
    services.user_password_change(user=user, new_password="Start#Pass0001x")


@pytest.mark.django_db
def test_maintenance_account_only_inside_an_approved_window() -> None:
    from .helpers import open_window

    user = UserFactory(role=Role.MAINTENANCE)
    client = Client()
    refused = _password_step(client, user.username)
    assert refused.status_code == 200
    assert "正しいユーザー名とパスワードを入力してください" in refused.content.decode()
    assert AuditEvent.objects.filter(actor_id=user.pk, action="auth.login_refused").exists()

    window = open_window(user, minutes=10)
    _password_step(client, user.username)
    client.post(OTP, {"token": totp_now(user)})
    assert client.get(HOME).status_code == 200
    with time_machine.travel(window.ends_at + dt.timedelta(seconds=1)):
        response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert AuditEvent.objects.filter(actor_id=user.pk, action="auth.logout", detail__reason="maintenance_window_closed").exists()
