"""Billing events of one record, for the record timeline (``intake.routing.billing_timeline_hook``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from .models import ClaimsStatementLine, LineKind, TransferItem


def record_events(record: Any) -> Iterator[tuple[str, dt.datetime, str]]:
    """("billed", when, statement number) once billed; ("paid", when, transfer date) once paid out."""
    line = (
        ClaimsStatementLine.objects.filter(record_id=record.pk, kind=LineKind.CLAIM).select_related("statement").first()
    )
    if line is None:
        return
    yield "billed", line.statement.frozen_at, line.statement.number
    item = (
        TransferItem.objects.filter(part__claims_statement_id=line.statement_id, part__institution_id=line.institution_id)
        .select_related("line__batch")
        .first()
    )
    if item is not None:
        batch = item.line.batch
        yield "paid", batch.created_at, f"{batch.transfer_date:%Y-%m-%d}"
