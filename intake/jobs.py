"""Intake's background jobs by name, and how they are queued.

Services and the pipeline queue jobs through these functions, by task name, so that none of them
imports the task module (which imports them). Queued on commit: a job never runs before the
transaction that asked for it is visible to the worker.

Level 0 and the level-1 chunks are units of work with a lease (``agency.leases``), written in the
transaction that asks for them: a worker that dies in the middle leaves an expired lease, and the
sweeper queues the unit again.
"""

from __future__ import annotations

from django.db import transaction

from agency.celery import app
from agency.leases import lease_open

CHECK_ARCHIVE = "intake.check_archive"
CHECK_RECORDS = "intake.check_records"
NOTIFY = "intake.notify"
RECEIPTS_SWEEP = "intake.receipts_sweep"
SUBJECT = "submission"  # the leases of level 0 and level 1 name their submission ("submission:<id>")


def subject(submission_id: int) -> str:
    return f"{SUBJECT}:{submission_id}"


def enqueue(name: str, *args: object) -> None:
    """Queue the task ``name`` after commit (eagerly run where Celery runs tasks inline)."""
    transaction.on_commit(lambda: app.signature(name, args=args).delay())


def start_checking(submission_id: int, *, send: bool = True, force: bool = False) -> None:
    """Level 0 of a submission as a unit of work, queued once the transaction that asked for it commits.

    ``send=False`` registers the unit only (the caller checks in this process). ``force`` queues it
    even if it is registered as queued already (its message may have been lost).
    """
    lease_open(task=CHECK_ARCHIVE, args=[submission_id], subject=subject(submission_id), send=send, force=force)


def check_chunk(submission_id: int, first: int, last: int) -> None:
    """One level-1 chunk as a unit of work, queued after commit."""
    lease_open(task=CHECK_RECORDS, args=[submission_id, first, last], subject=subject(submission_id))


def notify_on_commit(kind: str, object_id: int) -> None:
    """E-mail the users concerned by one object (``intake.notifications``), after commit."""
    enqueue(NOTIFY, kind, object_id)
