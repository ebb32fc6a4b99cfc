"""Reading the audit log, and verifying it against its seals and the checkpoints outside the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import chain, integrity
from .checkpoints import CheckpointFile, configured_key
from .models import AuditEvent

ROW_FIELDS = ("seq", "prev_hash", "row_hash", "row_mac", *chain.CHAINED_FIELDS)


def audit_chain_rows(batch_size: int = 2000, *, using: str = "default") -> Iterator[dict[str, Any]]:
    yield from AuditEvent.objects.using(using).order_by("seq").values(*ROW_FIELDS).iterator(chunk_size=batch_size)


def audit_integrity_verify(*, checkpoint_file: CheckpointFile | None = None) -> integrity.Report:
    """The whole log checked: hash chain, every row's seal, and every checkpoint in the file."""
    key = configured_key()
    reading = (checkpoint_file or CheckpointFile()).read(key) if key is not None else None
    return integrity.verify(audit_chain_rows(), key=key, checkpoints=reading)


def audit_chain_verify() -> chain.ChainBreak | None:
    """The first problem of ``audit_integrity_verify`` (None when the log is intact)."""
    first = audit_integrity_verify().first
    return None if first is None else chain.ChainBreak(first.seq or 0, first.message)
