"""Timelines of a record and of a submission: what intake did, then the steps later stages add.

Intake knows its own steps (received, checked). Routing and billing register providers for theirs
(``register_record_steps`` / ``register_submission_steps``, from their ``AppConfig.ready``); each
provider returns its steps for one object, done or not yet reached, and the timeline lists them in
the order the providers were given (``order``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import Record, RecordStatus, Submission


@dataclass(frozen=True)
class TimelineStep:
    key: str
    label: str
    at: dt.datetime | None = None
    detail: str = ""
    done: bool = False
    warning: bool = False


RecordSteps = Callable[[Record], list[TimelineStep]]
SubmissionSteps = Callable[[Submission], list[TimelineStep]]

_record_providers: dict[str, tuple[int, RecordSteps]] = {}
_submission_providers: dict[str, tuple[int, SubmissionSteps]] = {}


def register_record_steps(name: str, provider: RecordSteps, *, order: int) -> None:
    """Add a stage's steps to every record timeline (registering the same name again replaces it)."""
    _record_providers[name] = (order, provider)


def register_submission_steps(name: str, provider: SubmissionSteps, *, order: int) -> None:
    """Add a stage's steps to every submission timeline (registering the same name again replaces it)."""
    _submission_providers[name] = (order, provider)


def record_timeline(record: Record) -> list[TimelineStep]:
    """received → checked, then the registered stages (routed → downloaded → returned → billed → paid)."""
    submission = record.submission
    steps = [TimelineStep("received", _("受付"), submission.received_at, submission.receipt_number, done=True)]
    returned_by_agency = record.status == RecordStatus.RETURNED and not hasattr(record, "insurer_return")
    if record.status == RecordStatus.PENDING:
        steps.append(TimelineStep("checked", _("点検"), None, _("点検中")))
    else:
        steps.append(TimelineStep("checked", _("点検"), record.checked_at, _("返戻") if returned_by_agency else _("受理"),
                                  done=True, warning=returned_by_agency))
    for _order, provider in sorted(_record_providers.values(), key=lambda pair: pair[0]):
        steps += provider(record)
    return steps


def submission_timeline(submission: Submission) -> list[TimelineStep]:
    """received → checked, then the registered stages."""
    steps = [TimelineStep("received", _("受付"), submission.received_at, submission.file_name, done=True)]
    steps.append(TimelineStep("checked", _("点検"), submission.checked_at,
                              submission.get_status_display() if submission.checked_at else _("点検中"),
                              done=submission.checked_at is not None))
    for _order, provider in sorted(_submission_providers.values(), key=lambda pair: pair[0]):
        steps += provider(submission)
    return steps
