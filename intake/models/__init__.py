"""Intake's models: received archives, their records and findings, 受診券 data and notifications."""

from __future__ import annotations

from .eligibility import EligibilityTicket, EligibilityUpload
from .notifications import NotificationKind, NotificationPreference, NotificationSent
from .records import BILLED_KINDS, CHECKUP_KINDS, Finding, Record, RecordKind, RecordStatus
from .reports import AnnualReport, AnnualReportGeneration
from .submissions import Channel, ReceiptCounter, StoredArchive, Submission, SubmissionStatus

__all__ = [
    "BILLED_KINDS",
    "CHECKUP_KINDS",
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
    "RecordKind",
    "RecordStatus",
    "StoredArchive",
    "Submission",
    "SubmissionStatus",
]
