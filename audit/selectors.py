"""Reading the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import chain
from .models import AuditEvent


def audit_chain_rows(batch_size: int = 2000) -> Iterator[dict[str, Any]]:
    fields = ("seq", "prev_hash", "row_hash", *chain.CHAINED_FIELDS)
    yield from AuditEvent.objects.order_by("seq").values(*fields).iterator(chunk_size=batch_size)


def audit_chain_verify() -> chain.ChainBreak | None:
    return chain.verify(audit_chain_rows())
