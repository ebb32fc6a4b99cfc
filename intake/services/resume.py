"""Resuming the check of a submission whose work stopped (its worker died, or it was never queued).

The sweeper (``agency.leases``) queues again every unit whose lease expired; two more ways lead here:

* a repeat of the same bytes or idempotency key (``submission_receive``) resumes at once an
  unfinished submission whose work is not going on, rather than only answering with it;
* every sweeper round, a submission without a verdict and without any open lease (received before
  leases existed, or restored from a backup taken mid-check) is given one (``submissions_resume_unleased``).

Level 0 run again finds the records it saved and queues the chunks still pending, so resuming never
decides a record twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from agency.leases import WorkState, subject_work
from agency.models import LeaseState, WorkLease
from audit.services import audit_record
from intake import jobs
from intake.models import Submission, SubmissionStatus

UNFINISHED = (SubmissionStatus.RECEIVED, SubmissionStatus.CHECKING)


def submission_resume_if_stuck(*, submission: Submission, actor: Any = None, actor_label: str = "", request: Any = None) -> bool:
    """Queue level 0 again now if ``submission`` is unfinished and no work on it is queued or
    running. Work that was given up after too many starts is left to the administrators (alerted)."""
    if submission.is_final:
        return False
    work = subject_work(jobs.subject(submission.pk))
    if work.state not in (WorkState.RESUMING, WorkState.IDLE):
        return False
    with transaction.atomic():
        jobs.start_checking(submission.pk, force=True)
        audit_record(
            action="intake.resumed", actor=actor, actor_label=actor_label, request=request, object_type="submission",
            object_ids=[submission.pk], detail={"status": submission.status, "was": work.state},
        )
    return True


def submissions_resume_unleased(now: dt.datetime) -> list[str]:
    """Unfinished submissions without any open or failed lease get level 0 queued (the sweeper's round)."""
    subject = Concat(Value(f"{jobs.SUBJECT}:"), Cast(OuterRef("pk"), CharField()))
    leased = WorkLease.objects.filter(subject=subject, state__in=[LeaseState.QUEUED, LeaseState.RUNNING, LeaseState.FAILED])
    grace = dt.timedelta(seconds=settings.WORK_LEASE_SECONDS)
    stranded = list(
        Submission.objects.filter(status__in=UNFINISHED, received_at__lt=now - grace)
        .exclude(Exists(leased))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    resumed: list[str] = []
    for pk in stranded:
        with transaction.atomic():
            jobs.start_checking(pk, force=True)
            audit_record(
                action="intake.resumed", actor_label="system", object_type="submission", object_ids=[pk],
                detail={"was": WorkState.IDLE},
            )
        resumed.append(jobs.subject(pk))
    return resumed
