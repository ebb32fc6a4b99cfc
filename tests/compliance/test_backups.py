"""Encrypted backups and restore drills.

The file format is tested everywhere; the backup and the drill themselves run ``pg_dump`` and
``pg_restore`` against the real PostgreSQL (``DATABASE_URL=postgres://…``) and are skipped on SQLite.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.checkpoints import CheckpointFile
from audit.selectors import audit_integrity_verify
from audit.services import audit_record
from compliance import backup, probes
from compliance.backup import BackupError
from compliance.models import BackupGeneration, ProbeStatus, RestoreDrill
from compliance.services.backup import checkpoint_sidecar

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql" or shutil.which("pg_dump") is None,
    reason="backups use pg_dump/pg_restore and need PostgreSQL: set DATABASE_URL=postgres://… to run these tests",
)


def _roundtrip(data: bytes, key: bytes) -> bytes:
    sealed = io.BytesIO()
    backup.encrypt_stream(io.BytesIO(data), sealed, key)
    return b"".join(backup.decrypt_stream(io.BytesIO(sealed.getvalue()), key))


@pytest.mark.parametrize("size", [0, 1, backup.CHUNK - 1, backup.CHUNK, backup.CHUNK + 1, 3 * backup.CHUNK + 17])
def test_encryption_roundtrip(size: int) -> None:
    data = os.urandom(size)
    assert _roundtrip(data, bytes(32)) == data


def _sealed(data: bytes) -> bytes:
    out = io.BytesIO()
    backup.encrypt_stream(io.BytesIO(data), out, bytes(32))
    return out.getvalue()


def test_ciphertext_reveals_nothing_of_the_dump() -> None:
    data = b"PGDMP" + b"examinee name" * 1000
    sealed = _sealed(data)
    assert sealed.startswith(backup.MAGIC)
    assert b"PGDMP" not in sealed and b"examinee" not in sealed


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # cut inside the last chunk
        lambda b: b[: len(backup.MAGIC) + backup.PREFIX_BYTES + 4 + backup.CHUNK + 16],  # cut at a chunk boundary
        lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:],  # one bit flipped
        lambda b: b"NOT-A-BACKUP" + b[12:],
    ],
)
def test_tampering_and_truncation_are_detected(damage: Any) -> None:
    sealed = damage(_sealed(os.urandom(2 * backup.CHUNK + 10)))
    with pytest.raises(BackupError):
        b"".join(backup.decrypt_stream(io.BytesIO(sealed), bytes(32)))


def test_wrong_key_is_detected() -> None:
    sealed = _sealed(b"data")
    with pytest.raises(BackupError, match="cannot be decrypted"):
        b"".join(backup.decrypt_stream(io.BytesIO(sealed), bytes([1]) * 32))


def test_key_setting(settings: Any) -> None:
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(BackupError, match="never written unencrypted"):
        backup.encryption_key()
    settings.BACKUP_ENCRYPTION_KEY = "short"
    with pytest.raises(BackupError):
        backup.encryption_key()
    settings.BACKUP_ENCRYPTION_KEY = KEY
    assert backup.encryption_key() == bytes(range(32))


@pytest.mark.django_db
def test_backup_refuses_without_postgresql_or_key(settings: Any, tmp_path: Path) -> None:
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError) as excinfo:
        call_command("backup", "--dir", str(tmp_path))
    message = str(excinfo.value)
    assert "PostgreSQL" in message or "BACKUP_ENCRYPTION_KEY" in message
    assert list(tmp_path.iterdir()) == []


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_backup_generations_and_restore_drill(settings: Any, tmp_path: Path, make_user: Any) -> None:
    settings.BACKUP_ENCRYPTION_KEY = KEY
    make_user("agency_clerk")
    for n in range(5):
        audit_record(action="test.event", actor_label="system", detail={"n": n})

    for _ in range(3):
        call_command("backup", "--dir", str(tmp_path), "--keep", "2")
    generations = list(BackupGeneration.objects.order_by("taken_at"))
    assert len(generations) == 3
    assert generations[0].pruned_at is not None and not Path(generations[0].path).exists()
    kept = [g for g in generations if g.pruned_at is None]
    assert len(kept) == 2 and all(Path(g.path).exists() for g in kept)
    latest = kept[-1]
    raw = Path(latest.path).read_bytes()
    assert raw.startswith(backup.MAGIC) and b"PGDMP" not in raw
    assert oct(Path(latest.path).stat().st_mode & 0o777) == "0o600"
    assert latest.row_counts["agency_user"] == 1
    assert latest.audit_head_seq is not None
    # each backup sealed the audit head its dump contains, outside the database and beside the dump
    checkpoints = CheckpointFile().read(settings.AUDIT_HMAC_KEY.encode()).checkpoints
    assert [c.reason for c in checkpoints] == ["backup"] * 3
    assert (checkpoints[-1].seq, checkpoints[-1].row_hash) == (latest.audit_head_seq, latest.audit_head_hash)
    assert checkpoint_sidecar(Path(latest.path)).read_text(encoding="utf-8").count(latest.audit_head_hash) == 1
    assert not checkpoint_sidecar(Path(generations[0].path)).exists()
    assert audit_integrity_verify().intact

    call_command("restore_drill")
    drill = RestoreDrill.objects.get()
    assert drill.succeeded, drill.detail
    assert drill.backup_id == latest.pk
    assert drill.chain_intact and drill.counts_match
    assert drill.data_age_seconds is not None and drill.data_age_seconds >= 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [drill.scratch_database])
        assert cursor.fetchone()[0] == 0  # the scratch database is gone
    assert probes.measure("backup_age").status == ProbeStatus.PASS
    assert probes.measure("restore_drill").status == ProbeStatus.PASS

    # a restored database whose figures differ from those recorded at backup time fails the drill
    BackupGeneration.objects.filter(pk=latest.pk).update(row_counts={**latest.row_counts, "agency_user": 99})
    with pytest.raises(CommandError, match="DO NOT match"):
        call_command("restore_drill")
    failed = RestoreDrill.objects.order_by("-started_at").first()
    assert failed.chain_intact and not failed.counts_match
    assert failed.detail["mismatches"] == {"agency_user": {"expected": 99, "restored": 1}}


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_drill_fails_on_an_altered_backup(settings: Any, tmp_path: Path) -> None:
    settings.BACKUP_ENCRYPTION_KEY = KEY
    audit_record(action="test.event", actor_label="system")
    call_command("backup", "--dir", str(tmp_path))
    generation = BackupGeneration.objects.get()
    data = bytearray(Path(generation.path).read_bytes())
    data[200] ^= 1
    Path(generation.path).write_bytes(bytes(data))
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("restore_drill")
    drill = RestoreDrill.objects.get()
    assert not drill.succeeded
    assert probes.measure("restore_drill").status == ProbeStatus.FAIL


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_backup_without_key_writes_nothing(settings: Any, tmp_path: Path) -> None:
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError, match="BACKUP_ENCRYPTION_KEY"):
        call_command("backup", "--dir", str(tmp_path))
    assert list(tmp_path.iterdir()) == []
