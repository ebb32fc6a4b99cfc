"""Machine-readable summaries of a submission (the command line's JSON, the API's receipt)."""

from __future__ import annotations

from typing import Any

from .models import Submission


def submission_summary(submission: Submission, *, archive: str = "", duplicate: bool = False) -> dict[str, Any]:
    findings = [
        {
            "code": f.code,
            "severity": f.severity,
            "return_reason": f.return_reason,
            "file": f.file,
            "xpath": f.xpath,
            "message": f.message,
        }
        for f in submission.findings.order_by("record__position", "id")
    ]
    return {
        "archive": archive or submission.file_name,
        "receipt_number": submission.receipt_number,
        "sha256": submission.archive.sha256,
        "status": "duplicate" if duplicate else submission.status,
        "records": {
            "total": submission.records_total,
            "accepted": submission.records_accepted,
            "returned": submission.records_returned,
        },
        "amounts": {
            "claimed": submission.amount_claimed,
            "accepted": submission.amount_accepted,
            "returned": submission.amount_returned,
        },
        "findings": findings,
        "rule_set": submission.rule_set,
    }


def refused_summary(*, archive: str, code: str, message: str) -> dict[str, Any]:
    """The same shape for an archive that could not be registered at all."""
    return {
        "archive": archive,
        "receipt_number": "",
        "sha256": "",
        "status": "rejected",
        "records": {"total": 0, "accepted": 0, "returned": 0},
        "amounts": {"claimed": 0, "accepted": 0, "returned": 0},
        "findings": [
            {"code": code, "severity": "fatal", "return_reason": "09", "file": archive, "xpath": "", "message": message}
        ],
        "rule_set": "",
    }
