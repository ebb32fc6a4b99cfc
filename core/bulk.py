"""Inserting many rows without a model instance per row (multi-row INSERTs of up to BATCH_ROWS rows).

For set-based paths (the month close's statement lines and charged items) where building and saving
one Django model per row would cost more than the database's work. Rows are tuples in the order of
``fields`` (model field names); defaults are not applied and ``save()`` is not called, so it is for
plain append-only rows whose every column is given. Not COPY: PostgreSQL refuses COPY FROM into a
table under row-level security for a role it applies to (the application's role), and the statements
go through the backend's wrappers, which set the tenant scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from django.db import connections, models

BATCH_ROWS = 2_000


def _plain(value: Any) -> Any:
    """An enum member (TextChoices) as its value: psycopg would otherwise write the member's name."""
    return value.value if isinstance(value, Enum) else value


def rows_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]], *, using: str = "default") -> int:
    """Insert ``rows`` into ``model``'s table; returns how many were inserted."""
    connection = connections[using]
    meta = model._meta
    concrete = [field for name in fields if isinstance(field := meta.get_field(name), models.Field)]
    if len(concrete) != len(fields):
        raise ValueError(f"{model.__name__}: only concrete fields can be inserted")
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in concrete)
    table = connection.ops.quote_name(meta.db_table)
    if connection.vendor == "postgresql":
        return _insert_unnest(connection, table, columns, concrete, rows)
    prepared = [
        [field.get_db_prep_save(_plain(value), connection) for field, value in zip(concrete, row, strict=True)]
        for row in rows
    ]
    size = max(1, min(BATCH_ROWS, connection.ops.bulk_batch_size(list(concrete), prepared) or BATCH_ROWS))
    row_placeholder = "(" + ", ".join(["%s"] * len(concrete)) + ")"
    with connection.cursor() as cursor:
        for first in range(0, len(prepared), size):
            batch = prepared[first : first + size]
            values = ", ".join([row_placeholder] * len(batch))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", [value for row in batch for value in row])
    return len(prepared)


def _insert_unnest(connection: Any, table: str, columns: str, concrete: list[models.Field[Any, Any]], rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL: one ``INSERT … SELECT * FROM UNNEST(column arrays)`` per BATCH_ROWS rows (a handful of
    parameters per statement, whatever the number of rows)."""
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in concrete)
    sql = f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays})"
    count = 0
    batch: list[Sequence[Any]] = []

    def flush(cursor: Any) -> None:
        cursor.execute(sql, [[_plain(row[index]) for row in batch] for index in range(len(concrete))])

    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                flush(cursor)
                count += len(batch)
                batch = []
        if batch:
            flush(cursor)
            count += len(batch)
    return count
