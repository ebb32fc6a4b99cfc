"""What runs after each step of intake, written once.

receive → (on commit) level 0 → one level-1 task per chunk → verdict → receipt notice.

The steps themselves are services (``intake.services.check``); the Celery tasks (``intake.tasks``)
are thin wrappers around the functions here, and the next ones are queued by name (``intake.jobs``).
Level 0 and every chunk are units of work with a lease (``agency.leases``): the lease of a chunk
is written before the lease of level 0 is released, so a worker may die anywhere and the sweeper
finds what is left (a level 0 run again finds its records saved and queues the chunks still pending).
"""

from __future__ import annotations

from agency.leases import run_leased

from . import jobs
from .models import NotificationKind, Submission
from .services import check


def check_archive(submission_id: int) -> int:
    """Level 0, then one level-1 task per chunk (or, for an archive rejected as a whole, the verdict
    and the receipt notice right away). Returns the number of chunks enqueued."""
    chunks = check.submission_check_archive(submission_id=submission_id)
    for first, last in chunks:
        jobs.check_chunk(submission_id, first, last)
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
        jobs.notify_on_commit(NotificationKind.RECEIPT.value, submission_id)
    return submission


def _inline(submission_id: int) -> Submission:
    for first, last in check.submission_check_archive(submission_id=submission_id):
        check.records_check(submission_id=submission_id, first=first, last=last)
    return finish(submission_id)


def process_inline(submission_id: int) -> Submission:
    """Every step in this process (the command line and the benchmarks; workers use the tasks),
    holding the lease of level 0: if this process dies, the sweeper hands the rest to a worker."""
    run_leased(
        task=jobs.CHECK_ARCHIVE, args=[submission_id], subject=jobs.subject(submission_id),
        work=lambda: _inline(submission_id),
    )
    return Submission.objects.get(pk=submission_id)
