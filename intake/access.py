"""One access function per tenant-owned intake model (foreign or missing → 404, audited as denied)."""

from __future__ import annotations

from django.http import HttpRequest

from core.access import get_or_deny

from . import selectors
from .models import AnnualReportGeneration, Record, Submission


def access_submission(request: HttpRequest, submission_id: int) -> Submission:
    return get_or_deny(selectors.submission_list(user=request.user), request, "submission", submission_id, pk=submission_id)


def access_insurer_upload(request: HttpRequest, submission_id: int) -> Submission:
    """An insurer's own 事業者健診等 upload (``Submission.insurer``): its own insurer's staff only."""
    return get_or_deny(
        selectors.insurer_upload_list(user=request.user), request, "submission", submission_id, pk=submission_id
    )


def access_record(request: HttpRequest, record_id: int) -> Record:
    return get_or_deny(selectors.record_list(user=request.user), request, "record", record_id, pk=record_id)


def access_annual_report_generation(request: HttpRequest, generation_id: int) -> AnnualReportGeneration:
    return get_or_deny(selectors.annual_report_generation_list(user=request.user), request, "annual_report_generation",
                       generation_id, pk=generation_id)
