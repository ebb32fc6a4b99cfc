"""What runs after each step of intake, written once.

receive → (on commit) level 0 → one level-1 task per chunk → verdict → receipt notice.

The steps themselves are services (``intake.services.check``); the Celery tasks (``intake.tasks``)
are thin wrappers around the functions here. Tasks are enqueued by name so that this module does not
import the task module that imports it.
"""

from __future__ import annotations

from django.db import transaction

from agency.celery import app

from .models import NotificationKind, Submission
from .services import check

CHECK_ARCHIVE = "intake.check_archive"
CHECK_RECORDS = "intake.check_records"
NOTIFY = "intake.notify"
RECEIPTS_SWEEP = "intake.receipts_sweep"


def _enqueue(name: str, *args: object) -> None:
    app.signature(name, args=args).delay()


def start_checking(submission_id: int) -> None:
    """Level 0 of a newly received submission, once the transaction that registered it commits."""
    transaction.on_commit(lambda: _enqueue(CHECK_ARCHIVE, submission_id))


def notify_on_commit(kind: str, object_id: int) -> None:
    """E-mail the users concerned by one object (``intake.notifications``), after commit."""
    transaction.on_commit(lambda: _enqueue(NOTIFY, kind, object_id))


def check_archive(submission_id: int) -> int:
    """Level 0, then one level-1 task per chunk (or, for an archive rejected as a whole, the verdict
    and the receipt notice right away). Returns the number of chunks enqueued."""
    chunks = check.submission_check_archive(submission_id=submission_id)
    for first, last in chunks:
        _enqueue(CHECK_RECORDS, submission_id, first, last)
    if not chunks:
        finish(submission_id)
    return len(chunks)


def check_records(submission_id: int, first: int, last: int) -> int:
    """Level 1 of one chunk, then the verdict and the notice if it was the last one."""
    decided = check.records_check(submission_id=submission_id, first=first, last=last)
    finish(submission_id)
    return decided


def finish(submission_id: int) -> Submission:
    """The verdict once no record is pending, then the receipt notice (both idempotent)."""
    submission = check.submission_finish(submission_id=submission_id)
    if submission.checked_at is not None:
        notify_on_commit(NotificationKind.RECEIPT.value, submission_id)
    return submission


def process_inline(submission_id: int) -> Submission:
    """Every step in this process (the command line and the benchmarks; workers use the tasks)."""
    for first, last in check.submission_check_archive(submission_id=submission_id):
        check.records_check(submission_id=submission_id, first=first, last=last)
    return finish(submission_id)
