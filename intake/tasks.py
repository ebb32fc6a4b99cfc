"""Celery tasks of intake: ids in, one pipeline step each, safe to run twice.

Level 0 and the level-1 chunks run holding their lease (``agency.leases.LeasedTask``).
"""

from __future__ import annotations

from celery import shared_task

from agency.leases import LeasedTask

from . import jobs, notifications, pipeline
from .services.integrity import archives_verify


class SubmissionWork(LeasedTask):
    """Level 0 and level-1 chunks: their leases name the submission (its pages show how it stands)."""

    abstract = True
    lease_subject = jobs.SUBJECT


RETRY = {"acks_late": True, "autoretry_for": (ConnectionError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name=jobs.CHECK_ARCHIVE, base=SubmissionWork, acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def intake_check_archive_task(submission_id: int) -> int:
    return pipeline.check_archive(submission_id)


@shared_task(name=jobs.CHECK_RECORDS, base=SubmissionWork, acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def intake_check_records_task(submission_id: int, first: int, last: int) -> int:
    return pipeline.check_records(submission_id, first, last)


@shared_task(name=jobs.NOTIFY, acks_late=True, autoretry_for=(ConnectionError, OSError), retry_backoff=True, max_retries=5)
def notify_task(kind: str, object_id: int) -> int:
    """E-mail the users concerned by one delivery, return or receipt; returns how many were sent."""
    return notifications.notify(kind=kind, object_id=object_id)


@shared_task(name=jobs.RECEIPTS_SWEEP, **RETRY)
def receipts_sweep_task() -> int:
    """Receipts of recently checked submissions that were not notified yet."""
    return notifications.receipts_sweep()


@shared_task(name="intake.archives_verify", acks_late=True)
def archives_verify_task() -> int:
    """Rehash the stored archives checked longest ago (a byte budget per run); returns how many failed."""
    return len(archives_verify().failed)
