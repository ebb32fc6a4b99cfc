"""Celery tasks of intake: ids in, one service each, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="intake.check_archive", acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def intake_check_archive_task(submission_id: int) -> int:
    from .services import submission_check_archive

    chunks = submission_check_archive(submission_id=submission_id)
    for first, last in chunks:
        intake_check_records_task.delay(submission_id, first, last)
    if not chunks:
        from .routing import records_after_check
        from .services import submission_finish

        submission_finish(submission_id=submission_id)
        records_after_check(submission_id=submission_id)  # a wholly rejected archive gets its receipt notice now
    return len(chunks)


@shared_task(name="intake.check_records", acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def intake_check_records_task(submission_id: int, first: int, last: int) -> int:
    from .services import records_check

    return records_check(submission_id=submission_id, first=first, last=last)
