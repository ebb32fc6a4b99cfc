"""The audit log: append-only in the database, hash-chained, and fed by every authentication event."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from agency.models import Role
from audit import chain, dbguards
from audit.checkpoints import CheckpointFile
from audit.models import AppendOnlyError, AuditEvent, Outcome
from audit.selectors import ROW_FIELDS, audit_chain_rows, audit_chain_verify, audit_integrity_verify
from audit.services import audit_checkpoint_write, audit_record, audit_record_many

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


def _tamper(sql: str, params: list[Any] | None = None) -> None:
    """Change the table behind the application's back, as a database superuser could."""
    dbguards.remove(connection)
    try:
        _raw(sql, params)
    finally:
        dbguards.install(connection)


@pytest.fixture
def sealed(db: Any) -> list[AuditEvent]:
    """Seven events and the checkpoint that seals them (its own event is row 8, the head it seals)."""
    rows = [audit_record(action="test.event", actor_label="system", detail={"n": n}) for n in range(7)]
    audit_checkpoint_write(reason="schedule")
    assert audit_integrity_verify().intact
    return rows


def _problems() -> set[tuple[str, int | None]]:
    return {(p.kind, p.seq) for p in audit_integrity_verify().problems}


def _verify_fails(kind: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match=f"first: {kind}"):
        call_command("verify_audit_chain", stderr=out)
    return out.getvalue()


# The nine tamper cases. UPDATE and DELETE are refused by the guards (tests above); with the guards
# removed, every other change is detected by verify_audit_chain and the compliance probe.


def test_tamper_middle_edit_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("UPDATE audit_auditevent SET detail = '{\"n\": 99}' WHERE seq = 4")
    assert ("rewritten", 4) in _problems()
    assert "連番 4 の内容がハッシュと一致しません" in _verify_fails("rewritten")


def test_tamper_middle_deletion_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq = 4")
    assert _problems() == {("deleted", 4)}
    assert "連番 4 の行がありません" in _verify_fails("deleted")


def test_tamper_last_row_edit_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE seq = 8")
    assert ("rewritten", 8) in _problems()
    _verify_fails("rewritten")


def test_tamper_tail_truncation_of_one_row_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq = 8")
    assert _problems() == {("truncated", 8)}
    assert "末尾の 1 行が削除" in _verify_fails("truncated")


def test_tamper_tail_truncation_of_many_rows_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq >= 3")
    assert _problems() == {("truncated", 3)}
    assert "末尾の 6 行が削除" in _verify_fails("truncated")


def _recompute_from(seq: int) -> None:
    """Recompute prev_hash and row_hash of every row from ``seq`` on, as an intruder would."""
    rows = list(audit_chain_rows())
    prev = rows[seq - 2]["row_hash"] if seq > 1 else chain.GENESIS_HASH
    dbguards.remove(connection)
    try:
        for row in rows[seq - 1 :]:
            digest = chain.row_hash(prev, row)
            _raw("UPDATE audit_auditevent SET prev_hash = %s, row_hash = %s WHERE seq = %s", [prev, digest, row["seq"]])
            prev = digest
    finally:
        dbguards.install(connection)


def test_tamper_recomputed_tail_is_detected(sealed: list[AuditEvent]) -> None:
    _tamper("UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE seq = 3")
    _recompute_from(3)
    problems = _problems()
    # the plain chain holds again, but the seals of rows 3..8 and the checkpoint's head do not
    assert {seq for kind, seq in problems if kind == "forged"} == {3, 4, 5, 6, 7, 8}
    assert ("rewritten", 8) in problems
    assert chain.verify(audit_chain_rows()) is None
    _verify_fails("forged")


def test_tamper_forged_append_is_detected(sealed: list[AuditEvent]) -> None:
    head = AuditEvent.objects.get(seq=8)
    fields = {"seq": 9, "occurred_at": head.occurred_at, "actor_id": None, "actor_label": "forger", "actor_role": "",
              "tenant": "", "action": "auth.login", "outcome": "success", "object_type": "", "object_ids": [], "ip": None,
              "method": "", "path": "", "request_id": "", "session_hash": "", "detail": {}}
    digest = chain.row_hash(head.row_hash, fields)
    forged_mac = chain.row_mac(b"a key the intruder made up", digest)
    _tamper(
        "INSERT INTO audit_auditevent (seq, occurred_at, actor_id, actor_label, actor_role, tenant, action, outcome, "
        "object_type, object_ids, ip, method, path, request_id, session_hash, detail, prev_hash, row_hash, row_mac) "
        "VALUES (9, %s, NULL, 'forger', '', '', 'auth.login', 'success', '', '[]', NULL, '', '', '', '', '{}', %s, %s, %s)",
        [fields["occurred_at"], head.row_hash, digest, forged_mac],
    )
    assert _problems() == {("forged", 9)}
    assert "連番 9 の封印（HMAC）が一致しません" in _verify_fails("forged")
    # without any seal it is refused as well
    _tamper("UPDATE audit_auditevent SET row_mac = '' WHERE seq = 9")
    assert _problems() == {("forged", 9)}


def test_checkpoint_file_changes_are_detected(sealed: list[AuditEvent]) -> None:
    audit_checkpoint_write(reason="schedule")
    path = CheckpointFile().path
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    path.write_text(lines[1] + "\n", encoding="utf-8")  # the first checkpoint removed
    kinds = {p.kind for p in audit_integrity_verify().problems}
    assert kinds == {"checkpoint"}
    path.write_text("", encoding="utf-8")  # every checkpoint removed: the log still names them
    assert {p.kind for p in audit_integrity_verify().problems} == {"checkpoint"}
    edited = json.loads(lines[0])
    edited["seq"] = 3
    path.write_text(json.dumps(edited) + "\n" + lines[1] + "\n", encoding="utf-8")
    assert any("封印が一致しません" in p.message for p in audit_integrity_verify().problems)


def test_checkpoint_seals_the_head_outside_the_database(sealed: list[AuditEvent]) -> None:
    entry = json.loads(CheckpointFile().path.read_text(encoding="utf-8").splitlines()[0])
    head = AuditEvent.objects.order_by("-seq").first()
    assert head is not None
    assert head.action == "audit.checkpoint"
    assert (entry["seq"], entry["row_hash"]) == (head.seq, head.row_hash)
    assert entry["reason"] == "schedule"
    assert settings.AUDIT_HMAC_KEY not in json.dumps(entry)
    assert all(event.row_mac for event in AuditEvent.objects.all())
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "checkpoint seq 8" in out.getvalue()


def test_checkpoint_needs_a_key(db: Any, settings: Any) -> None:
    settings.AUDIT_HMAC_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_HMAC_KEY"):
        call_command("audit_checkpoint")
    report = audit_integrity_verify()
    assert report.intact
    assert report.warnings


def test_checkpoint_task_runs_on_the_beat_schedule(db: Any, settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == "audit.checkpoint_write"
    from agency.celery import app  # the Celery app knows every task once Django is ready

    seq = app.tasks["audit.checkpoint_write"].apply().get()
    assert CheckpointFile().read(settings.AUDIT_HMAC_KEY.encode()).latest.seq == seq  # type: ignore[union-attr]


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


def test_bulk_append_chains_and_seals_like_single_appends(db: Any) -> None:
    """``audit_record_many`` appends in batches between single appends: one unbroken, sealed chain, in order,
    with the same masking; a rewritten bulk row is still found."""
    user = UserFactory(role=Role.AGENCY_CLERK)
    audit_record(action="test.before", actor_label="system")
    moment = AuditEvent.objects.get(seq=1).occurred_at
    appended = audit_record_many(
        (
            {"occurred_at": moment, "actor": user, "action": "intake.record.view", "object_type": "record",
             "object_ids": [n], "ip": "10.0.0.1", "method": "GET", "path": f"/intake/records/{n}/",
             "detail": {"n": n, "password": "hunter2"}}
            for n in range(7)
        ),
        batch_size=3,
    )
    audit_record(action="test.after", actor_label="system")
    assert appended == 7
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [row.action for row in rows] == ["test.before", *["intake.record.view"] * 7, "test.after"]
    assert [row.seq for row in rows] == list(range(1, 10))
    bulk = rows[1:8]
    assert [row.object_ids for row in bulk] == [[str(n)] for n in range(7)]
    assert {row.actor_id for row in bulk} == {user.pk}
    assert {row.actor_role for row in bulk} == {Role.AGENCY_CLERK}
    assert bulk[2].detail == {"n": 2, "password": "***"}
    key = settings.AUDIT_HMAC_KEY.encode()
    assert all(row.row_mac == chain.row_mac(key, row.row_hash) for row in rows)
    assert audit_integrity_verify().intact
    _tamper("UPDATE audit_auditevent SET path = '/forged/' WHERE seq = 4")
    assert ("rewritten", 4) in _problems()


def test_verify_reads_every_hashed_value_as_it_was_written(db: Any) -> None:
    """The verifier streams the hashed columns without the ORM on PostgreSQL: nested and Japanese JSON, IPv6,
    microsecond timestamps in any zone and null actors read back so that every hash matches, and what it
    reads is what the ORM reads; one changed nested value is named by its row."""
    moment = dt.datetime(2026, 3, 31, 23, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    audit_record(action="test.plain", actor_label="system")
    audit_record_many([
        {"occurred_at": moment, "action": "intake.record.view", "actor_label": "事務 太郎", "object_type": "record",
         "object_ids": ["7", "8"], "ip": "2001:db8::1", "method": "GET", "path": "/intake/records/7/",
         "detail": {"氏名": "健診 花子", "nested": {"b": [1, 2.5, None, True], "a": "ｶﾅ\n\"引用\""}, "amount": Decimal("12.30")}},
        {"occurred_at": moment - dt.timedelta(days=20_000), "action": "test.old", "actor_label": "",
         "detail": {}, "object_ids": []},
    ])
    assert audit_integrity_verify().intact
    streamed = list(audit_chain_rows(batch_size=2))
    assert [row["seq"] for row in streamed] == [1, 2, 3]
    orm = list(AuditEvent.objects.order_by("seq").values(*ROW_FIELDS))
    for read, expected in zip(streamed, orm, strict=True):
        assert chain.canonical(read) == chain.canonical(expected)
        assert {k: v for k, v in read.items() if k != "occurred_at"} == {k: v for k, v in expected.items() if k != "occurred_at"}
    _tamper("""UPDATE audit_auditevent SET detail = '{"氏名": "健診 花子", "nested": {"b": [1, 2.5, null, false], "a": "ｶﾅ\\n\\"引用\\""}, "amount": "12.30"}' WHERE seq = 2""")
    assert _problems() == {("rewritten", 2)}
