"""振分: accepted records go to their insurer as standard-format deliveries; 過誤 come back.

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

An insurer's 過誤 (``insurer_return_create``) takes a routed record out of the accepted set and builds
a 種別 2 archive back to the institution whose claim carries ``insurerAdjudicationResult`` (別表10).
A corrected resubmission is linked to the returned record (``Record.replaces``) when it is accepted
(``records_link_resubmissions``, in the same transaction as the decision).

Reads (scoped per user), access functions and the timelines of records, submissions and deliveries
are at the end.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import pyzipper
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.access import deny
from agency.http import client_ip
from agency.models import AgencyProfile, Insurer, Role, User
from audit.models import Outcome
from audit.services import audit_record
from kenshin.assemble import agency_party, institution_party, insurer_party, summary_for
from kenshin.claim_read import read_claim
from kenshin.claim_write import claim_xml, index_xml, summary_xml
from kenshin.codes import SERVICE_CHECKUP, Namespace
from kenshin.findings import Severity
from kenshin.naming import CLAIMS_DIR, DATA_DIR, INDEX_FILE, SUMMARY_FILE, ArchiveName, MemberName
from kenshin.reader import ArchiveReading
from kenshin.records import AdjudicationResult, CheckupDocument, Claim, IndexRecord
from kenshin.writer import pack, xsd_members
from kenshin.xmlsafe import parse_xml

from . import storage
from .models import (
    MAX_SAME_DAY_COUNT,
    Delivery,
    DeliveryChannel,
    DeliveryDownload,
    DeliveryItem,
    DeliveryStatus,
    InsurerReturn,
    InsurerReturnReason,
    NotificationKind,
    Record,
    RecordStatus,
    StoredArchive,
    Submission,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

ROUTABLE_SUBMISSION_STATUSES = (SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED)
MAX_RECORDS_PER_DELIVERY = 20_000
MAX_TOTAL = 999_999_999  # su08 money totals are at most nine digits
RETURN_NOTE_MAX = 100  # reason text of insurerAdjudicationResult
INSURER_RESULT_INTERACTION = "4"  # 保険者 → 代行機関 (未決済データ); the claim is not paid when it is returned
MEDIA_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105 - an alphabet, not a secret
MEDIA_PASSWORD_GROUPS = 5
MEDIA_PASSWORD_GROUP = 4


class RoutingError(Exception):
    """Routing or a return could not be done; ``code`` is stable, the message is for people."""

    code = "routing_error"


class AgencyCodeMissing(RoutingError):
    code = "agency_code_missing"


class DeliveryInvalid(RoutingError):
    """The archive built for a delivery or a return did not pass the reader (XSD or structure)."""

    code = "delivery_invalid"


# --- reading the original members ----------------------------------------------------------------------


def read_members(submission: Submission, paths: Iterable[str]) -> dict[str, bytes]:
    """Members of a stored submission archive by path inside its root folder (bytes as received)."""
    from .selectors import submission_members

    return submission_members(submission, paths)


def parse_claim(data: bytes, path: str) -> Claim | None:
    element, problem = parse_xml(data, path)
    if element is None or problem is not None:
        return None
    try:
        namespace = Namespace(element.tag[1:].split("}")[0])
        return read_claim(element, path, namespace)
    except Exception:  # the claim passed intake; a failure here is reported by the caller as unreadable
        logger.exception("claim %s could not be read back", path)
        return None


def parse_checkup(data: bytes, path: str) -> CheckupDocument | None:
    from kenshin.cda_read import read_checkup

    element, problem = parse_xml(data, path)
    if element is None or problem is not None:
        return None
    try:
        return read_checkup(element, path)
    except Exception:
        logger.exception("checkup %s could not be read back", path)
        return None


def record_documents(record: Record) -> tuple[CheckupDocument | None, Claim | None]:
    """The record's checkup and claim, parsed from the stored original (None when unreadable)."""
    try:
        members = read_members(record.submission, [record.data_path, record.claim_path])
    except Exception:  # a missing or damaged stored archive must not take the page down
        logger.exception("record %s: the stored archive could not be read", record.pk)
        return None, None
    checkup = parse_checkup(members[record.data_path], record.data_path) if record.data_path in members else None
    claim = parse_claim(members[record.claim_path], record.claim_path) if record.claim_path in members else None
    return checkup, claim


# --- building an archive ------------------------------------------------------------------------------


def agency_code() -> str:
    code = AgencyProfile.objects.values_list("agency_code", flat=True).first() or ""
    if not code:
        raise AgencyCodeMissing(_("代行機関番号（代行機関情報）が設定されていないため送付データを作成できません。"))
    return code


def _xsd_dir() -> Path | None:
    value = getattr(settings, "KENSHIN_XSD_DIR", "") or ""
    return Path(value) if value else None


def verify_archive(data: bytes, file_name: str) -> None:
    """Read a built archive back, a person at a time; raise DeliveryInvalid on any blocking finding
    (XSD included when configured)."""
    with ArchiveReading(data, filename=file_name, xsd_dir=_xsd_dir(), master=None) as reading:
        findings = [finding for read in reading.records() for finding in read.findings]
        findings += [*reading.findings, *reading.finish()]
    blocking = [f for f in findings if f.severity in (Severity.ERROR, Severity.FATAL)]
    if blocking:
        detail = "; ".join(f"{f.code} {f.file or ''} {f.message}".strip() for f in blocking[:10])
        raise DeliveryInvalid(_("作成したアーカイブが標準様式の点検を通りません: %(detail)s") % {"detail": detail})


def _pack(name: ArchiveName, members: dict[str, bytes], *, password: str | None = None) -> bytes:
    directory = _xsd_dir()
    if directory is not None:
        members = {**members, **xsd_members(directory)}
    return pack(name.stem, members, created_on=name.submitted_on, password=password)


def _store(data: bytes) -> StoredArchive:
    stored = storage.store(data)
    archive, _created = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
    return archive


@dataclass(frozen=True)
class _Part:
    record: Record
    data_name: str
    claim_name: str
    data: bytes
    claim_data: bytes
    claim: Claim


def _member_names(record: Record, used: set[str], fresh: Callable[[Record], MemberName]) -> tuple[str, str]:
    """Keep the institution's names when they follow the rule and are free; otherwise a standard name."""
    data_file = record.data_path.rsplit("/", 1)[-1]
    parsed = MemberName.parse(data_file)
    if parsed is not None and parsed.prefix == "h":
        data_name = f"{DATA_DIR}/{parsed.filename}"
        claim_name = f"{CLAIMS_DIR}/{parsed.with_prefix('c').filename}"
        if data_name not in used and claim_name not in used:
            used.update((data_name, claim_name))
            return data_name, claim_name
    while True:
        name = fresh(record)
        data_name, claim_name = name.path, name.with_prefix("c").path
        if data_name not in used and claim_name not in used:
            used.update((data_name, claim_name))
            return data_name, claim_name


def _parts(records: Sequence[Record], name: ArchiveName) -> list[_Part]:
    serial = 0

    def fresh(record: Record) -> MemberName:
        nonlocal serial
        serial += 1
        return MemberName("h", record.institution.number, name.submitted_on, name.same_day_count, SERVICE_CHECKUP, serial)

    used: set[str] = set()
    by_submission: dict[int, list[Record]] = {}
    for record in records:
        by_submission.setdefault(record.submission_id, []).append(record)
    parts: dict[int, _Part] = {}
    for group in by_submission.values():
        members = read_members(group[0].submission, [p for r in group for p in (r.data_path, r.claim_path)])
        for record in group:
            claim = parse_claim(members[record.claim_path], record.claim_path)
            if claim is None:
                raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            data_name, claim_name = _member_names(record, used, fresh)
            parts[record.pk] = _Part(record, data_name, claim_name, members[record.data_path], members[record.claim_path], claim)
    return [parts[record.pk] for record in records]


def _delivery_archive(parts: Sequence[_Part], name: ArchiveName, code: str, insurer_number: str) -> bytes:
    claims = [part.claim for part in parts]
    index = IndexRecord(
        interaction_type="3",
        created_on=name.submitted_on,
        sender=agency_party(code),
        receiver=insurer_party(insurer_number),
        service_event_type=SERVICE_CHECKUP,
        total_record_count=2 * len(parts),
    )
    members = {INDEX_FILE: index_xml(index), SUMMARY_FILE: summary_xml(summary_for(claims, service_event_type=SERVICE_CHECKUP))}
    for part in parts:
        members[part.data_name] = part.data
    for part in parts:
        members[part.claim_name] = part.claim_data
    return _pack(name, members)


# --- routing --------------------------------------------------------------------------------------------


def routable_records() -> QuerySet[Record]:
    """Accepted records of finished submissions that are in no delivery yet, for an active insurer."""
    return Record.objects.filter(
        status=RecordStatus.ACCEPTED,
        submission__status__in=ROUTABLE_SUBMISSION_STATUSES,
        insurer__isnull=False,
        insurer__is_active=True,
        delivery_item__isnull=True,
    ).exclude(claim_path="")


def _next_same_day_count(insurer: Insurer, day: dt.date) -> int:
    last = Delivery.objects.filter(insurer=insurer, created_on=day).aggregate(last=Max("same_day_count"))["last"]
    return 0 if last is None else last + 1


def _chunks(records: Sequence[Record]) -> Iterable[list[Record]]:
    """Deliveries of at most MAX_RECORDS_PER_DELIVERY records whose su08 totals fit nine digits."""
    chunk: list[Record] = []
    total = 0
    for record in records:
        if chunk and (len(chunk) >= MAX_RECORDS_PER_DELIVERY or total + record.unit_amount > MAX_TOTAL):
            yield chunk
            chunk, total = [], 0
        chunk.append(record)
        total += record.unit_amount
    if chunk:
        yield chunk


def _create_delivery(
    insurer: Insurer, records: list[Record], *, code: str, day: dt.date, count: int, actor: Any, request: HttpRequest | None
) -> Delivery:
    name = ArchiveName(code, insurer.number, day, count, SERVICE_CHECKUP)
    parts = _parts(records, name)
    data = _delivery_archive(parts, name, code, insurer.number)
    verify_archive(data, name.filename)
    claims = [part.claim.settlement for part in parts]
    delivery = Delivery(
        insurer=insurer,
        archive=_store(data),
        file_name=name.filename,
        sender_code=code,
        created_on=day,
        same_day_count=count,
        record_count=len(parts),
        file_count=2 * len(parts),
        unit_total=sum(s.unit_amount for s in claims),
        payment_total=sum(s.payment_amount for s in claims),
        claim_total=sum(s.claim_amount for s in claims),
        created_by=actor if isinstance(actor, User) else None,
    )
    delivery.full_clean()
    delivery.save()
    DeliveryItem.objects.bulk_create(
        DeliveryItem(delivery=delivery, record=part.record, position=position, data_name=part.data_name, claim_name=part.claim_name)
        for position, part in enumerate(parts, start=1)
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
    from .tasks_routing import notify_task

    transaction.on_commit(lambda: notify_task.delay(NotificationKind.DELIVERY.value, delivery.pk))
    return delivery


def _route_insurer(insurer_id: int, *, code: str, day: dt.date, actor: Any, request: HttpRequest | None) -> list[Delivery]:
    created: list[Delivery] = []
    with transaction.atomic():
        # The insurer's row serialises routers: a concurrent run waits here, then finds nothing left.
        insurer = Insurer.objects.select_for_update().get(pk=insurer_id)
        if not insurer.is_active:
            return created
        records = list(
            routable_records()
            .filter(insurer=insurer)
            .select_related("submission__archive", "institution")
            .order_by("submission__received_at", "submission_id", "position")
        )
        count = _next_same_day_count(insurer, day)
        for chunk in _chunks(records):
            if count > MAX_SAME_DAY_COUNT:
                logger.warning("insurer %s: the same-day count is exhausted; %d records wait for tomorrow", insurer.number, len(chunk))
                break
            created.append(_create_delivery(insurer, chunk, code=code, day=day, count=count, actor=actor, request=request))
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


# --- the dry run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """Where one record goes, or why it does not."""

    record: Record
    code: str
    message: str
    routable: bool = False
    delivery: Delivery | None = None
    file_name: str = ""


def _predicted_name(code: str, insurer: Insurer, day: dt.date, counts: dict[int, int]) -> tuple[str, bool]:
    count = counts.get(insurer.pk)
    if count is None:
        count = counts[insurer.pk] = _next_same_day_count(insurer, day)
    if count > MAX_SAME_DAY_COUNT:
        return "", False
    return ArchiveName(code, insurer.number, day, count, SERVICE_CHECKUP).filename, True


def routing_plan(submission: Submission) -> list[PlanRow]:
    """For each record of a submission: the delivery it went to, the one it would go to now, or why not."""
    try:
        code = agency_code()
    except AgencyCodeMissing:
        code = ""
    day = timezone.localdate()
    counts: dict[int, int] = {}
    records = submission.records.select_related("insurer", "delivery_item__delivery", "insurer_return").order_by("position")
    rows: list[PlanRow] = []
    finished = submission.status in ROUTABLE_SUBMISSION_STATUSES
    for record in records:
        item = getattr(record, "delivery_item", None)
        insurer_return = getattr(record, "insurer_return", None)
        insurer = record.insurer
        if item is not None:
            delivery = item.delivery
            if insurer_return is not None:
                row = PlanRow(record, "insurer_returned", _("送付後、保険者から過誤返戻されました（理由 %(reason)s）。")
                              % {"reason": insurer_return.get_reason_display()}, delivery=delivery, file_name=delivery.file_name)
            else:
                row = PlanRow(record, "routed", _("送付済みです（%(date)s 作成）。") % {"date": f"{timezone.localtime(delivery.created_at):%Y-%m-%d %H:%M}"},
                              delivery=delivery, file_name=delivery.file_name)
        elif record.status == RecordStatus.PENDING:
            row = PlanRow(record, "pending", _("点検中のため、まだ振り分けません。"))
        elif record.status == RecordStatus.RETURNED:
            row = PlanRow(record, "returned", _("返戻されたため送付しません。訂正後の再提出を待ちます。"))
        elif insurer is None:
            row = PlanRow(record, "no_insurer", _("当代行機関の契約保険者ではないため送付先がありません。"))
        elif not insurer.is_active:
            row = PlanRow(record, "insurer_inactive", _("保険者 %(number)s が無効のため保留しています。") % {"number": insurer.number})
        elif not finished:
            row = PlanRow(record, "submission_checking", _("受付全体の点検が終わってから振り分けます。"))
        elif not record.claim_path:
            row = PlanRow(record, "no_claim", _("決済ファイルがないため送付できません。"))
        elif not code:
            row = PlanRow(record, "agency_code_missing", _("代行機関番号が未設定のため送付データを作成できません。"))
        else:
            file_name, fits = _predicted_name(code, insurer, day, counts)
            if fits:
                row = PlanRow(record, "will_route", _("次回の振分で保険者 %(number)s %(name)s 宛の送付データに入ります。")
                              % {"number": insurer.number, "name": insurer.name}, routable=True, file_name=file_name)
            else:
                row = PlanRow(record, "daily_limit", _("本日の送付回数が上限（10回）に達したため、翌日の振分で送付します。"))
        rows.append(row)
    return rows


def routing_overview() -> list[dict[str, Any]]:
    """Per insurer: how many records the next run would route, their claim total and the next file name."""
    try:
        code = agency_code()
    except AgencyCodeMissing:
        code = ""
    day = timezone.localdate()
    rows: dict[int, dict[str, Any]] = {}
    for record in routable_records().select_related("insurer").only("pk", "claim_amount", "insurer"):
        row = rows.setdefault(record.insurer_id, {"insurer": record.insurer, "records": 0, "claim_total": 0})
        row["records"] += 1
        row["claim_total"] += record.claim_amount
    counts: dict[int, int] = {}
    for row in rows.values():
        row["file_name"], row["fits"] = _predicted_name(code, row["insurer"], day, counts) if code else ("", False)
    return sorted(rows.values(), key=lambda row: row["insurer"].number)


# --- downloads, acknowledgement, media --------------------------------------------------------------------


def _label(actor: Any) -> str:
    return actor.get_username()[:150] if actor is not None else "system"


def delivery_download(*, delivery: Delivery, actor: Any, request: HttpRequest | None, channel: str) -> bytes:
    """The delivery's archive; the download is recorded (who, when, from where) and audited."""
    data = storage.read(delivery.archive.sha256)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        now = timezone.now()
        download = DeliveryDownload(
            delivery=locked,
            user=actor if isinstance(actor, User) else None,
            actor_label=_label(actor),
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
        locked.acknowledged_label = _label(actor)
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
        locked.media_archive = _store(data)
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
            actor_label=_label(actor),
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


# --- 過誤 (returns from insurers) -----------------------------------------------------------------------


def _return_same_day_count(record: Record, day: dt.date) -> int:
    """Archives sent back to one institution on one day share the name's single same-day digit."""
    returns = InsurerReturn.objects.filter(institution_id=record.institution_id, archive__isnull=False, returned_at__date=day).count()
    rejections = Submission.objects.filter(institution_id=record.institution_id, records_returned__gt=0, checked_at__date=day).count()
    return min(returns + rejections, MAX_SAME_DAY_COUNT)


def _return_archive(record: Record, item: DeliveryItem, result: AdjudicationResult, code: str, day: dt.date) -> tuple[str, bytes]:
    members = read_members(record.submission, [record.data_path, record.claim_path])
    claim = parse_claim(members[record.claim_path], record.claim_path)
    if claim is None:
        raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
    claim = replace(claim, insurer_result=result)
    institution = record.institution.number
    name = ArchiveName(code, institution, day, _return_same_day_count(record, day), SERVICE_CHECKUP)
    index = IndexRecord(
        interaction_type="2",
        created_on=day,
        sender=agency_party(code),
        receiver=institution_party(institution),
        service_event_type=SERVICE_CHECKUP,
        total_record_count=2,
    )
    data = _pack(
        name,
        {
            INDEX_FILE: index_xml(index),
            SUMMARY_FILE: summary_xml(summary_for([claim], service_event_type=SERVICE_CHECKUP)),
            item.data_name: members[record.data_path],
            item.claim_name: claim_xml(claim),
        },
    )
    verify_archive(data, name.filename)
    return name.filename, data


def insurer_return_create(
    *, record: Record, reason: str, note: str, actor: Any, request: HttpRequest | None = None
) -> InsurerReturn:
    """An insurer returns a routed record (過誤, 別表10 ``reason``) with a note of at most 100 characters.

    The record leaves the accepted set (so the corrected resubmission can be accepted), and a 種別 2
    archive whose claim carries ``insurerAdjudicationResult`` is built for the institution.
    """
    if reason not in InsurerReturnReason.values:
        raise ValidationError(_("過誤返戻理由を選択してください。"), code="reason_invalid")
    note = " ".join(note.split())
    if len(note) > RETURN_NOTE_MAX:
        raise ValidationError(_("理由の内容は100文字以内で入力してください。"), code="note_too_long")
    if reason == InsurerReturnReason.OTHER and not note:
        raise ValidationError(_("「その他」の場合は理由の内容を入力してください。"), code="note_required")
    code = agency_code()
    with transaction.atomic():
        locked = Record.objects.select_for_update().select_related("submission__archive", "institution").get(pk=record.pk)
        item = DeliveryItem.objects.select_related("delivery").filter(record=locked).first()
        if item is None:
            raise ValidationError(_("送付していない健診データは過誤返戻できません。"), code="not_routed")
        if getattr(actor, "role", None) == Role.INSURER_STAFF and item.delivery.insurer_id != actor.insurer_id:
            raise PermissionDenied
        if InsurerReturn.objects.filter(record=locked).exists() or locked.status != RecordStatus.ACCEPTED:
            raise ValidationError(_("この健診データは既に過誤返戻されています。"), code="already_returned")
        now = timezone.now()
        day = timezone.localdate(now)
        result = AdjudicationResult(INSURER_RESULT_INTERACTION, day, reason, note or None)
        file_name, data = _return_archive(locked, item, result, code, day)
        returned = InsurerReturn(
            record=locked,
            delivery=item.delivery,
            insurer_id=item.delivery.insurer_id,
            institution_id=locked.institution_id,
            reason=reason,
            note=note,
            returned_at=now,
            returned_by=actor if isinstance(actor, User) else None,
            returned_label=_label(actor),
            archive=_store(data),
            archive_file_name=file_name,
        )
        returned.full_clean()
        returned.save()
        Record.objects.filter(pk=locked.pk).update(status=RecordStatus.RETURNED)
        audit_record(
            action="routing.return.created",
            actor=actor,
            request=request,
            object_type="record",
            object_ids=[locked.pk],
            detail={"return": returned.pk, "reason": reason, "delivery": item.delivery_id, "archive": file_name},
        )
        from .tasks_routing import notify_task

        transaction.on_commit(lambda: notify_task.delay(NotificationKind.RETURN.value, returned.pk))
    return returned


def insurer_return_archive(*, insurer_return: InsurerReturn) -> bytes:
    """The 種別 2 archive of a 過誤, for the institution (reads are audited by the caller's view)."""
    if insurer_return.archive_id is None:
        raise ValidationError(_("返送用のアーカイブがありません。"), code="no_archive")
    return storage.read(insurer_return.archive.sha256)


def records_link_resubmissions(*, submission_id: int, first: int | None = None, last: int | None = None) -> int:
    """Link newly accepted records to the returned record they correct (訂正再提出).

    A record corrects a returned one (返戻 by this agency or 過誤 by the insurer) of the same
    institution when the insurer number, the 受診券整理番号 and the birth date are the same; the most
    recently checked returned record that is not yet corrected is taken. ``first``/``last`` limit
    the work to one chunk of positions (intake links each chunk as it decides it). Idempotent.
    """
    scope = Record.objects.filter(submission_id=submission_id, status=RecordStatus.ACCEPTED, replaces__isnull=True)
    if first is not None and last is not None:
        scope = scope.filter(position__gte=first, position__lte=last)
    fresh = list(
        scope.exclude(ticket_number="")
        .only("pk", "institution_id", "insurer_number", "ticket_number", "birth_date")
    )
    if not fresh:
        return 0
    candidates: dict[tuple[Any, ...], Record] = {}
    for old in (
        Record.objects.filter(
            status=RecordStatus.RETURNED,
            insurer_number__in={r.insurer_number for r in fresh},
            ticket_number__in={r.ticket_number for r in fresh},
            replaced_by__isnull=True,
        )
        .exclude(submission_id=submission_id)
        .order_by("checked_at", "pk")
        .only("pk", "institution_id", "insurer_number", "ticket_number", "birth_date")
    ):
        candidates[(old.institution_id, old.insurer_number, old.ticket_number, old.birth_date)] = old
    linked: list[tuple[int, int]] = []
    with transaction.atomic():
        for record in fresh:
            old = candidates.pop((record.institution_id, record.insurer_number, record.ticket_number, record.birth_date), None)
            if old is None:
                continue
            if Record.objects.filter(pk=record.pk, replaces__isnull=True).update(replaces=old) == 1:
                linked.append((record.pk, old.pk))
        if linked:
            audit_record(
                action="intake.record.resubmission_linked",
                actor_label="system",
                object_type="record",
                object_ids=[new for new, _old in linked],
                detail={"links": [[new, old] for new, old in linked]},
            )
    return len(linked)


def records_after_check(*, submission_id: int) -> None:
    """Called by intake after a chunk of records is decided: once the submission is final, notify
    the institution (receipt; idempotent)."""
    if Submission.objects.filter(pk=submission_id, checked_at__isnull=False).exists():
        from .tasks_routing import notify_task

        transaction.on_commit(lambda: notify_task.delay(NotificationKind.RECEIPT.value, submission_id))


# --- reads, scoped to the user, and the access functions ---------------------------------------------------


def delivery_list(*, user: Any) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related("insurer", "archive")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def routed_record_list(*, user: Any) -> QuerySet[Record]:
    """Records routed to insurers (returned ones included), as far as the user may see them."""
    qs = Record.objects.filter(delivery_item__isnull=False).select_related(
        "submission", "institution", "insurer", "delivery_item__delivery"
    )
    if user.role == Role.INSURER_STAFF:
        return qs.filter(delivery_item__delivery__insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def insurer_return_list(*, user: Any) -> QuerySet[InsurerReturn]:
    qs = InsurerReturn.objects.select_related("record__submission", "insurer", "institution", "delivery", "archive").prefetch_related(
        "record__replaced_by__submission"
    )
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    return qs


def _deny(request: HttpRequest, object_type: str, ident: object) -> NoReturn:
    deny(request, object_type, ident)


def access_delivery(request: HttpRequest, delivery_id: int) -> Delivery:
    delivery = delivery_list(user=request.user).filter(pk=delivery_id).first()
    if delivery is None:
        _deny(request, "delivery", delivery_id)
    return delivery


def access_routed_record(request: HttpRequest, record_id: int) -> Record:
    record = routed_record_list(user=request.user).filter(pk=record_id).first()
    if record is None:
        _deny(request, "record", record_id)
    return record


def access_insurer_return(request: HttpRequest, return_id: int) -> InsurerReturn:
    found = insurer_return_list(user=request.user).filter(pk=return_id).first()
    if found is None:
        _deny(request, "insurer_return", return_id)
    return found


def _half_width_katakana() -> dict[str, str]:
    """Full-width katakana → the half-width spelling (ガ → ｶﾞ), derived from NFKC itself."""
    table: dict[str, str] = {}
    singles = [chr(code) for code in range(0xFF66, 0xFF9E)]
    for spelling in [*singles, *(c + "\uff9e" for c in singles), *(c + "\uff9f" for c in singles)]:
        full = unicodedata.normalize("NFKC", spelling)
        if len(full) == 1:
            table.setdefault(full, spelling)
    return table


HALF_WIDTH_KATAKANA = _half_width_katakana()


def kana_spellings(word: str) -> set[str]:
    """The word as full-width and as half-width katakana (names are stored as the institution wrote them)."""
    full = unicodedata.normalize("NFKC", word)
    return {full, "".join(HALF_WIDTH_KATAKANA.get(char, char) for char in full)}


def record_search(records: QuerySet[Record], *, ticket_number: str = "", name_kana: str = "", birth_date: dt.date | None = None,
                  institution: Any = None, checkup_from: dt.date | None = None, checkup_to: dt.date | None = None) -> QuerySet[Record]:
    """Narrow routed records by 受診券整理番号, name (カナ, every word, full- or half-width), birth date,
    institution and checkup dates."""
    if ticket_number:
        records = records.filter(ticket_number=ticket_number)
    for word in name_kana.split():
        matches = Q()
        for spelling in kana_spellings(word):
            matches |= Q(name_kana__contains=spelling)
        records = records.filter(matches)
    if birth_date is not None:
        records = records.filter(birth_date=birth_date)
    if institution is not None:
        records = records.filter(institution=institution)
    if checkup_from is not None:
        records = records.filter(checkup_date__gte=checkup_from)
    if checkup_to is not None:
        records = records.filter(checkup_date__lte=checkup_to)
    return records


# --- timelines ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineStep:
    key: str
    label: str
    at: dt.datetime | None = None
    detail: str = ""
    done: bool = False
    warning: bool = False


@dataclass
class _Billing:
    billed: TimelineStep | None = None
    paid: TimelineStep | None = None


def billing_timeline_hook(record: Record) -> list[tuple[str, dt.datetime, str]]:
    """HOOK for the billing app: ``billing.timeline.record_events(record)`` when it exists.

    It returns ``(key, when, detail)`` tuples with key ``"billed"`` (請求) or ``"paid"`` (支払);
    until the billing app provides it, the two steps are shown as not reached.
    """
    try:
        from billing.timeline import record_events  # type: ignore[import-not-found]
    except ImportError:
        return []
    return list(record_events(record))


def _billing_steps(record: Record) -> _Billing:
    found = _Billing()
    for key, when, detail in billing_timeline_hook(record):
        step = TimelineStep(key, _("請求") if key == "billed" else _("支払"), when, detail, done=True)
        if key == "billed":
            found.billed = step
        elif key == "paid":
            found.paid = step
    return found


def record_timeline(record: Record) -> list[TimelineStep]:
    """received → checked → routed → downloaded → (returned) → billed → paid."""
    submission = record.submission
    steps = [TimelineStep("received", _("受付"), submission.received_at, submission.receipt_number, done=True)]
    returned_by_agency = record.status == RecordStatus.RETURNED and not hasattr(record, "insurer_return")
    if record.status == RecordStatus.PENDING:
        steps.append(TimelineStep("checked", _("点検"), None, _("点検中")))
    else:
        steps.append(TimelineStep("checked", _("点検"), record.checked_at, _("返戻") if returned_by_agency else _("受理"),
                                  done=True, warning=returned_by_agency))
    item = DeliveryItem.objects.select_related("delivery").filter(record_id=record.pk).first()
    delivery = item.delivery if item else None
    steps.append(TimelineStep("routed", _("振分"), delivery.created_at if delivery else None,
                              delivery.file_name if delivery else "", done=delivery is not None))
    first = delivery.downloads.exclude(channel=DeliveryChannel.MEDIA).first() if delivery else None
    steps.append(TimelineStep("downloaded", _("保険者の取得"), first.downloaded_at if first else None,
                              first.actor_label if first else "", done=first is not None))
    insurer_return = InsurerReturn.objects.filter(record_id=record.pk).first()
    if insurer_return is not None:
        steps.append(TimelineStep("returned", _("過誤返戻"), insurer_return.returned_at,
                                  insurer_return.get_reason_display(), done=True, warning=True))
    billing = _billing_steps(record)
    steps.append(billing.billed or TimelineStep("billed", _("請求")))
    steps.append(billing.paid or TimelineStep("paid", _("支払")))
    return steps


def submission_timeline(submission: Submission) -> list[TimelineStep]:
    """received → checked → routed (how many of the accepted) → downloaded → returns by insurers."""
    steps = [TimelineStep("received", _("受付"), submission.received_at, submission.file_name, done=True)]
    steps.append(TimelineStep("checked", _("点検"), submission.checked_at,
                              submission.get_status_display() if submission.checked_at else _("点検中"),
                              done=submission.checked_at is not None))
    items = DeliveryItem.objects.filter(record__submission=submission)
    routed = items.count()
    last = items.select_related("delivery").order_by("-delivery__created_at").first()
    accepted = submission.records_accepted
    steps.append(TimelineStep("routed", _("振分"), last.delivery.created_at if last else None,
                              _("%(routed)d／%(accepted)d件") % {"routed": routed, "accepted": accepted},
                              done=bool(routed) and routed >= accepted))
    downloaded = (
        DeliveryDownload.objects.filter(delivery__items__record__submission=submission)
        .exclude(channel=DeliveryChannel.MEDIA).order_by("downloaded_at").first()
    )
    steps.append(TimelineStep("downloaded", _("保険者の取得"), downloaded.downloaded_at if downloaded else None,
                              done=downloaded is not None))
    returns = InsurerReturn.objects.filter(record__submission=submission)
    count = returns.count()
    if count:
        latest = returns.order_by("-returned_at").first()
        steps.append(TimelineStep("returned", _("過誤返戻"), latest.returned_at if latest else None,
                                  _("%(count)d件") % {"count": count}, done=True, warning=True))
    steps.append(TimelineStep("billed", _("請求")))
    steps.append(TimelineStep("paid", _("支払")))
    return steps


def delivery_timeline(delivery: Delivery) -> list[TimelineStep]:
    """created → (media prepared → shipped) → downloaded (each time) → acknowledged → returns."""
    steps = [TimelineStep("created", _("作成"), delivery.created_at, delivery.file_name, done=True)]
    if delivery.media_prepared_at:
        steps.append(TimelineStep("media", _("媒体作成（パスワード付き）"), delivery.media_prepared_at, done=True))
    if delivery.media_shipped_at:
        steps.append(TimelineStep("shipped", _("発送"), delivery.media_shipped_at, delivery.media_tracking_number, done=True))
    downloads = list(delivery.downloads.all())
    for download in downloads:
        steps.append(TimelineStep("downloaded", _("取得（%(channel)s）") % {"channel": download.get_channel_display()},
                                  download.downloaded_at, download.actor_label, done=True))
    if not downloads:
        steps.append(TimelineStep("downloaded", _("取得")))
    steps.append(TimelineStep("acknowledged", _("受領確認"), delivery.acknowledged_at, delivery.acknowledged_label,
                              done=delivery.acknowledged_at is not None))
    for insurer_return in delivery.returns.all():
        steps.append(TimelineStep("returned", _("過誤返戻"), insurer_return.returned_at, insurer_return.get_reason_display(),
                                  done=True, warning=True))
    return steps



# --- a record as a person reads it ----------------------------------------------------------------------------

METABOLIC = "9N501000000000011"  # メタボリックシンドローム判定 (.1008)
GUIDANCE_LEVEL = "9N506000000000011"  # 保健指導レベル (.3001)
DIAGNOSIS = "9N511000000000049"  # 医師の診断(判定)
CATEGORY_ORDER = (
    "身体計測", "血圧等", "生化学検査", "血糖検査", "尿検査", "血液像検査", "がん検診・生体検査等", "診察",
    "医師の判断", "採血条件", "質問票", "後期質問票", "生活機能基本チェックリスト",
    "その他医療保険者等が任意に行う検査",
)
ANSWER_LABELS: dict[str, dict[str, str]] = {
    "1.2.392.200119.6.1008": {"1": "基準該当", "2": "予備群該当", "3": "非該当", "4": "判定不能"},
    "1.2.392.200119.6.3001": {"1": "積極的支援", "2": "動機付け支援", "3": "なし（情報提供）", "4": "判定不能"},
    "1.2.392.200119.6.2001": {"1": "特記すべきことあり", "2": "特記すべきことなし"},
    "1.2.392.200119.6.2002": {"1": "所見あり", "2": "所見なし"},
    "1.2.392.200119.6.2003": {"1": "はい", "2": "いいえ"},
    "1.2.392.200119.6.2004": {"1": "速い", "2": "ふつう", "3": "遅い"},
    "1.2.392.200119.6.2102": {"1": "−", "2": "±", "3": "＋", "4": "＋＋", "5": "＋＋＋"},
    "1.2.392.200119.6.2202": {"2": "食後10時間以上", "3": "食後3.5時間以上10時間未満", "4": "食後3.5時間未満"},
    "1.2.392.200119.6.24060": {"1": "はい", "2": "以前は吸っていたが最近1か月は吸っていない", "3": "いいえ"},
}
UNIT_LABELS = {"mm[Hg]": "mmHg", "kg/m2": "kg/m²", "cm2": "cm²", "10*4/mm3": "万/mm³", "ml/min/1.73m2": "mL/分/1.73m²"}
SEX_LABELS = {"1": "男", "2": "女"}
CLAIM_TYPE_LABELS = {"1": "基本的な健診", "2": "基本＋詳細", "3": "基本＋追加", "4": "基本＋詳細＋追加", "5": "人間ドック"}
COPAY_LABELS = {"1": "負担なし", "2": "定額負担", "3": "定率負担", "4": "保険者負担上限額"}
COMMISSION_LABELS = {"1": "個別健診", "2": "集団健診"}
DETAIL_LABELS = {"1": "貧血検査", "2": "心電図検査", "3": "眼底検査", "4": "血清クレアチニン検査"}


def _answer(observation: Any) -> str:
    labels = ANSWER_LABELS.get(observation.answer_oid or "", {})
    code = observation.answer_code or ""
    return f"{labels[code]}（{code}）" if code in labels else code


def _observation_row(observation: Any, definition: Any, sex: str) -> dict[str, Any]:
    from decimal import Decimal, InvalidOperation

    from kenshin.items import Judgement

    row: dict[str, Any] = {
        "code": observation.code or "",
        "name": (definition.name if definition else observation.display_name) or observation.code or "",
        "value": "",
        "unit": "",
        "flag": "",
        "level": "",
        "note": "",
    }
    if observation.negation:
        row["note"] = _("未実施")
        return row
    if observation.null_flavor:
        row["note"] = _("測定不能")
    if observation.xml_type == "PQ" and observation.value is not None:
        row["value"] = observation.value
        unit = observation.unit or (definition.unit if definition else "") or ""
        row["unit"] = UNIT_LABELS.get(unit, unit)
        if definition is not None and definition.direction:
            try:
                judgement = definition.judge(Decimal(observation.value), sex)
            except InvalidOperation:
                judgement = Judgement.NORMAL
            if judgement is not Judgement.NORMAL:
                row["flag"] = "L" if definition.direction == "low" else "H"
                row["level"] = judgement.value
    elif observation.xml_type in ("CD", "CO"):
        row["value"] = _answer(observation)
    elif observation.value is not None:
        row["value"] = observation.value
    if observation.input_range_flag:
        row["note"] = _("入力範囲外（%(flag)s）") % {"flag": observation.input_range_flag}
    return row


def _charge_text(charge: Any) -> str:
    if charge is None:
        return ""
    text = COPAY_LABELS.get(charge.code, charge.code)
    if charge.amount is not None:
        text += f" {charge.amount:,}円"
    if charge.rate is not None:
        text += f" {charge.rate / 1000:g}%"
    return text


def _claim_reading(claim: Claim | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    s = claim.settlement
    charges = claim.charges
    return {
        "claim_type": CLAIM_TYPE_LABELS.get(s.claim_type, s.claim_type),
        "commission_type": COMMISSION_LABELS.get(s.commission_type, s.commission_type),
        "lines": [
            *([{"label": _("基本的な健診"), "price": s.unit_price_basic, "copay": s.payment_basic, "charge": _charge_text(charges.basic)}]
              if s.unit_price_basic is not None else []),
            *({"label": DETAIL_LABELS.get(line.code, line.code), "price": line.amount, "copay": None, "charge": ""}
              for line in s.unit_price_details),
            *({"label": line.item_code or _("人間ドック"), "price": line.amount, "copay": None, "charge": ""}
              for line in s.unit_price_others),
        ],
        "detail_charge": _charge_text(charges.detail),
        "other_charge": _charge_text(charges.other),
        "payment_detail": s.payment_detail,
        "payment_other": s.payment_other,
        "unit_amount": s.unit_amount,
        "payment_amount": s.payment_amount,
        "payment_by_other_program": s.payment_by_other_program,
        "claim_amount": s.claim_amount,
        "ticket_number": claim.ticket_number or "",
        "ticket_expires_on": claim.ticket_expires_on,
        "insurer_result": claim.insurer_result,
    }


def record_reading(record: Record) -> dict[str, Any]:
    """The checkup as a person reads it: who, when, where; 判定 first; results grouped with units and
    H/L against 保健指導判定値 / 受診勧奨判定値; then the claim. Read from the stored original."""
    from kenshin.items import item_master
    from kenshin.rules import age_on

    checkup, claim = record_documents(record)
    reading: dict[str, Any] = {"readable": checkup is not None, "groups": [], "claim": _claim_reading(claim)}
    if checkup is None:
        return reading
    master = item_master()
    subject = checkup.subject
    ticket = checkup.ticket
    performer = checkup.header.performer or checkup.header.author
    reading["person"] = {
        "name_kana": subject.name_kana,
        "sex": SEX_LABELS.get(subject.sex, subject.sex),
        "birth_date": subject.birth_date,
        "age": age_on(subject.birth_date, checkup.checkup_date) if checkup.checkup_date else None,
        "insurer_number": subject.insurer_number,
        "card": " ・ ".join(part or "—" for part in (subject.card_symbol, subject.card_number, subject.card_branch)),
        "ticket_number": ticket.number if ticket else "",
        "ticket_expires_on": ticket.expires_on if ticket else None,
        "checkup_date": checkup.checkup_date,
        "institution": f"{performer.number} {performer.name}",
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    results = checkup.results()
    for observation in checkup.observations():
        if observation.code is None:
            continue  # a group container (一連検査グループ): its members follow
        definition = master.get(observation.code)
        category = definition.category if definition else _("その他の項目")
        groups.setdefault(category, []).append(_observation_row(observation, definition, subject.sex))
    order = {name: index for index, name in enumerate(CATEGORY_ORDER)}
    reading["groups"] = [
        {"name": name, "rows": rows} for name, rows in sorted(groups.items(), key=lambda pair: order.get(pair[0], len(order)))
    ]
    metabolic, level, diagnosis = results.get(METABOLIC), results.get(GUIDANCE_LEVEL), results.get(DIAGNOSIS)
    reading["metabolic"] = _answer(metabolic) if metabolic is not None else ""
    reading["guidance_level"] = _answer(level) if level is not None else ""
    reading["diagnosis"] = (diagnosis.value or "") if diagnosis is not None else ""
    reading["doctor"] = (diagnosis.author_name or "") if diagnosis is not None else ""
    return reading
