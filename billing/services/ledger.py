"""Appending to the ledger (the only writer of ``LedgerEntry``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import LedgerEntry, LedgerKind


def ledger_append(*, kind: LedgerKind, amount: int, occurred_at: dt.datetime, memo: str = "", **refs: Any) -> LedgerEntry:
    """Append one movement; ``refs`` name the parties and documents it concerns (model fields)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("ledger amounts are integer yen")
    entry = LedgerEntry(kind=kind, amount=amount, occurred_at=occurred_at, memo=memo[:200], **refs)
    entry.save(force_insert=True)
    return entry
