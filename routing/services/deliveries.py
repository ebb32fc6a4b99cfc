"""振分 and what follows a delivery: routing, downloads, acknowledgement, media shipments.

Routing (``deliveries_route``) takes every accepted record of a finished submission that is not in a
delivery yet and packs it, per insurer, into a 種別 3 archive from this agency (OID …6.103,
``AgencyProfile.agency_code``) to the insurer (…6.101). The DATA and CLAIMS files are the bytes the
institution sent, read back from the stored original archive; ix08 and su08 are written anew for
exactly the records inside. Member names are kept when they follow the naming rule and are unique
in the delivery, otherwise a standard name is given (``h``/``c`` share the same stem). Every
delivery is read back by the format reader before it is kept, against the official XSDs when
``KENSHIN_XSD_DIR`` is set: a delivery that would not pass our own intake is never sent.

Idempotent and safe under concurrency: a router locks the insurer's row, and each record can sit
in one ``DeliveryItem`` only (unique in the database), so a second run (or a concurrent one) finds
nothing left to route.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyzipper
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Insurer, User
from audit.models import Outcome
from audit.services import audit_record
from core.actors import actor_label
from core.http import client_ip
from intake import jobs, storage
from intake.models import BILLED_KINDS, NotificationKind, Record, RecordKind
from kenshin.naming import ArchiveName
from kenshin.writer import pack

from ..models import MAX_SAME_DAY_COUNT, Delivery, DeliveryChannel, DeliveryDownload, DeliveryItem, DeliveryStatus
from ..packing import (
    MAX_TOTAL,
    SERVICE_OF_KIND,
    DeliveryWriter,
    RoutingError,
    agency_code,
    store_archive,
    verify_archive,
)
from ..selectors import next_same_day_count, routable_records

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_DELIVERY = 20_000
READ_BATCH = 500  # records read from the database at a time while a delivery is written
ITEM_BATCH = 2_000  # delivery items inserted at a time
MEDIA_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105 - an alphabet, not a secret
MEDIA_PASSWORD_GROUPS = 5
MEDIA_PASSWORD_GROUP = 4


# --- routing --------------------------------------------------------------------------------------------


class _Pending:
    """The routable records of one insurer, read from the database in batches, handed out a
    delivery at a time: at most MAX_RECORDS_PER_DELIVERY records whose su08 totals fit nine digits."""

    def __init__(self, records: Iterator[Record]) -> None:
        self._records = records
        self._next = next(records, None)

    @property
    def empty(self) -> bool:
        return self._next is None

    def delivery(self) -> Iterator[Record]:
        taken = total = 0
        while self._next is not None:
            record = self._next
            if taken and (taken >= MAX_RECORDS_PER_DELIVERY or total + record.unit_amount > MAX_TOTAL):
                return
            taken += 1
            total += record.unit_amount
            self._next = next(self._records, None)
            yield record


def _create_delivery(
    insurer: Insurer, kind: str, records: Iterator[Record], *, code: str, day: dt.date, count: int, actor: Any, request: HttpRequest | None
) -> Delivery:
    """Write one delivery to a temporary file member by member, read it back, store it, record it."""
    name = ArchiveName(code, insurer.number, day, count, SERVICE_OF_KIND[RecordKind(kind)])
    with tempfile.NamedTemporaryFile(prefix="delivery-", suffix=".zip") as out:
        writer = DeliveryWriter(out, name, code=code, insurer_number=insurer.number, with_claims=kind in BILLED_KINDS)
        try:
            for record in records:
                writer.add(record)
            writer.finish()
        finally:
            writer.close()
        out.flush()
        verify_archive(Path(out.name), name.filename)
        out.seek(0)
        archive = store_archive(out)
    totals = writer.totals
    delivery = Delivery(
        insurer=insurer,
        archive=archive,
        file_name=name.filename,
        sender_code=code,
        created_on=day,
        same_day_count=count,
        record_count=len(writer.entries),
        file_count=len(writer.entries) + writer.claim_files,
        unit_total=totals.cost,
        payment_total=totals.payment,
        claim_total=totals.claim,
        record_kind=kind,
        created_by=actor if isinstance(actor, User) else None,
    )
    delivery.full_clean()
    delivery.save()
    for first in range(0, len(writer.entries), ITEM_BATCH):
        DeliveryItem.objects.bulk_create(
            DeliveryItem(delivery=delivery, record_id=entry.record_id, position=position, data_name=entry.data_name, claim_name=entry.claim_name)
            for position, entry in enumerate(writer.entries[first : first + ITEM_BATCH], start=first + 1)
        )
    audit_record(
        action="routing.delivery.created",
        actor=actor,
        actor_label="" if actor is not None else "system",
        request=request,
        object_type="delivery",
        object_ids=[delivery.pk],
        detail={
            "insurer": insurer.number,
            "file_name": delivery.file_name,
            "records": delivery.record_count,
            "claim_total": delivery.claim_total,
            "sha256": delivery.archive.sha256,
        },
    )
    jobs.notify_on_commit(NotificationKind.DELIVERY.value, delivery.pk)
    return delivery


def _route_insurer(insurer_id: int, *, code: str, day: dt.date, actor: Any, request: HttpRequest | None) -> list[Delivery]:
    created: list[Delivery] = []
    with transaction.atomic():
        # The insurer's row serialises routers: a concurrent run waits here, then finds nothing left.
        insurer = Insurer.objects.select_for_update().get(pk=insurer_id)
        if not insurer.is_active:
            return created
        records = (
            routable_records()
            .filter(insurer=insurer)
            .select_related("submission__archive", "institution")
            .order_by("submission__received_at", "submission_id", "position")
        )
        count = next_same_day_count(insurer, day)
        # One kind of record per archive: checkups, guidance, results only and 事業者健診等 never mixed.
        kinds = set(records.order_by().values_list("kind", flat=True).distinct())
        for kind in (kind for kind in RecordKind.values if kind in kinds):
            # Read in batches (a server-side cursor on PostgreSQL): memory stays flat in the number of records.
            pending = _Pending(records.filter(kind=kind).iterator(chunk_size=READ_BATCH))
            while not pending.empty:
                if count > MAX_SAME_DAY_COUNT:
                    logger.warning("insurer %s: the same-day count is exhausted; records wait for tomorrow", insurer.number)
                    return created
                created.append(
                    _create_delivery(insurer, kind, pending.delivery(), code=code, day=day, count=count, actor=actor, request=request)
                )
                count += 1
    return created


@dataclass(frozen=True)
class RoutingFailure:
    insurer_number: str
    message: str


def deliveries_route(
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    insurer_ids: Iterable[int] | None = None,
    failures: list[RoutingFailure] | None = None,
) -> list[Delivery]:
    """Route every routable record into new deliveries, one insurer at a time; return what was created.

    Running it again creates nothing (the records are in deliveries already). An insurer whose
    delivery cannot be built (its archive would not pass the reader) is skipped, logged and audited
    (``routing.failed``), and appended to ``failures`` when given; the other insurers are routed.
    """
    code = agency_code()
    day = timezone.localdate()
    pending = routable_records()
    if insurer_ids is not None:
        pending = pending.filter(insurer_id__in=list(insurer_ids))
    created: list[Delivery] = []
    failed: list[RoutingFailure] = []
    for insurer_id in sorted(set(pending.values_list("insurer_id", flat=True))):
        try:
            created += _route_insurer(insurer_id, code=code, day=day, actor=actor, request=request)
        except RoutingError as error:
            number = Insurer.objects.filter(pk=insurer_id).values_list("number", flat=True).first() or str(insurer_id)
            logger.exception("routing for insurer %s failed", number)
            failed.append(RoutingFailure(number, str(error)))
            audit_record(
                action="routing.failed", actor=actor, actor_label="" if actor is not None else "system", request=request,
                outcome=Outcome.FAILURE, object_type="insurer", object_ids=[insurer_id],
                detail={"insurer": number, "code": error.code, "message": str(error)[:500]},
            )
    audit_record(
        action="routing.run",
        actor=actor,
        actor_label="" if actor is not None else "system",
        request=request,
        object_type="delivery",
        object_ids=[delivery.pk for delivery in created],
        detail={"deliveries": len(created), "records": sum(d.record_count for d in created), "failed": len(failed)},
    )
    if failures is not None:
        failures.extend(failed)
    return created


# --- downloads, acknowledgement, media --------------------------------------------------------------------


def delivery_download(*, delivery: Delivery, actor: Any, request: HttpRequest | None, channel: str) -> bytes:
    """The delivery's archive; the download is recorded (who, when, from where) and audited."""
    data = storage.read(delivery.archive.sha256)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        now = timezone.now()
        download = DeliveryDownload(
            delivery=locked,
            user=actor if isinstance(actor, User) else None,
            actor_label=actor_label(actor),
            downloaded_at=now,
            ip=(client_ip(request) or None) if request is not None else None,
            channel=channel,
        )
        download.full_clean()
        download.save()
        if locked.status == DeliveryStatus.READY:
            locked.status = DeliveryStatus.DOWNLOADED
            locked.downloaded_at = now
            locked.save(update_fields=["status", "downloaded_at"])
        audit_record(
            action="routing.delivery.downloaded",
            actor=actor,
            request=request,
            object_type="delivery",
            object_ids=[locked.pk],
            detail={"channel": channel, "file_name": locked.file_name, "records": locked.record_count, "sha256": delivery.archive.sha256},
        )
    delivery.refresh_from_db()
    return data


def delivery_acknowledge(*, delivery: Delivery, actor: Any, request: HttpRequest | None = None) -> Delivery:
    """The insurer confirms it has received the delivery (idempotent: a second call changes nothing)."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == DeliveryStatus.ACKNOWLEDGED:
            return locked
        locked.status = DeliveryStatus.ACKNOWLEDGED
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = actor if isinstance(actor, User) else None
        locked.acknowledged_label = actor_label(actor)
        locked.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledged_label"])
        audit_record(
            action="routing.delivery.acknowledged",
            actor=actor,
            request=request,
            object_type="delivery",
            object_ids=[locked.pk],
            detail={"file_name": locked.file_name},
        )
    return locked


def media_password() -> str:
    """A password for a media archive: 20 characters from an unambiguous alphabet, in groups of four."""
    groups = (
        "".join(secrets.choice(MEDIA_PASSWORD_ALPHABET) for _ in range(MEDIA_PASSWORD_GROUP))
        for _ in range(MEDIA_PASSWORD_GROUPS)
    )
    return "-".join(groups)


def _archive_members(data: bytes) -> tuple[str, dict[str, bytes]]:
    """(root folder, {path inside the root: bytes}) of one of our own archives."""
    members: dict[str, bytes] = {}
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        names = [name for name in archive.namelist() if not name.endswith("/")]
        root = PurePosixPath(names[0]).parts[0] if names else ""
        for name in names:
            members[name[len(root) + 1 :]] = archive.read(name)
    return root, members


def delivery_media_prepare(*, delivery: Delivery, actor: Any, request: HttpRequest | None = None) -> tuple[Delivery, str]:
    """An AES-256 password-locked copy of the delivery for media (CD-R etc.).

    Returns the delivery and the password; the password is shown once and only its hash is kept.
    Preparing again makes a new copy with a new password (the old one is no longer valid).
    """
    root, members = _archive_members(storage.read(delivery.archive.sha256))
    password = media_password()
    data = pack(root, members, created_on=delivery.created_on, password=password)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        locked.media_archive = store_archive(data)
        locked.media_password_hash = make_password(password)
        locked.media_password_locked = True
        locked.media_prepared_at = timezone.now()
        locked.media_prepared_by = actor if isinstance(actor, User) else None
        locked.save(update_fields=[
            "media_archive", "media_password_hash", "media_password_locked", "media_prepared_at", "media_prepared_by",
        ])
        audit_record(
            action="routing.delivery.media_prepared",
            actor=actor,
            request=request,
            object_type="delivery",
            object_ids=[locked.pk],
            detail={"file_name": locked.file_name, "media_sha256": locked.media_archive.sha256, "aes": True},
        )
    return locked, password


def delivery_media_download(*, delivery: Delivery, actor: Any, request: HttpRequest | None = None) -> bytes:
    """The password-locked media copy, for writing to the medium (recorded as a media download)."""
    if delivery.media_archive_id is None:
        raise ValidationError(_("媒体用のアーカイブがまだ作成されていません。"), code="no_media")
    data = storage.read(delivery.media_archive.sha256)
    with transaction.atomic():
        DeliveryDownload.objects.create(
            delivery=delivery,
            user=actor if isinstance(actor, User) else None,
            actor_label=actor_label(actor),
            ip=(client_ip(request) or None) if request is not None else None,
            channel=DeliveryChannel.MEDIA,
        )
        audit_record(
            action="routing.delivery.media_downloaded",
            actor=actor,
            request=request,
            object_type="delivery",
            object_ids=[delivery.pk],
            detail={"file_name": delivery.file_name, "media_sha256": delivery.media_archive.sha256},
        )
    return data


def delivery_media_ship(*, delivery: Delivery, tracking_number: str, actor: Any, request: HttpRequest | None = None) -> Delivery:
    """Record the courier's tracking number of the medium (audited with the old and new value)."""
    tracking_number = tracking_number.strip()
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.media_archive_id is None:
            raise ValidationError(_("媒体用のアーカイブを作成してから送り状番号を登録してください。"), code="no_media")
        old = locked.media_tracking_number
        locked.media_tracking_number = tracking_number
        locked.media_shipped_at = timezone.now() if tracking_number else None
        locked.full_clean()
        locked.save(update_fields=["media_tracking_number", "media_shipped_at"])
        audit_record(
            action="routing.delivery.media_shipped",
            actor=actor,
            request=request,
            object_type="delivery",
            object_ids=[locked.pk],
            detail={"old": old, "new": tracking_number},
        )
    return locked
