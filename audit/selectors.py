"""Reading the audit log, and verifying it against its seals and the checkpoints outside the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import connections

from . import chain, integrity
from .checkpoints import CheckpointFile, configured_key
from .models import AuditEvent

ROW_FIELDS = ("seq", "prev_hash", "row_hash", "row_mac", *chain.CHAINED_FIELDS)


def audit_chain_rows(batch_size: int = 5000, *, using: str = "default") -> Iterator[dict[str, Any]]:
    """Every event in ``seq`` order, as dicts of the hashed columns (``ROW_FIELDS``), for verifying.

    On PostgreSQL the rows stream from a server-side cursor over exactly those columns, without
    model machinery: ``occurred_at`` comes as epoch microseconds computed by the database (exact:
    ``EXTRACT`` returns numeric), the JSON columns as text parsed here. Elsewhere the ORM reads them.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield from AuditEvent.objects.using(using).order_by("seq").values(*ROW_FIELDS).iterator(chunk_size=batch_size)
        return
    columns = [
        "(EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint" if name == "occurred_at" else name for name in ROW_FIELDS
    ]
    json_at = [ROW_FIELDS.index("object_ids"), ROW_FIELDS.index("detail")]
    scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads's C scanner, without its wrapper

    def loads(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return json.loads(text)  # raises with json's own message
        return value if end == len(text) else json.loads(text)

    sql = f"SELECT {', '.join(columns)} FROM {AuditEvent._meta.db_table} ORDER BY seq"
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_size):
            for row in rows:
                values = list(row)
                for index in json_at:
                    values[index] = loads(values[index])
                yield dict(zip(ROW_FIELDS, values, strict=True))


def audit_integrity_verify(*, checkpoint_file: CheckpointFile | None = None) -> integrity.Report:
    """The whole log checked: hash chain, every row's seal, and every checkpoint in the file."""
    key = configured_key()
    reading = (checkpoint_file or CheckpointFile()).read(key) if key is not None else None
    return integrity.verify(audit_chain_rows(), key=key, checkpoints=reading)


def audit_chain_verify() -> chain.ChainBreak | None:
    """The first problem of ``audit_integrity_verify`` (None when the log is intact)."""
    first = audit_integrity_verify().first
    return None if first is None else chain.ChainBreak(first.seq or 0, first.message)
