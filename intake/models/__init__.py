"""Intake's models: received archives, their records and findings, 受診券 data and notifications."""

from __future__ import annotations

from .eligibility import EligibilityTicket, EligibilityUpload
from .notifications import NotificationKind, NotificationPreference, NotificationSent
from .records import Finding, Record, RecordStatus
from .reports import AnnualReport, AnnualReportGeneration
from .submissions import Channel, ReceiptCounter, StoredArchive, Submission, SubmissionStatus

__all__ = [
    "AnnualReport",
    "AnnualReportGeneration",
    "Channel",
    "EligibilityTicket",
    "EligibilityUpload",
    "Finding",
    "NotificationKind",
    "NotificationPreference",
    "NotificationSent",
    "ReceiptCounter",
    "Record",
    "RecordStatus",
    "StoredArchive",
    "Submission",
    "SubmissionStatus",
]
