"""事務点検 of a received archive: level 0 (the archive as a whole; one pending ``Record`` per person)
and level 1 (a chunk of records decided), then the submission's verdict.

Each step is idempotent: a retried or re-delivered task finds the work already done and skips it.
``intake.pipeline`` says what runs after each step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from audit.services import audit_record
from intake import checks, storage
from intake.models import (
    Finding,
    Record,
    RecordStatus,
    Submission,
    SubmissionStatus,
)
from intake.selectors import submission_archive_password
from intake.services.resubmissions import records_link_resubmissions
from kenshin import reader as standard_reader

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500  # records decided per level-1 task: large enough that per-chunk queries stay a small share

# --- Level 0: the archive ------------------------------------------------------------------------


def _finding_rows(submission: Submission, findings: Iterable[Any], record: Record | None = None) -> list[Finding]:
    return [
        Finding(
            submission=submission,
            record=record,
            code=f.code,
            severity=str(f.severity),
            return_reason=str(f.reason),
            file=(f.file or "")[:255],
            xpath=(f.xpath or "")[:500],
            message=f.message[:500],
        )
        for f in findings
    ]


def submission_check_archive(*, submission_id: int) -> list[tuple[int, int]]:
    """Read the archive once, a person at a time: archive-level checks, then one pending record per
    person with the findings that need only the archive and the reference data, saved a batch at a
    time so that memory does not grow with the archive. Returns the chunks still to decide.

    If the archive as a whole is rejected (decided once every file was read), the records saved on
    the way are removed; what was found on each person's files stays with the archive's findings, so
    that the sender can fix everything in one round (only dangerous content drops everything read).
    Safe to run again: a submission that already has records (or a verdict) is not read twice.
    """
    with transaction.atomic():
        submission = Submission.objects.select_for_update(of=("self",)).select_related("archive", "institution", "insurer").get(pk=submission_id)
        if submission.is_final:
            return []
        if submission.records.exists():
            return _pending_chunks(submission)
        data = storage.read(submission.archive.sha256)
        with standard_reader.ArchiveReading(
            data,
            filename=submission.file_name,
            xsd_dir=settings.KENSHIN_XSD_DIR or None,
            password=submission_archive_password(submission) or None,
        ) as reading:
            archive_level = checks.archive_findings(reading, submission)
            with transaction.atomic():  # a savepoint: what was parsed goes if dangerous content was found
                progress = _records_save(reading, submission)
                archive_level += [*reading.findings, *progress.findings, *reading.finish()]
                rejected = reading.discard or not progress.records or any(
                    checks.blocks_archive(f, progress.record_files) for f in archive_level
                )
                if rejected and not any(f.blocking for f in archive_level):
                    # Never rejected without a reason: nothing was readable as a person's record.
                    archive_level.append(checks.NOTHING_TO_CHECK.at(file=submission.file_name))
                if reading.discard:
                    transaction.set_rollback(True)
                elif rejected:
                    _records_drop_keeping_findings(submission)
            submission.interaction_type = reading.index.interaction_type if reading.index else ""
            submission.service_event_type = reading.index.service_event_type if reading.index else ""
        submission.file_count = len(reading.files) + progress.files
        submission.records_total = progress.records
        submission.amount_claimed = progress.amount
        Finding.objects.bulk_create(_finding_rows(submission, archive_level))
        if rejected:
            submission.status = SubmissionStatus.REJECTED
            submission.records_returned = submission.records_total
            submission.amount_returned = submission.amount_claimed
            submission.checked_at = timezone.now()
            submission.save()
            audit_record(action="intake.rejected", actor_label="system", object_type="submission", object_ids=[submission.pk])
            return []
        submission.status = SubmissionStatus.CHECKING
        submission.save()
        return _pending_chunks(submission)


def _records_drop_keeping_findings(submission: Submission) -> None:
    """The archive is rejected as a whole: its pending records go, their findings stay (by file)."""
    Finding.objects.filter(submission=submission, record__isnull=False).update(record=None)
    Record.objects.filter(submission=submission).delete()


@dataclass
class _Progress:
    """What level 0 keeps of the records once their batch is saved: counts, sums and file names."""

    records: int = 0
    files: int = 0
    amount: int = 0
    record_files: set[str] = field(default_factory=set)
    findings: list[Any] = field(default_factory=list)  # on files that are no record's own


def _records_save(reading: standard_reader.ArchiveReading, submission: Submission) -> _Progress:
    """One pending record per person with the findings of the agency's rules, saved CHUNK_SIZE at a time."""
    progress = _Progress()
    refs = checks.References.for_archive(reading, submission)
    service = reading.index.service_event_type if reading.index else (reading.archive_name.service_event_type if reading.archive_name else None)
    batch: list[checks.PendingRecord] = []
    for read in reading.records():
        progress.files += len(read.files)
        pending = checks.pending_record(
            read, submission, progress.records + 1, service=service, archive_has_claims=reading.has_claims
        )
        if pending is None:
            progress.findings += read.findings
            continue
        record = pending.record
        own = {record.data_path, record.claim_path} - {""}
        progress.findings += [f for f in pending.findings if f.file not in own]
        pending.findings = [f for f in pending.findings if f.file in own]
        record.member_places = {path: place.as_list() for path in own if (place := reading.member_place(path)) is not None}
        progress.records += 1
        progress.amount += record.claim_amount
        progress.record_files |= own
        batch.append(pending)
        if len(batch) >= CHUNK_SIZE:
            _batch_save(batch, refs, submission)
            batch = []
    if batch:
        _batch_save(batch, refs, submission)
    return progress


def _batch_save(batch: list[checks.PendingRecord], refs: checks.References, submission: Submission) -> None:
    refs.load(batch)
    for item in batch:
        item.findings += checks.record_findings(item, refs)
    Record.objects.bulk_create([item.record for item in batch])
    Finding.objects.bulk_create(row for item in batch for row in _finding_rows(submission, item.findings, item.record))


def _pending_chunks(submission: Submission) -> list[tuple[int, int]]:
    positions = list(
        submission.records.filter(status=RecordStatus.PENDING).order_by("position").values_list("position", flat=True)
    )
    return [(chunk[0], chunk[-1]) for chunk in (positions[i : i + CHUNK_SIZE] for i in range(0, len(positions), CHUNK_SIZE))]


# --- Level 1: decide records -----------------------------------------------------------------------


def records_check(*, submission_id: int, first: int, last: int) -> int:
    """Decide the pending records at positions first..last (duplicates against everything accepted
    so far, then the findings already recorded) and link the corrections among them, in one
    transaction. Returns how many records were decided now (0 when a redelivered task finds the chunk
    done); the verdict follows in ``intake.pipeline``."""
    with transaction.atomic():
        pending = list(
            Record.objects.select_for_update()
            .filter(submission_id=submission_id, status=RecordStatus.PENDING, position__gte=first, position__lte=last)
            .only(*checks.DUPLICATE_FIELDS)
            .order_by("position")
        )
        if pending:
            _records_decide(submission_id, pending)
            records_link_resubmissions(submission_id=submission_id, first=first, last=last)
            checked = Record.objects.filter(submission_id=submission_id).exclude(status=RecordStatus.PENDING).count()
            Submission.objects.filter(pk=submission_id).update(records_checked=checked)
    return len(pending)


def _records_decide(submission_id: int, pending: list[Record]) -> None:
    """Accept or return each pending record (inside the caller's transaction)."""
    submission = Submission.objects.get(pk=submission_id)
    blocked = set(
        Finding.objects.filter(
            record__in=pending, severity__in=[Finding.Severity.ERROR, Finding.Severity.FATAL]
        ).values_list("record_id", flat=True)
    )
    duplicates = checks.duplicate_findings(pending, blocked)
    Finding.objects.bulk_create(
        row for record in pending for row in _finding_rows(submission, duplicates.get(record.pk, []), record)
    )
    blocked |= set(duplicates)
    now = timezone.now()
    returned = [record.pk for record in pending if record.pk in blocked]
    accepted = [record.pk for record in pending if record.pk not in blocked]
    Record.objects.filter(pk__in=returned).update(status=RecordStatus.RETURNED, checked_at=now)
    try:
        with transaction.atomic():
            Record.objects.filter(pk__in=accepted).update(status=RecordStatus.ACCEPTED, checked_at=now)
    except IntegrityError:
        # Some were accepted concurrently from another submission: decide one by one.
        for record in pending:
            if record.pk in blocked:
                continue
            try:
                with transaction.atomic():
                    Record.objects.filter(pk=record.pk).update(status=RecordStatus.ACCEPTED, checked_at=now)
            except IntegrityError:
                # What the concurrent acceptance made this record repeat (its row is committed now).
                found = checks.duplicate_findings([record]).get(record.pk) or [checks.DUPLICATE_ACCEPTED.at(file=record.data_path)]
                Finding.objects.bulk_create(_finding_rows(submission, found, record))
                Record.objects.filter(pk=record.pk).update(status=RecordStatus.RETURNED, checked_at=now)


def submission_finish(*, submission_id: int) -> Submission:
    """Give the submission its verdict once no record is pending (idempotent)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if submission.is_final:
            return submission
        totals = submission.records.aggregate(
            pending=Count("pk", filter=Q(status=RecordStatus.PENDING)),
            accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)),
            returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)),
            amount_accepted=Sum("claim_amount", filter=Q(status=RecordStatus.ACCEPTED)),
            amount_returned=Sum("claim_amount", filter=Q(status=RecordStatus.RETURNED)),
        )
        if totals["pending"]:
            return submission
        submission.records_checked = totals["accepted"] + totals["returned"]
        submission.records_accepted = totals["accepted"]
        submission.records_returned = totals["returned"]
        submission.amount_accepted = totals["amount_accepted"] or 0
        submission.amount_returned = totals["amount_returned"] or 0
        if totals["accepted"] == 0:
            submission.status = SubmissionStatus.REJECTED
        elif totals["returned"]:
            submission.status = SubmissionStatus.PARTIALLY_ACCEPTED
        else:
            submission.status = SubmissionStatus.ACCEPTED
        submission.checked_at = timezone.now()
        submission.save()
        audit_record(
            action="intake.checked",
            actor_label="system",
            object_type="submission",
            object_ids=[submission.pk],
            detail={"status": submission.status, "accepted": submission.records_accepted, "returned": submission.records_returned},
        )
    return submission
