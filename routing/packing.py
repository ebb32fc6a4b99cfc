"""Building standard-format archives for insurers (種別 3) and institutions (種別 2).

Every archive is read back by the format reader before it is kept, against the official XSDs when
``KENSHIN_XSD_DIR`` is set: an archive that would not pass our own intake is never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from agency.models import AgencyProfile
from core.exceptions import ApplicationError
from intake import storage
from intake.models import Record, StoredArchive
from intake.reading import parse_claim, read_members
from kenshin.assemble import agency_party, insurer_party, summary_for
from kenshin.claim_write import index_xml, summary_xml
from kenshin.codes import SERVICE_CHECKUP
from kenshin.findings import Severity
from kenshin.naming import CLAIMS_DIR, DATA_DIR, INDEX_FILE, SUMMARY_FILE, ArchiveName, MemberName
from kenshin.reader import ArchiveReading
from kenshin.records import Claim, IndexRecord
from kenshin.writer import pack, xsd_members

MAX_TOTAL = 999_999_999  # su08 money totals are at most nine digits


class RoutingError(ApplicationError):
    """Routing or a return could not be done; ``code`` is stable, the message is for people."""

    code = "routing_error"
    status = 409


class AgencyCodeMissing(RoutingError):
    code = "agency_code_missing"


class DeliveryInvalid(RoutingError):
    """The archive built for a delivery or a return did not pass the reader (XSD or structure)."""

    code = "delivery_invalid"


def agency_code() -> str:
    code = AgencyProfile.objects.values_list("agency_code", flat=True).first() or ""
    if not code:
        raise AgencyCodeMissing(_("代行機関番号（代行機関情報）が設定されていないため送付データを作成できません。"))
    return code


def xsd_dir() -> Path | None:
    value = getattr(settings, "KENSHIN_XSD_DIR", "") or ""
    return Path(value) if value else None


def verify_archive(data: bytes, file_name: str) -> None:
    """Read a built archive back, a person at a time; raise DeliveryInvalid on any blocking finding
    (XSD included when configured)."""
    with ArchiveReading(data, filename=file_name, xsd_dir=xsd_dir(), master=None) as reading:
        findings = [finding for read in reading.records() for finding in read.findings]
        findings += [*reading.findings, *reading.finish()]
    blocking = [f for f in findings if f.severity in (Severity.ERROR, Severity.FATAL)]
    if blocking:
        detail = "; ".join(f"{f.code} {f.file or ''} {f.message}".strip() for f in blocking[:10])
        raise DeliveryInvalid(_("作成したアーカイブが標準様式の点検を通りません: %(detail)s") % {"detail": detail})


def pack_archive(name: ArchiveName, members: dict[str, bytes], *, password: str | None = None) -> bytes:
    directory = xsd_dir()
    if directory is not None:
        members = {**members, **xsd_members(directory)}
    return pack(name.stem, members, created_on=name.submitted_on, password=password)


def store_archive(data: bytes) -> StoredArchive:
    stored = storage.store(data)
    archive, _created = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
    return archive


@dataclass(frozen=True)
class DeliveryPart:
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


def delivery_parts(records: Sequence[Record], name: ArchiveName) -> list[DeliveryPart]:
    serial = 0

    def fresh(record: Record) -> MemberName:
        nonlocal serial
        serial += 1
        return MemberName("h", record.institution.number, name.submitted_on, name.same_day_count, SERVICE_CHECKUP, serial)

    used: set[str] = set()
    by_submission: dict[int, list[Record]] = {}
    for record in records:
        by_submission.setdefault(record.submission_id, []).append(record)
    parts: dict[int, DeliveryPart] = {}
    for group in by_submission.values():
        members = read_members(group[0].submission, [p for r in group for p in (r.data_path, r.claim_path)])
        for record in group:
            claim = parse_claim(members[record.claim_path], record.claim_path)
            if claim is None:
                raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            data_name, claim_name = _member_names(record, used, fresh)
            parts[record.pk] = DeliveryPart(record, data_name, claim_name, members[record.data_path], members[record.claim_path], claim)
    return [parts[record.pk] for record in records]


def delivery_archive(parts: Sequence[DeliveryPart], name: ArchiveName, code: str, insurer_number: str) -> bytes:
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
    return pack_archive(name, members)
