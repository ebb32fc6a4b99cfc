"""Backups (encrypted ``pg_dump -Fc`` generations) and restore drills into a scratch database.

A backup is taken inside one REPEATABLE READ transaction whose snapshot ``pg_dump`` shares, so the
row counts and the audit-chain head recorded with it describe exactly what the file contains. The
restore drill restores the newest generation into a new database, verifies the audit hash chain
and every table's row count there, drops the scratch database and records duration and data age.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.utils import load_backend
from django.utils import timezone

from audit import chain, integrity
from audit.checkpoints import CheckpointError, CheckpointFile, configured_key
from audit.models import Outcome
from audit.selectors import audit_chain_rows
from audit.services import audit_checkpoint_write, audit_record
from compliance import backup
from compliance.backup import BackupError, PgTarget
from compliance.models import BackupGeneration, ProbeResult, RestoreDrill
from compliance.services.checklist import probes_run

logger = logging.getLogger(__name__)

DEFAULT_KEEP = 7
DRILL_ALIAS = "compliance_restore_drill"
_LOCK_KEY = 0x6261636B7570  # "backup"


def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", Path(settings.VAR_DIR) / "backups"))


def backup_keep() -> int:
    return int(getattr(settings, "BACKUP_KEEP", DEFAULT_KEEP))


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One backup or drill at a time (a session-level advisory lock; a second run is refused)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise BackupError("another backup or restore drill is running")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise BackupError(f"backups use pg_dump and need PostgreSQL (this database is {connection.vendor})")


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _table_counts(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT count(*) FROM {_quote(table)}")
        counts[table] = cursor.fetchone()[0]
    return counts


def _tables() -> list[str]:
    return sorted(connection.introspection.table_names())


def backup_create(*, directory: Path | None = None, keep: int | None = None) -> BackupGeneration:
    """Write one encrypted generation, record it, and prune generations beyond ``keep``."""
    _require_postgresql()
    key = backup.encryption_key()
    if connection.in_atomic_block:
        raise BackupError("a backup runs in its own transaction; call it outside any transaction")
    with _exclusive():
        return _backup_create(key, directory=directory, keep=keep)


def _backup_create(key: bytes, *, directory: Path | None, keep: int | None) -> BackupGeneration:
    directory = directory or backup_dir()
    target = PgTarget.from_settings(connection.settings_dict)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), now()")
            snapshot, taken_at = cursor.fetchone()
            counts = _table_counts(cursor, _tables())
            cursor.execute("SELECT seq, row_hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1")
            head = cursor.fetchone()
            stamp = timezone.localtime(taken_at).strftime("%Y%m%d-%H%M%S")
            path = directory / f"{target.name}-{stamp}-{secrets.token_hex(4)}.dump.enc"
            size, sha256 = backup.dump_encrypted(target, path, key, snapshot=snapshot)
    except BackupError as exc:
        audit_record(action="compliance.backup.failed", actor_label="system", outcome=Outcome.FAILURE,
                     detail={"error": str(exc)[:500]})
        raise
    generation = BackupGeneration(
        path=str(path), database=target.name, taken_at=taken_at, finished_at=timezone.now(), size=size, sha256=sha256,
        row_counts=counts, audit_head_seq=head[0] if head else None, audit_head_hash=head[1] if head else "",
    )
    generation.full_clean()
    with transaction.atomic():
        generation.save()
        audit_record(action="compliance.backup.created", actor_label="system", object_type="backup",
                     object_ids=[generation.pk], detail={"size": size, "sha256": sha256, "tables": len(counts)})
    _checkpoint_backup(generation, path)
    backup_prune(keep=keep if keep is not None else backup_keep())
    return generation


def checkpoint_sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".audit-checkpoint.json")


def _checkpoint_backup(generation: BackupGeneration, path: Path) -> None:
    """Seal the audit head the dump contains into the checkpoint file, with a copy beside the dump.

    A failure is logged and audited but does not undo the backup: the probe then reports the
    checkpoint as missing or old.
    """
    head = (generation.audit_head_seq or 0, generation.audit_head_hash or chain.GENESIS_HASH)
    try:
        checkpoint = audit_checkpoint_write(reason="backup", note=path.name, head=head)
        CheckpointFile().write_copy(checkpoint_sidecar(path), checkpoint)
    except (CheckpointError, OSError) as exc:
        logger.error("audit checkpoint of backup %s failed: %s", path.name, exc)
        audit_record(action="audit.checkpoint.failed", actor_label="system", outcome=Outcome.FAILURE,
                     object_type="backup", object_ids=[generation.pk], detail={"error": str(exc)[:500]})


def backup_prune(*, keep: int) -> int:
    """Delete the files of generations beyond the newest ``keep``; their rows stay, marked pruned."""
    keep = max(keep, 1)
    stale = list(BackupGeneration.objects.filter(pruned_at__isnull=True).order_by("-taken_at", "-id")[keep:])
    for generation in stale:
        Path(generation.path).unlink(missing_ok=True)
        checkpoint_sidecar(Path(generation.path)).unlink(missing_ok=True)
        with transaction.atomic():
            generation.pruned_at = timezone.now()
            generation.save(update_fields=["pruned_at"])
            audit_record(action="compliance.backup.pruned", actor_label="system", object_type="backup",
                         object_ids=[generation.pk])
    return len(stale)


def _scratch_name(database: str, now: dt.datetime) -> str:
    return f"{database[:40]}_drill_{timezone.localtime(now):%Y%m%d%H%M%S}"


def _attach(name: str) -> Any:
    """A connection to the scratch database, reachable as ``connections[DRILL_ALIAS]`` for the ORM.

    It is created directly rather than added to the configured databases, so nothing else (routers,
    checks, the test runner) ever sees the alias.
    """
    config = dict(connection.settings_dict)
    config["NAME"] = name
    scratch = load_backend(config["ENGINE"]).DatabaseWrapper(config, DRILL_ALIAS)
    connections[DRILL_ALIAS] = scratch
    return scratch


def _detach(scratch: Any) -> None:
    try:
        scratch.close()
    finally:
        del connections[DRILL_ALIAS]


def _verify_scratch(name: str, expected_counts: dict[str, int]) -> dict[str, Any]:
    scratch = _attach(name)
    try:
        # The restored rows' chain and seals; the checkpoint file describes the live log, not this copy.
        verified = integrity.verify(audit_chain_rows(using=DRILL_ALIAS), key=configured_key())
        with scratch.cursor() as cursor:
            restored = _table_counts(cursor, sorted(scratch.introspection.table_names(cursor)))
    finally:
        _detach(scratch)
    mismatches = {
        table: {"expected": expected, "restored": restored.get(table)}
        for table, expected in expected_counts.items()
        if restored.get(table) != expected
    }
    return {
        "chain_intact": verified.intact,
        "chain_break": None if verified.first is None else {"seq": verified.first.seq, "reason": verified.first.message},
        "counts_match": not mismatches,
        "mismatches": mismatches,
        "tables": len(restored),
    }


def restore_drill_run(*, generation: BackupGeneration | None = None) -> RestoreDrill:
    """Restore the newest generation into a scratch database, verify it there, record the drill."""
    _require_postgresql()
    if connection.in_atomic_block:
        raise BackupError("a restore drill creates a database and cannot run inside a transaction")
    with _exclusive():
        return _restore_drill_run(generation)


def _restore_drill_run(generation: BackupGeneration | None) -> RestoreDrill:
    started = timezone.now()
    clock = time.monotonic()
    generation = generation or BackupGeneration.objects.filter(pruned_at__isnull=True).order_by("-taken_at").first()
    scratch = _scratch_name(connection.settings_dict["NAME"], started)
    detail: dict[str, Any] = {}
    chain_intact = counts_match = None
    succeeded = False
    try:
        if generation is None:
            raise BackupError("there is no backup to restore")
        key = backup.encryption_key()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {_quote(scratch)}")
        try:
            sha256 = backup.restore_encrypted(Path(generation.path), PgTarget.from_settings(connection.settings_dict, scratch), key)
            if sha256 != generation.sha256:
                raise BackupError("the backup file no longer matches the SHA-256 recorded when it was written")
            detail = _verify_scratch(scratch, generation.row_counts)
            chain_intact, counts_match = detail["chain_intact"], detail["counts_match"]
            succeeded = bool(chain_intact and counts_match)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {_quote(scratch)} WITH (FORCE)")
    except (BackupError, OSError) as exc:
        logger.warning("restore drill failed: %s", exc)
        detail["error"] = str(exc)[:1000]
    except Exception as exc:
        logger.exception("restore drill failed")
        detail["error"] = f"{type(exc).__name__}: {str(exc)[:1000]}"
    duration_ms = int((time.monotonic() - clock) * 1000)
    drill = RestoreDrill(
        backup=generation, started_at=started, finished_at=timezone.now(), duration_ms=duration_ms,
        data_age_seconds=int((started - generation.taken_at).total_seconds()) if generation else None,
        succeeded=succeeded, chain_intact=chain_intact, counts_match=counts_match, scratch_database=scratch, detail=detail,
    )
    drill.full_clean()
    with transaction.atomic():
        drill.save()
        audit_record(
            action="compliance.restore_drill.run", actor_label="system",
            outcome=Outcome.SUCCESS if succeeded else Outcome.FAILURE, object_type="restore_drill",
            object_ids=[drill.pk], detail={"backup": generation.pk if generation else None, "duration_ms": duration_ms,
                                           "chain_intact": chain_intact, "counts_match": counts_match,
                                           "error": detail.get("error", "")},
        )

    probes_run(keys=["backup_age", "restore_drill"], trigger=ProbeResult.Trigger.SCHEDULE)
    return drill
