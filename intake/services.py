"""Receiving archives and running 事務点検 on them.

``submission_receive`` stores the exact bytes once and registers the submission (a second arrival of
the same bytes, or a retry with the same idempotency key, is answered with the first submission).
Checking runs in Celery tasks: ``submission_check_archive`` (level 0, the archive as a whole; it
creates one pending ``Record`` per person) and ``records_check`` (level 1, a chunk of records).
Both are idempotent: a retried or re-delivered task finds the work already done and skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from agency.crypto import encrypt_text
from agency.models import Institution, User
from audit.models import Outcome
from audit.services import audit_record
from kenshin import reader as standard_reader

from . import checks, storage
from .models import (
    Channel,
    Finding,
    ReceiptCounter,
    Record,
    RecordStatus,
    StoredArchive,
    Submission,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500  # records decided per level-1 task: large enough that per-chunk queries stay a small share


class ReceiveRefused(Exception):
    """An archive that cannot be registered; ``code`` is stable, the message is for people."""

    code = "refused"


class ArchiveOfAnotherInstitution(ReceiveRefused):
    """The same bytes were received from another institution (nothing about it is disclosed)."""

    code = "duplicate_archive"


class ArchiveTooLarge(ReceiveRefused):
    """Larger than ``INTAKE_MAX_ARCHIVE_BYTES``; nothing was kept."""

    code = "ARC_TOO_LARGE"


class IdempotencyKeyReused(ReceiveRefused):
    """An idempotency key already used for different bytes."""

    code = "idempotency_key_reused"


@dataclass(frozen=True)
class ReceiveResult:
    submission: Submission
    duplicate: bool


def _allocate_receipt_number(now: Any) -> str:
    year = timezone.localtime(now).year
    ReceiptCounter.objects.get_or_create(year=year)
    counter = ReceiptCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"R{year}-{counter.last:07d}"


def _existing(institution: Institution, sha256: str, idempotency_key: str) -> Submission | None:
    """The earlier submission this arrival repeats, if any (refusing what must not be answered)."""
    if idempotency_key:
        found = (
            Submission.objects.filter(institution=institution, idempotency_key=idempotency_key)
            .select_related("archive")
            .first()
        )
        if found is not None:
            if found.archive.sha256 != sha256:
                raise IdempotencyKeyReused("この冪等キーは別の内容のアーカイブに使用済みです。")
            return found
    found = Submission.objects.filter(archive__sha256=sha256).select_related("archive").first()
    if found is not None and found.institution_id != institution.pk:
        raise ArchiveOfAnotherInstitution("同じ内容のアーカイブが既に受付済みです。")
    return found


def _refusal_audited(refused: ReceiveRefused, *, actor: Any, actor_label: str, request: Any, detail: dict[str, Any]) -> None:
    audit_record(
        action="intake.refused", actor=actor, actor_label=actor_label, request=request, outcome=Outcome.DENIED,
        detail={"reason": refused.code, **detail},
    )


def submission_receive(
    *,
    source: BinaryIO | bytes,
    file_name: str,
    institution: Institution,
    channel: str,
    actor: Any = None,
    idempotency_key: str = "",
    request: Any = None,
    password: str = "",
    enqueue: bool = True,
    actor_label: str = "",
) -> ReceiveResult:
    """Keep the exact bytes and register the submission; checking starts after commit.

    ``password`` opens a password-locked archive; it is kept encrypted with the submission (task
    messages carry ids only). ``enqueue=False`` leaves checking to the caller
    (``submission_process_inline``), as the command line does.
    """
    try:
        stored = storage.store(source, max_size=settings.INTAKE_MAX_ARCHIVE_BYTES)
    except storage.TooLarge as error:
        refused = ArchiveTooLarge(f"アーカイブが上限（{error.limit:,}バイト）を超えています。")
        _refusal_audited(
            refused, actor=actor, actor_label=actor_label, request=request,
            detail={"channel": channel, "institution": institution.number, "file_name": file_name[:255]},
        )
        raise refused from error
    try:
        existing = _existing(institution, stored.sha256, idempotency_key)
    except ReceiveRefused as refused:
        _refusal_audited(
            refused, actor=actor, actor_label=actor_label, request=request,
            detail={"sha256": stored.sha256, "channel": channel, "institution": institution.number},
        )
        raise
    if existing is not None:
        audit_record(
            action="intake.duplicate",
            actor=actor,
            actor_label=actor_label,
            request=request,
            object_type="submission",
            object_ids=[existing.pk],
            detail={"sha256": stored.sha256, "channel": channel, "file_name": file_name[:255]},
        )
        return ReceiveResult(existing, duplicate=True)
    try:
        with transaction.atomic():
            now = timezone.now()
            archive = StoredArchive.objects.create(sha256=stored.sha256, size=stored.size)
            submission = Submission.objects.create(
                receipt_number=_allocate_receipt_number(now),
                archive=archive,
                file_name=file_name[:255],
                institution=institution,
                channel=channel,
                received_at=now,
                received_by=actor if isinstance(actor, User) else None,
                idempotency_key=idempotency_key[:128],
                rule_set=checks.RULE_SET_VERSION,
                archive_password=encrypt_text(password) if password else "",
            )
            audit_record(
                action="intake.received",
                actor=actor,
                actor_label=actor_label,
                request=request,
                object_type="submission",
                object_ids=[submission.pk],
                detail={"sha256": stored.sha256, "size": stored.size, "channel": channel, "file_name": file_name[:255]},
            )
            if enqueue:
                from .tasks import intake_check_archive_task

                transaction.on_commit(lambda: intake_check_archive_task.delay(submission.pk))
    except IntegrityError:
        # The same bytes (or key) arrived concurrently and won the race: answer with that one.
        existing = _existing(institution, stored.sha256, idempotency_key)
        if existing is None:
            raise
        return ReceiveResult(existing, duplicate=True)
    return ReceiveResult(submission, duplicate=False)


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
    the way are rolled back and only the archive's findings remain.
    Safe to run again: a submission that already has records (or a verdict) is not read twice.
    """
    with transaction.atomic():
        submission = Submission.objects.select_for_update().select_related("archive", "institution").get(pk=submission_id)
        if submission.is_final:
            return []
        if submission.records.exists():
            return _pending_chunks(submission)
        data = storage.read(submission.archive.sha256)
        with standard_reader.ArchiveReading(
            data,
            filename=submission.file_name,
            xsd_dir=settings.KENSHIN_XSD_DIR or None,
            password=_archive_password(submission) or None,
        ) as reading:
            archive_level = checks.archive_findings(reading, submission)
            with transaction.atomic():  # a savepoint: the records go if the archive is rejected
                progress = _records_save(reading, submission)
                archive_level += [*reading.findings, *progress.findings, *reading.finish()]
                rejected = reading.discard or not progress.records or any(
                    checks.blocks_archive(f, progress.record_files) for f in archive_level
                )
                if rejected:
                    transaction.set_rollback(True)
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
    batch: list[checks.PendingRecord] = []
    for read in reading.records():
        progress.files += len(read.files)
        pending = checks.pending_record(read, submission, progress.records + 1)
        if pending is None:
            progress.findings += read.findings
            continue
        record = pending.record
        own = {record.data_path, record.claim_path} - {""}
        progress.findings += [f for f in pending.findings if f.file not in own]
        pending.findings = [f for f in pending.findings if f.file in own]
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


def _archive_password(submission: Submission) -> str:
    from .selectors import submission_archive_password

    return submission_archive_password(submission)


def _pending_chunks(submission: Submission) -> list[tuple[int, int]]:
    positions = list(
        submission.records.filter(status=RecordStatus.PENDING).order_by("position").values_list("position", flat=True)
    )
    return [(chunk[0], chunk[-1]) for chunk in (positions[i : i + CHUNK_SIZE] for i in range(0, len(positions), CHUNK_SIZE))]


# --- Level 1: decide records -----------------------------------------------------------------------


def records_check(*, submission_id: int, first: int, last: int) -> int:
    """Decide the pending records at positions first..last (duplicates against everything accepted
    so far, then the findings already recorded) and link the corrections among them, in one
    transaction; then give the submission its verdict if this was the last chunk. Returns how many
    records were decided now (0 when a redelivered task finds the chunk done)."""
    from .routing import records_after_check, records_link_resubmissions

    with transaction.atomic():
        pending = list(
            Record.objects.select_for_update()
            .filter(submission_id=submission_id, status=RecordStatus.PENDING, position__gte=first, position__lte=last)
            .only("pk", "submission_id", "data_path", "insurer_number", "ticket_number", "checkup_date",
                  "card_symbol", "card_number", "card_branch", "birth_date")
            .order_by("position")
        )
        if pending:
            _records_decide(submission_id, pending)
            records_link_resubmissions(submission_id=submission_id, first=first, last=last)
            checked = Record.objects.filter(submission_id=submission_id).exclude(status=RecordStatus.PENDING).count()
            Submission.objects.filter(pk=submission_id).update(records_checked=checked)
    submission_finish(submission_id=submission_id)
    records_after_check(submission_id=submission_id)  # the receipt notice once the verdict is in
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
                duplicate = checks.DUPLICATE_ACCEPTED.at(file=record.data_path)
                Finding.objects.bulk_create(_finding_rows(submission, [duplicate], record))
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


def submission_process_inline(*, submission_id: int) -> Submission:
    """Run every stage in this process (the command line and tests use it; workers use the tasks)."""
    for first, last in submission_check_archive(submission_id=submission_id):
        records_check(submission_id=submission_id, first=first, last=last)
    return submission_finish(submission_id=submission_id)


__all__ = ["Channel", "ReceiveResult", "records_check", "submission_check_archive", "submission_finish", "submission_receive"]
