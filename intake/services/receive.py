"""Receiving an archive: the exact bytes kept once, the submission registered with its receipt number.

A second arrival of the same bytes, or a retry with the same idempotency key, is answered with the
first submission; if that one is unfinished and its work stopped (a worker died), checking resumes.
Checking starts after commit (``intake.jobs``; ``intake.pipeline`` says what follows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agency.crypto import encrypt_text
from agency.models import Institution, Insurer, User
from audit.models import Outcome
from audit.services import audit_record
from core import tenancy
from core.exceptions import ApplicationError
from intake import checks, jobs, storage
from intake.models import (
    ReceiptCounter,
    StoredArchive,
    Submission,
)
from intake.services.resume import submission_resume_if_stuck
from kenshin.codes import SERVICE_OTHER_CHECKUP

logger = logging.getLogger(__name__)

class ReceiveRefused(ApplicationError):
    """An archive that cannot be registered; ``code`` is stable, the message is for people."""

    code = "refused"


class ArchiveOfAnotherInstitution(ReceiveRefused):
    """The same bytes were received from another institution (nothing about it is disclosed)."""

    code = "duplicate_archive"
    status = 409


class ArchiveTooLarge(ReceiveRefused):
    """Larger than ``INTAKE_MAX_ARCHIVE_BYTES``; nothing was kept."""

    code = "ARC_TOO_LARGE"
    status = 413


class IdempotencyKeyReused(ReceiveRefused):
    """An idempotency key already used for different bytes."""

    code = "idempotency_key_reused"
    status = 422


@dataclass(frozen=True)
class ReceiveResult:
    submission: Submission
    duplicate: bool
    resumed: bool = False  # a repeat of an unfinished submission whose work had stopped: checking restarted


def _allocate_receipt_number(now: Any) -> str:
    year = timezone.localtime(now).year
    ReceiptCounter.objects.get_or_create(year=year)
    counter = ReceiptCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"R{year}-{counter.last:07d}"


class NotAnInsurerService(ReceiveRefused):
    """An insurer uploads only the 事業者健診等 results (実施区分 4) of its own 被保険者."""

    code = "INS_UPLOAD_SERVICE"
    status = 422


def _sender(institution: Institution | None, insurer: Insurer | None) -> dict[str, Any]:
    """The submission's sender columns: an institution, or an insurer uploading its own data."""
    if (institution is None) == (insurer is None):
        raise ValueError("a submission has one sender: an institution or an insurer")
    return {"institution": institution} if institution is not None else {"insurer": insurer}


def _existing(sender: dict[str, Any], sha256: str, idempotency_key: str) -> Submission | None:
    """The earlier submission this arrival repeats, if any (refusing what must not be answered)."""
    if idempotency_key:
        found = (
            Submission.objects.filter(idempotency_key=idempotency_key, **sender)
            .select_related("archive")
            .first()
        )
        if found is not None:
            if found.archive.sha256 != sha256:
                raise IdempotencyKeyReused("この冪等キーは別の内容のアーカイブに使用済みです。")
            return found
    # The same bytes from another institution must be found although that institution's rows are not
    # the caller's to see (row-level security, core.tenancy): only the fact is used, never shown.
    with tenancy.scope(tenancy.AGENCY):
        found = Submission.objects.filter(archive__sha256=sha256).select_related("archive").first()
    mine = tuple(getattr(sender.get(key), "pk", None) for key in ("institution", "insurer"))
    if found is not None and (found.institution_id, found.insurer_id) != mine:
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
    institution: Institution | None = None,
    insurer: Insurer | None = None,
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
    (``intake.pipeline.process_inline``), as the command line does. The sender is ``institution``, or
    ``insurer`` for an insurer's own upload of 事業者健診等 results (実施区分 4, named ``…_4.zip``).
    """
    sender = _sender(institution, insurer)
    sender_label = {"insurer": insurer.number} if insurer is not None else {"institution": institution.number if institution else ""}
    if insurer is not None and not file_name.lower().endswith(f"_{SERVICE_OTHER_CHECKUP}.zip"):
        refused: ReceiveRefused = NotAnInsurerService(
            "保険者が送付できるのは事業者健診等の結果（実施区分4、ファイル名の末尾が _4.zip のアーカイブ）だけです。"
        )
        _refusal_audited(
            refused, actor=actor, actor_label=actor_label, request=request,
            detail={"channel": channel, **sender_label, "file_name": file_name[:255]},
        )
        raise refused
    try:
        stored = storage.store(source, max_size=settings.INTAKE_MAX_ARCHIVE_BYTES)
    except storage.TooLarge as error:
        refused = ArchiveTooLarge(f"アーカイブが上限（{error.limit:,}バイト）を超えています。")
        _refusal_audited(
            refused, actor=actor, actor_label=actor_label, request=request,
            detail={"channel": channel, **sender_label, "file_name": file_name[:255]},
        )
        raise refused from error
    try:
        existing = _existing(sender, stored.sha256, idempotency_key)
    except ReceiveRefused as refused:
        _refusal_audited(
            refused, actor=actor, actor_label=actor_label, request=request,
            detail={"sha256": stored.sha256, "channel": channel, **sender_label},
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
        resumed = submission_resume_if_stuck(submission=existing, actor=actor, actor_label=actor_label, request=request)
        return ReceiveResult(existing, duplicate=True, resumed=resumed)
    try:
        with transaction.atomic():
            now = timezone.now()
            archive = StoredArchive.objects.create(sha256=stored.sha256, size=stored.size)
            submission = Submission.objects.create(
                receipt_number=_allocate_receipt_number(now),
                archive=archive,
                file_name=file_name[:255],
                channel=channel,
                received_at=now,
                received_by=actor if isinstance(actor, User) else None,
                idempotency_key=idempotency_key[:128],
                rule_set=checks.RULE_SET_VERSION,
                archive_password=encrypt_text(password) if password else "",
                **sender,
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
            # Level 0 is registered as a unit of work in this transaction, whoever runs it.
            jobs.start_checking(submission.pk, send=enqueue)
    except IntegrityError:
        # The same bytes (or key) arrived concurrently and won the race: answer with that one.
        existing = _existing(sender, stored.sha256, idempotency_key)
        if existing is None:
            raise
        return ReceiveResult(existing, duplicate=True)
    return ReceiveResult(submission, duplicate=False)
