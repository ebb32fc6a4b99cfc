"""The scheduled check of every stored archive against its SHA-256.

Reads of records take one member at a time (its CRC-32 checked), so the whole archive is no longer
hashed on every view; instead the beat task ``intake.archives_verify`` rehashes the archives whose
last check is the oldest, within a byte budget per run, and records when and with what result. A
mismatch (or a missing file) is audited as ``storage.integrity_failed`` and shows in the compliance
probe ``archive_integrity`` until the archive has been restored and checks clean again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from intake import storage
from intake.models import StoredArchive

VERIFY_BUDGET_BYTES = 2 * 1024**3  # per run: an hourly run goes through 48 GiB a day


@dataclass
class VerifyRun:
    archives: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def archives_verify(*, budget_bytes: int = VERIFY_BUDGET_BYTES) -> VerifyRun:
    """Rehash the archives checked longest ago (never checked first) until ``budget_bytes`` are read."""
    run = VerifyRun()
    queue = StoredArchive.objects.order_by(F("verified_at").asc(nulls_first=True), "id").values_list("pk", "sha256", "size")
    for pk, sha256, size in queue.iterator(chunk_size=500):
        if run.archives and run.bytes + size > budget_bytes:
            break
        intact = storage.verify(sha256)
        now = timezone.now()
        was = StoredArchive.objects.filter(pk=pk).values_list("intact", flat=True).first()
        StoredArchive.objects.filter(pk=pk).update(verified_at=now, intact=intact)
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
