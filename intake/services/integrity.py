"""The scheduled check of every stored archive against its SHA-256.

Reads of records take one member at a time (its CRC-32 checked), so the whole archive is no longer
hashed on every view; instead the beat task ``intake.archives_verify`` rehashes the archives whose
last check is the oldest, within a byte budget per run, and records when and with what result. A
mismatch (or a missing file) is audited as ``storage.integrity_failed`` and shows in the compliance
probe ``archive_integrity`` until the archive has been restored and checks clean again.

``record_places_fill`` (``manage.py record_places_fill``) gives records received before the places of
their members were kept those places, so that they too are read one member at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyzipper
from django.db.models import F
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from intake import storage
from intake.models import Record, StoredArchive, Submission
from kenshin.zipguard import MemberPlace

VERIFY_BUDGET_BYTES = 2 * 1024**3  # per run: an hourly run goes through 48 GiB a day


@dataclass
class VerifyRun:
    archives: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def archives_verify(*, budget_bytes: int = VERIFY_BUDGET_BYTES) -> VerifyRun:
    """Rehash the archives checked longest ago (never checked first) until ``budget_bytes`` are read."""
    run = VerifyRun()
    queue = StoredArchive.objects.order_by(F("verified_at").asc(nulls_first=True), "id").values_list("pk", "sha256", "size", "intact")
    for pk, sha256, size, was in queue.iterator(chunk_size=500):
        if run.archives and run.bytes + size > budget_bytes:
            break
        intact = storage.verify(sha256)
        StoredArchive.objects.filter(pk=pk).update(verified_at=timezone.now(), intact=intact)
        run.archives += 1
        run.bytes += size
        if not intact:
            run.failed.append(sha256)
            if was is not False:  # audited when found, not again on every later run
                audit_record(
                    action="storage.integrity_failed", actor_label="system", outcome=Outcome.FAILURE,
                    object_type="stored_archive", object_ids=[pk], detail={"sha256": sha256, "size": size},
                )
        elif was is False:
            audit_record(action="storage.integrity_restored", actor_label="system", object_type="stored_archive",
                         object_ids=[pk], detail={"sha256": sha256})
    return run


def record_places_fill(*, batch: int = 2_000) -> int:
    """Give the records received before their members' places were kept those places, read from each
    archive's directory once (the bytes are not read); returns how many records were given them.
    Idempotent: records that have their places are left alone."""
    filled = 0
    pending = Record.objects.filter(member_places={}).exclude(data_path="", claim_path="")
    for submission in Submission.objects.filter(pk__in=pending.values("submission_id")).select_related("archive").iterator(chunk_size=100):
        try:
            with storage.path_for(submission.archive.sha256).open("rb") as handle, pyzipper.AESZipFile(handle) as archive:
                infos = [info for info in archive.infolist() if not info.orig_filename.endswith("/")]
        except (OSError, pyzipper.BadZipFile):  # a missing or damaged archive: the scheduled check reports it
            continue
        roots = {PurePosixPath(info.orig_filename).parts[0] for info in infos}
        root = roots.pop() if len(roots) == 1 else ""
        places = {info.orig_filename[len(root) + 1 :] if root else info.orig_filename: MemberPlace.of(info) for info in infos}
        records = list(pending.filter(submission=submission).only("pk", "data_path", "claim_path", "member_places"))
        for record in records:
            record.member_places = {
                path: places[path].as_list() for path in (record.data_path, record.claim_path) if path and path in places
            }
        Record.objects.bulk_update(records, ["member_places"], batch_size=batch)
        filled += len(records)
    return filled
