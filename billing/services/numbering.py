"""Gap-free invoice numbers: one counter row, locked in the issuing transaction.

A number is taken only by a transaction that issues an invoice; if it rolls back, so does the
counter, so the issued numbers are 1, 2, 3, … without gaps. Concurrent issuers wait on the row lock
(PostgreSQL) or on the single writer (SQLite, transactions start IMMEDIATE).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ..models import InvoiceNumberCounter

SERIES = "invoice"


def invoice_number_format(sequence: int) -> str:
    return f"{settings.BILLING_INVOICE_PREFIX}{sequence:07d}"


def invoice_number_allocate() -> tuple[int, str]:
    """The next sequence number and its printed form. Must run inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice numbers are allocated inside the issuing transaction")
    InvoiceNumberCounter.objects.get_or_create(series=SERIES)
    counter = InvoiceNumberCounter.objects.select_for_update().get(series=SERIES)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last, invoice_number_format(counter.last)
