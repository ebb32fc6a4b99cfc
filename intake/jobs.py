"""Intake's background jobs by name, and how they are queued.

Services and the pipeline queue jobs through these functions, by task name, so that none of them
imports the task module (which imports them). Queued on commit: a job never runs before the
transaction that asked for it is visible to the worker.
"""

from __future__ import annotations

from django.db import transaction

from agency.celery import app

CHECK_ARCHIVE = "intake.check_archive"
CHECK_RECORDS = "intake.check_records"
NOTIFY = "intake.notify"
RECEIPTS_SWEEP = "intake.receipts_sweep"


def enqueue(name: str, *args: object) -> None:
    """Queue the task ``name`` now (eagerly run where Celery runs tasks inline)."""
    app.signature(name, args=args).delay()


def start_checking(submission_id: int) -> None:
    """Level 0 of a newly received submission, once the transaction that registered it commits."""
    transaction.on_commit(lambda: enqueue(CHECK_ARCHIVE, submission_id))


def notify_on_commit(kind: str, object_id: int) -> None:
    """E-mail the users concerned by one object (``intake.notifications``), after commit."""
    transaction.on_commit(lambda: enqueue(NOTIFY, kind, object_id))
