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

from agency.models import AgencyProfile, Institution
from core.exceptions import ApplicationError
from intake import storage
from intake.models import Record, RecordKind, StoredArchive
from intake.reading import parse_claim, parse_guidance_claim, read_members
from kenshin.assemble import agency_party, insurer_party, summary_for
from kenshin.claim_write import index_xml, summary_xml
from kenshin.codes import SERVICE_CHECKUP, SERVICE_GUIDANCE, SERVICE_OTHER_CHECKUP
from kenshin.findings import Severity
from kenshin.naming import CLAIMS_DIR, DATA_DIR, INDEX_FILE, SUMMARY_FILE, ArchiveName, MemberName
from kenshin.reader import ArchiveReading
from kenshin.records import Claim, GuidanceClaim, IndexRecord
from kenshin.writer import pack, xsd_members

MAX_TOTAL = 999_999_999  # su08 money totals are at most nine digits


class RoutingError(ApplicationError):
    """Routing or a return could not be done; ``code`` is stable, the message is for people."""

    code = "routing_error"
    status = 409


def sending_institution(record: Record) -> Institution:
    """The institution a routed record came from; an insurer's own upload (事業者健診等) is never routed."""
    if record.institution is None:
        raise RoutingError(_("保険者自身が送付した健診データは振分・返送の対象ではありません。"), code="insurer_own_upload")
    return record.institution


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
    """One record in a delivery: its DATA file and, for a kind that bills, its CLAIMS file (bytes as
    received) with the claim read (c: cc08, p: gc08); results only and 事業者健診等 carry none."""

    record: Record
    data_name: str
    claim_name: str
    data: bytes
    claim_data: bytes | None
    claim: Claim | GuidanceClaim | None


# The 実施区分 and the file prefixes (DATA, CLAIMS) of each kind of record.
SERVICE_OF_KIND = {
    RecordKind.CHECKUP: SERVICE_CHECKUP,
    RecordKind.RESULTS_ONLY: SERVICE_CHECKUP,
    RecordKind.GUIDANCE: SERVICE_GUIDANCE,
    RecordKind.OTHER_CHECKUP: SERVICE_OTHER_CHECKUP,
}
PREFIXES_OF_KIND = {RecordKind.GUIDANCE: ("g", "p")}


def _prefixes(kind: str) -> tuple[str, str]:
    return PREFIXES_OF_KIND.get(RecordKind(kind), ("h", "c"))


def _member_names(record: Record, used: set[str], fresh: Callable[[Record], MemberName]) -> tuple[str, str]:
    """Keep the institution's names when they follow the rule and are free; otherwise a standard name."""
    data_prefix, claim_prefix = _prefixes(record.kind)
    with_claim = bool(record.claim_path)
    data_file = record.data_path.rsplit("/", 1)[-1]
    parsed = MemberName.parse(data_file)
    if parsed is not None and parsed.prefix == data_prefix:
        data_name = f"{DATA_DIR}/{parsed.filename}"
        claim_name = f"{CLAIMS_DIR}/{parsed.with_prefix(claim_prefix).filename}" if with_claim else ""
        if data_name not in used and claim_name not in used:
            used.update(name for name in (data_name, claim_name) if name)
            return data_name, claim_name
    while True:
        name = fresh(record)
        data_name, claim_name = name.path, (name.with_prefix(claim_prefix).path if with_claim else "")
        if data_name not in used and claim_name not in used:
            used.update(name for name in (data_name, claim_name) if name)
            return data_name, claim_name


def _parse_claim_of(record: Record, data: bytes) -> Claim | GuidanceClaim | None:
    if record.kind == RecordKind.GUIDANCE:
        return parse_guidance_claim(data, record.claim_path)
    return parse_claim(data, record.claim_path)


def delivery_parts(records: Sequence[Record], name: ArchiveName) -> list[DeliveryPart]:
    serial = 0

    def fresh(record: Record) -> MemberName:
        nonlocal serial
        serial += 1
        prefix = _prefixes(record.kind)[0]
        return MemberName(prefix, sending_institution(record).number, name.submitted_on, name.same_day_count, name.service_event_type, serial)

    used: set[str] = set()
    by_submission: dict[int, list[Record]] = {}
    for record in records:
        by_submission.setdefault(record.submission_id, []).append(record)
    parts: dict[int, DeliveryPart] = {}
    for group in by_submission.values():
        members = read_members(group[0].submission, [p for r in group for p in (r.data_path, r.claim_path) if p])
        for record in group:
            claim = claim_data = None
            if record.claim_path:
                claim_data = members[record.claim_path]
                claim = _parse_claim_of(record, claim_data)
                if claim is None:
                    raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            data_name, claim_name = _member_names(record, used, fresh)
            parts[record.pk] = DeliveryPart(record, data_name, claim_name, members[record.data_path], claim_data, claim)
    return [parts[record.pk] for record in records]


def delivery_totals(parts: Sequence[DeliveryPart]) -> tuple[int, int, int]:
    """単価総計 (算定金額総計 for guidance), 窓口支払金額総計 and 請求金額総計 of the parts' claims."""
    unit = payment = claimed = 0
    for part in parts:
        claim = part.claim
        if isinstance(claim, GuidanceClaim):
            unit, payment, claimed = unit + claim.calculated_amount, payment + claim.payment_amount, claimed + claim.claim_amount
        elif claim is not None:
            s = claim.settlement
            unit, payment, claimed = unit + s.unit_amount, payment + s.payment_amount, claimed + s.claim_amount
    return unit, payment, claimed


def delivery_archive(parts: Sequence[DeliveryPart], name: ArchiveName, code: str, insurer_number: str) -> bytes:
    """A 種別 3 archive of one kind of record: ix08 and su08 recomputed for exactly these parts (no su08
    without claims), the DATA and CLAIMS files byte for byte."""
    service = name.service_event_type
    claims = [part.claim for part in parts if isinstance(part.claim, Claim)]
    guidance_claims = [part.claim for part in parts if isinstance(part.claim, GuidanceClaim)]
    claim_files = len(claims) + len(guidance_claims)
    index = IndexRecord(
        interaction_type="3",
        created_on=name.submitted_on,
        sender=agency_party(code),
        receiver=insurer_party(insurer_number),
        service_event_type=service,
        total_record_count=len(parts) + claim_files,
    )
    members = {INDEX_FILE: index_xml(index)}
    if claim_files:
        members[SUMMARY_FILE] = summary_xml(summary_for(claims, guidance_claims, service_event_type=service))
    for part in parts:
        members[part.data_name] = part.data
    for part in parts:
        if part.claim_data is not None:
            members[part.claim_name] = part.claim_data
    return pack_archive(name, members)
