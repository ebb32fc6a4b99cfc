"""Test data for the compliance and audit-review tests: submissions and records without archives to parse."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

from django.utils import timezone

from intake import storage
from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus

_numbers = itertools.count(1)


def make_submission(
    institution: Any,
    *,
    received_at: dt.datetime | None = None,
    records: int = 1,
    status: str = RecordStatus.ACCEPTED,
    checkup_date: dt.date | None = None,
    store_file: bool = False,
) -> Submission:
    """A checked submission with ``records`` records (stored bytes on disk when ``store_file``)."""
    n = next(_numbers)
    content = f"archive {n} {timezone.now().isoformat()}".encode()
    sha = storage.store(content).sha256 if store_file else hashlib.sha256(content).hexdigest()
    received_at = received_at or timezone.now()
    archive = StoredArchive.objects.create(sha256=sha, size=len(content))
    submission = Submission.objects.create(
        receipt_number=f"T{n:09d}", archive=archive, file_name=f"archive-{n}.zip", institution=institution,
        channel=Channel.UPLOAD, received_at=received_at, status=SubmissionStatus.ACCEPTED, rule_set="test",
        records_total=records, checked_at=received_at,
    )
    for position in range(1, records + 1):
        Record.objects.create(
            submission=submission, position=position, institution=institution, status=status,
            insurer_number="39000001", ticket_number=f"{n:05d}{position:06d}",
            checkup_date=checkup_date or timezone.localdate(received_at), checked_at=received_at,
        )
    return submission
