"""One access function per tenant-owned intake model (foreign or missing → 404, audited as denied)."""

from __future__ import annotations

from django.http import HttpRequest

from agency.access import deny

from . import selectors
from .models import Record, Submission


def access_submission(request: HttpRequest, submission_id: int) -> Submission:
    submission = selectors.submission_list(user=request.user).filter(pk=submission_id).first()
    if submission is None:
        deny(request, "submission", submission_id)
    return submission


def access_record(request: HttpRequest, record_id: int) -> Record:
    record = selectors.record_list(user=request.user).filter(pk=record_id).first()
    if record is None:
        deny(request, "record", record_id)
    return record
