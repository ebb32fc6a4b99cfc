"""The audit log: append-only in the database, hash-chained, and fed by every authentication event."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from agency.models import Role
from audit import dbguards
from audit.models import AppendOnlyError, AuditEvent, Outcome
from audit.selectors import audit_chain_verify
from audit.services import audit_record

from ..conftest import login_verified
from ..factories import TEST_PASSWORD, UserFactory


@pytest.fixture
def events(db: Any) -> list[AuditEvent]:
    return [audit_record(action="test.event", actor_label="system", detail={"n": n}) for n in range(5)]


def _raw(sql: str, params: list[Any] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_database_rejects_update(events: list[AuditEvent]) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 2")
    assert AuditEvent.objects.get(seq=2).action == "test.event"


def test_database_rejects_delete(events: list[AuditEvent]) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM audit_auditevent WHERE seq = 3")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 5


def test_database_rejects_truncate_on_postgresql(events: list[AuditEvent]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL (SQLite's DELETE is covered above)")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("TRUNCATE audit_auditevent")


def test_orm_refuses_changes(events: list[AuditEvent]) -> None:
    event = events[0]
    event.action = "forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(seq=1).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_chain_links_every_row(events: list[AuditEvent]) -> None:
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    assert audit_chain_verify() is None
    call_command("verify_audit_chain")


def _tamper(sql: str) -> None:
    """Change the table behind the application's back, as a database superuser could."""
    dbguards.remove(connection)
    try:
        _raw(sql)
    finally:
        dbguards.install(connection)


def test_verify_names_the_first_altered_row(events: list[AuditEvent]) -> None:
    _tamper("UPDATE audit_auditevent SET detail = '{\"n\": 99}' WHERE seq = 3")
    broken = audit_chain_verify()
    assert broken is not None
    assert broken.seq == 3
    with pytest.raises(CommandError, match="seq 3"):
        call_command("verify_audit_chain")


def test_verify_finds_a_removed_row(events: list[AuditEvent]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    broken = audit_chain_verify()
    assert broken is not None
    assert broken.seq == 2


def test_verify_finds_a_changed_actor(events: list[AuditEvent]) -> None:
    _tamper("UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE seq = 5")
    assert audit_chain_verify().seq == 5  # type: ignore[union-attr]


def test_guards_are_in_place_after_migrations(db: Any) -> None:
    assert dbguards.installed(connection)


def test_secrets_in_detail_are_masked(db: Any) -> None:
    event = audit_record(action="test.secret", detail={"password": "x", "nested": {"otp_token": "123456"}, "ok": 1})
    assert event.detail == {"password": "***", "nested": {"otp_token": "***"}, "ok": 1}


@pytest.mark.django_db
def test_login_logout_and_failure_are_recorded_without_the_password() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.post(reverse("accounts:login"), {"username": user.username, "password": "Wrong#password77"})
    client.post(reverse("accounts:login"), {"username": user.username, "password": TEST_PASSWORD})
    client.post(reverse("accounts:logout"))
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.actor_label == user.username
    assert failed.outcome == Outcome.FAILURE
    assert failed.ip == "192.0.2.10"
    login = AuditEvent.objects.get(action="auth.login")
    assert login.actor_id == user.pk
    assert login.actor_role == Role.AGENCY_CLERK
    assert login.session_hash
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=user.pk).exists()
    dump = " ".join(str(v) for v in AuditEvent.objects.values_list("detail", "path", "actor_label"))
    assert "Wrong#password77" not in dump
    assert TEST_PASSWORD not in dump


@pytest.mark.django_db
def test_personal_data_read_is_recorded_with_the_objects_shown(contract_a: Any) -> None:
    admin = UserFactory(role=Role.AGENCY_ADMIN)
    client = login_verified(Client(), admin)
    response = client.get(reverse("parties:user_list"))
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="account.list")
    assert event.actor_id == admin.pk
    assert event.outcome == Outcome.SUCCESS
    assert str(admin.pk) in event.object_ids
    assert event.method == "GET"
    assert event.path == reverse("parties:user_list")
