"""Retention per data class and disposal: request (manifest), two approvals, deletion, certificate.

The manifest lists every item to be disposed of; its SHA-256 is what approvers approve. Execution
checks that the data still matches the approved manifest, deletes the rows and the stored files,
and issues an append-only certificate (chained by hash like the audit log) in the same transaction.
Files are moved aside before the transaction and unlinked only after it commits (put back if it
fails), so a failed disposal never leaves rows pointing at missing files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.chain import GENESIS_HASH
from audit.services import audit_record
from compliance.models import DataClass, DisposalApproval, DisposalCertificate, DisposalRequest, RetentionPolicy
from compliance.services.backup import backup_keep
from intake import storage
from intake.models import Finding, Record, StoredArchive, Submission

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

APPROVALS_REQUIRED = 2
METHOD = {
    DataClass.SUBMISSION: gettext_lazy(
        "データベースから受付・健診レコード・点検結果の行を削除し、受領ファイルをファイルシステムから削除"
        "（論理削除ではない物理削除）。バックアップ内の複製は世代管理により消去される。"
    ),
}


def canonical(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


# --- Retention policies ---------------------------------------------------------------------------------


def retention_policy_save(
    *, data_class: str, retention_years: int, legal_basis: str, procedure: str, actor: Any,
    request: HttpRequest | None = None,
) -> RetentionPolicy:
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(data_class=data_class).first()
        old = None if policy is None else {"retention_years": policy.retention_years, "legal_basis": policy.legal_basis}
        policy = policy or RetentionPolicy(data_class=data_class)
        policy.retention_years = retention_years
        policy.legal_basis = legal_basis.strip()
        policy.procedure = procedure.strip()
        policy.updated_by = actor
        policy.full_clean()
        policy.save()
        audit_record(action="compliance.retention.saved", actor=actor, request=request, object_type="retention_policy",
                     object_ids=[data_class],
                     detail={"old": old, "new": {"retention_years": retention_years, "legal_basis": policy.legal_basis}})
    return policy


# --- Manifests ----------------------------------------------------------------------------------------


def _held_back(candidates: set[int]) -> set[int]:
    """Submissions that must stay because records of a staying submission replace their records."""
    held: set[int] = set()
    while True:
        remaining = candidates - held
        newly = set(
            Record.objects.filter(replaces__submission_id__in=remaining)
            .exclude(submission_id__in=remaining)
            .values_list("replaces__submission_id", flat=True)
        ) - held
        if not newly:
            return held
        held |= newly


def submission_manifest(*, cutoff: dt.datetime, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The expired submissions (received before ``cutoff``, checking finished) and what they contain."""
    qs = Submission.objects.filter(received_at__lt=cutoff, checked_at__isnull=False)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    candidates = set(qs.values_list("pk", flat=True))
    keep = candidates - _held_back(candidates)
    rows = (
        Submission.objects.filter(pk__in=keep)
        .select_related("archive")
        .annotate(record_count=Count("records", distinct=True), finding_count=Count("findings", distinct=True))
        .order_by("pk")
    )
    return [
        {
            "submission": s.pk,
            "receipt_number": s.receipt_number,
            "received_at": s.received_at,
            "archive_sha256": s.archive.sha256,
            "archive_size": s.archive.size,
            "records": s.record_count,
            "findings": s.finding_count,
        }
        for s in rows
    ]


def _counts(manifest: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "submissions": len(manifest),
        "records": sum(e["records"] for e in manifest),
        "findings": sum(e["findings"] for e in manifest),
        "files": len(manifest),
        "bytes": sum(e["archive_size"] for e in manifest),
    }


def disposal_expired_preview(*, data_class: str, now: dt.datetime | None = None) -> dict[str, int] | None:
    policy = RetentionPolicy.objects.filter(data_class=data_class).first()
    if policy is None:
        return None
    cutoff = years_before(now or timezone.now(), policy.retention_years)
    return _counts(submission_manifest(cutoff=cutoff))


# --- Requests, approvals, execution ---------------------------------------------------------------------


def disposal_request_create(*, data_class: str, actor: Any, request: HttpRequest | None = None) -> DisposalRequest:
    policy = RetentionPolicy.objects.filter(data_class=data_class).first()
    if policy is None:
        raise ValidationError(_("この情報種別の保存期間が設定されていません。"))
    now = timezone.now()
    cutoff = years_before(now, policy.retention_years)
    manifest = submission_manifest(cutoff=cutoff)
    if not manifest:
        raise ValidationError(_("保存期間を過ぎたデータはありません。"))
    manifest_json = json.loads(canonical(manifest))
    disposal = DisposalRequest(
        data_class=data_class, cutoff=cutoff, manifest=manifest_json, manifest_sha256=sha256_of(manifest_json),
        counts=_counts(manifest), requested_by=actor, requested_at=now,
    )
    disposal.full_clean()
    with transaction.atomic():
        disposal.save()
        audit_record(action="compliance.disposal.requested", actor=actor, request=request, object_type="disposal_request",
                     object_ids=[disposal.pk], detail={"manifest_sha256": disposal.manifest_sha256, "counts": disposal.counts})
    return disposal


def _lock(disposal: DisposalRequest) -> DisposalRequest:
    return DisposalRequest.objects.select_for_update().get(pk=disposal.pk)


def disposal_approve(*, disposal: DisposalRequest, actor: Any, request: HttpRequest | None = None) -> DisposalApproval:
    with transaction.atomic():
        disposal = _lock(disposal)
        if disposal.state != DisposalRequest.State.PENDING:
            raise ValidationError(_("承認待ちの申請ではありません。"))
        if disposal.approvals.filter(approver=actor).exists():
            raise ValidationError(_("この申請は既に承認しています。承認は別の担当者が行ってください。"))
        approval = DisposalApproval(request=disposal, approver=actor, approved_at=timezone.now(),
                                    manifest_sha256=disposal.manifest_sha256)
        approval.full_clean()
        approval.save()
        audit_record(action="compliance.disposal.approved", actor=actor, request=request, object_type="disposal_request",
                     object_ids=[disposal.pk], detail={"manifest_sha256": disposal.manifest_sha256})
    return approval


def disposal_cancel(*, disposal: DisposalRequest, actor: Any, request: HttpRequest | None = None) -> DisposalRequest:
    with transaction.atomic():
        disposal = _lock(disposal)
        if disposal.state != DisposalRequest.State.PENDING:
            raise ValidationError(_("承認待ちの申請ではありません。"))
        disposal.state = DisposalRequest.State.CANCELLED
        disposal.closed_by = actor
        disposal.closed_at = timezone.now()
        disposal.save(update_fields=["state", "closed_by", "closed_at"])
        audit_record(action="compliance.disposal.cancelled", actor=actor, request=request, object_type="disposal_request",
                     object_ids=[disposal.pk])
    return disposal


def _staging_dir(disposal: DisposalRequest) -> Path:
    return Path(settings.STORAGE_DIR) / "compliance" / "disposal-staging" / str(disposal.pk)


def _stage_files(disposal: DisposalRequest, digests: list[str]) -> list[tuple[Path, Path]]:
    """Move the stored files aside (same file system, atomic renames); return (original, staged) pairs."""
    staging = _staging_dir(disposal)
    staging.mkdir(parents=True, exist_ok=True)
    moved: list[tuple[Path, Path]] = []
    try:
        for digest in digests:
            original = storage.path_for(digest)
            staged = staging / digest
            if original.exists():
                os.replace(original, staged)
                moved.append((original, staged))
    except OSError:
        _unstage(moved)
        raise
    return moved


def _unstage(moved: list[tuple[Path, Path]]) -> None:
    for original, staged in moved:
        try:
            os.replace(staged, original)
        except OSError:
            logger.exception("could not put back %s", original)


def _purge(disposal: DisposalRequest) -> None:
    try:
        shutil.rmtree(_staging_dir(disposal))
    except OSError:
        logger.exception("disposed files of request %s could not be removed", disposal.pk)


def _delete_submissions(ids: list[int]) -> None:
    Finding.objects.filter(submission_id__in=ids).delete()
    remaining = Record.objects.filter(submission_id__in=ids)
    # Records replace one another (PROTECT): delete those no remaining record refers to, until none remain.
    while remaining.exists():
        leaves = remaining.exclude(pk__in=Record.objects.filter(submission_id__in=ids, replaces__isnull=False).values("replaces"))
        leaf_ids = list(leaves.values_list("pk", flat=True))
        if not leaf_ids:
            raise ValidationError(_("健診レコードの参照関係が循環しているため削除できません。"))
        Record.objects.filter(pk__in=leaf_ids).delete()
    archive_ids = list(Submission.objects.filter(pk__in=ids).values_list("archive_id", flat=True))
    Submission.objects.filter(pk__in=ids).delete()
    StoredArchive.objects.filter(pk__in=archive_ids).delete()


def _backups_expire_by(now: dt.datetime) -> dt.date:
    # One generation a day, ``keep`` generations: the last copy taken before now rotates out after ``keep`` days.
    return timezone.localdate(now) + dt.timedelta(days=backup_keep())


def disposal_execute(*, disposal: DisposalRequest, actor: Any, request: HttpRequest | None = None) -> DisposalCertificate:
    now = timezone.now()
    with transaction.atomic():
        disposal = _lock(disposal)
        if disposal.state != DisposalRequest.State.PENDING:
            raise ValidationError(_("承認待ちの申請ではありません。"))
        approvals = list(disposal.approvals.select_related("approver").filter(manifest_sha256=disposal.manifest_sha256))
        if len({a.approver_id for a in approvals}) < APPROVALS_REQUIRED:
            raise ValidationError(_("破棄には2名の承認が必要です。"))
        if actor.pk not in {a.approver_id for a in approvals}:
            raise ValidationError(_("破棄の実行は承認者のいずれかが行ってください。"))
        ids = [entry["submission"] for entry in disposal.manifest]
        current = json.loads(canonical(submission_manifest(cutoff=disposal.cutoff, ids=ids)))
        if sha256_of(current) != disposal.manifest_sha256:
            raise ValidationError(_("承認後に対象データが変わっています。申請を取り消し、改めて申請してください。"))
        moved = _stage_files(disposal, [entry["archive_sha256"] for entry in current])
        try:
            with transaction.atomic():
                _delete_submissions(ids)
                certificate = _issue_certificate(disposal, approvals, actor=actor, now=now)
                disposal.state = DisposalRequest.State.EXECUTED
                disposal.closed_by = actor
                disposal.closed_at = now
                disposal.save(update_fields=["state", "closed_by", "closed_at"])
                audit_record(
                    action="compliance.disposal.executed", actor=actor, request=request, object_type="disposal_request",
                    object_ids=[disposal.pk],
                    detail={"certificate": certificate.seq, "manifest_sha256": disposal.manifest_sha256,
                            "counts": disposal.counts},
                )
        except ProtectedError as exc:
            _unstage(moved)
            names = sorted({type(obj)._meta.verbose_name for obj in exc.protected_objects})
            raise ValidationError(
                _("他のデータ（%(models)s）から参照されているため破棄できません。") % {"models": "、".join(str(n) for n in names)}
            ) from exc
        except BaseException:
            _unstage(moved)
            raise
        transaction.on_commit(lambda: _purge(disposal))
    return certificate


def _issue_certificate(disposal: DisposalRequest, approvals: list[DisposalApproval], *, actor: Any, now: dt.datetime) -> DisposalCertificate:
    last = DisposalCertificate.objects.select_for_update().order_by("-seq").values("seq", "certificate_hash").first()
    content = {
        "seq": (last["seq"] + 1) if last else 1,
        "request": disposal.pk,
        "issued_at": now,
        "data_class": disposal.data_class,
        "method": str(METHOD[DataClass(disposal.data_class)]),
        "counts": disposal.counts,
        "manifest_sha256": disposal.manifest_sha256,
        "requested_by": disposal.requested_by.get_username(),
        "approvers": [
            {"id": a.approver_id, "username": a.approver.get_username(), "approved_at": a.approved_at}
            for a in approvals
        ],
        "executed_by": actor.get_username(),
        "backups_expire_by": _backups_expire_by(now),
    }
    prev_hash = last["certificate_hash"] if last else GENESIS_HASH
    content = json.loads(canonical(content))
    certificate = DisposalCertificate(
        seq=content["seq"],
        request=disposal,
        issued_at=now,
        data_class=disposal.data_class,
        method=content["method"],
        counts=content["counts"],
        manifest=disposal.manifest,
        manifest_sha256=disposal.manifest_sha256,
        requested_by=content["requested_by"],
        approvers=content["approvers"],
        executed_by=content["executed_by"],
        backups_expire_by=_backups_expire_by(now),
        prev_hash=prev_hash,
        certificate_hash=hashlib.sha256(prev_hash.encode("ascii") + canonical(content)).hexdigest(),
    )
    certificate.full_clean()
    certificate.save(force_insert=True)
    return certificate


def certificate_verify(certificate: DisposalCertificate) -> bool:
    """Recompute the certificate's hash from its stored content."""
    content = {
        "seq": certificate.seq,
        "request": certificate.request_id,
        "issued_at": certificate.issued_at,
        "data_class": certificate.data_class,
        "method": certificate.method,
        "counts": certificate.counts,
        "manifest_sha256": certificate.manifest_sha256,
        "requested_by": certificate.requested_by,
        "approvers": certificate.approvers,
        "executed_by": certificate.executed_by,
        "backups_expire_by": certificate.backups_expire_by,
    }
    expected = hashlib.sha256(certificate.prev_hash.encode("ascii") + canonical(json.loads(canonical(content)))).hexdigest()
    return expected == certificate.certificate_hash and sha256_of(certificate.manifest) == certificate.manifest_sha256
