"""Shared fixtures: a user per role, a client logged in with both factors, the audit guards, on-commit capture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, override_settings
from django.urls import path
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.models import Role, User
from audit import dbguards
from billing import dbguards as billing_dbguards

from .factories import ContractFactory, InstitutionFactory, InsurerFactory, TOTPDeviceFactory, UserFactory

_guards_removed = False


@pytest.fixture(autouse=True)
def _audit_append_only_guards(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    """Keep the audit table append-only (and billing's frozen rows immutable) in every test, yet let
    transactional tests flush the database.

    Transactional tests end with a flush that empties every table, which the guards refuse; for those
    tests the guards are lifted just before the flush and reinstalled before the next test.
    """
    global _guards_removed
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
        or (marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
    if _guards_removed and (transactional or marker is not None or "db" in request.fixturenames):
        with django_db_blocker.unblock():
            dbguards.install(connection)
            billing_dbguards.install(connection)
            if not connection.in_atomic_block:
                _guards_removed = False
    yield
    if transactional:
        with django_db_blocker.unblock():
            dbguards.remove(connection)
            billing_dbguards.remove(connection)  # a closed month and issued invoices refuse the flush too
        _guards_removed = True


@pytest.fixture(autouse=True)
def _isolated_storage(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test keeps received archives, evidence and audit checkpoints in directories of its own
    (parallel test workers must not see each other's files in flight)."""
    settings.STORAGE_DIR = tmp_path_factory.mktemp("storage")
    settings.AUDIT_CHECKPOINT_DIR = tmp_path_factory.mktemp("audit-checkpoints")


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Any:
    """``with capture(execute=True):`` runs what is queued for after the commit (the check task, mail)."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def admin_urls() -> Iterator[None]:
    """The portal's URLconf with the admin's URLs taken now, after agency.admin has registered
    its models (agency.urls may have been imported before this module)."""
    import agency.urls

    patterns = [p for p in agency.urls.urlpatterns if getattr(p, "namespace", None) != "admin"]
    urlconf = type("PortalUrlConf", (), {"urlpatterns": [*patterns, path("admin/", admin.site.urls)]})
    with override_settings(ROOT_URLCONF=urlconf):
        yield


def totp_now(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def login_verified(client: Client, user: User) -> Client:
    """Log ``client`` in as ``user`` with both factors, as the login and OTP pages would."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDeviceFactory(user=user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def insurer_a(db: Any) -> Any:
    return InsurerFactory(name="保険者A")


@pytest.fixture
def insurer_b(db: Any) -> Any:
    return InsurerFactory(name="保険者B")


@pytest.fixture
def institution_a(db: Any) -> Any:
    return InstitutionFactory(name="健診機関A")


@pytest.fixture
def institution_b(db: Any) -> Any:
    return InstitutionFactory(name="健診機関B")


@pytest.fixture
def contract_a(insurer_a: Any, institution_a: Any) -> Any:
    return ContractFactory(insurer=insurer_a, institution=institution_a)


@pytest.fixture
def contract_b(insurer_b: Any, institution_b: Any) -> Any:
    return ContractFactory(insurer=insurer_b, institution=institution_b)


@pytest.fixture
def make_user(db: Any, insurer_a: Any, institution_a: Any) -> Callable[..., User]:
    def make(role: str, **kwargs: Any) -> User:
        if role == Role.INSURER_STAFF:
            kwargs.setdefault("insurer", insurer_a)
        if role == Role.INSTITUTION_STAFF:
            kwargs.setdefault("institution", institution_a)
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def user_client(client: Client, make_user: Callable[..., User]) -> Callable[..., Client]:
    """A client logged in with both factors as a new user of ``role``."""

    def make(role: str, **kwargs: Any) -> Client:
        if role == Role.MAINTENANCE:
            from tests.agency.helpers import open_window

            user = make_user(role, **kwargs)
            open_window(user)
        else:
            user = make_user(role, **kwargs)
        return login_verified(Client(), user)

    return make
