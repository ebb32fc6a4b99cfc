"""Building standard-format archives for insurers (種別 3) and institutions (種別 2).

Every archive is read back by the format reader before it is kept, against the official XSDs when
``KENSHIN_XSD_DIR`` is set: an archive that would not pass our own intake is never sent.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from agency.models import AgencyProfile, Institution
from core.exceptions import ApplicationError
from intake import storage
from intake.models import Record, RecordKind, StoredArchive
from intake.reading import parse_claim, parse_guidance_claim
from intake.selectors import SubmissionArchiveMembers
from kenshin.assemble import SummaryTotals, agency_party, insurer_party
from kenshin.claim_write import index_xml, summary_xml
from kenshin.codes import SERVICE_CHECKUP, SERVICE_GUIDANCE, SERVICE_OTHER_CHECKUP
from kenshin.findings import Severity
from kenshin.naming import CLAIMS_DIR, DATA_DIR, INDEX_FILE, SUMMARY_FILE, ArchiveName, MemberName
from kenshin.reader import ArchiveReading
from kenshin.records import Claim, GuidanceClaim, IndexRecord
from kenshin.writer import directories, pack, xsd_member_names, xsd_members
from kenshin.zipguard import MemberError, inflate_member
from kenshin.zipwrite import ZipStreamWriter

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


def verify_archive(data: bytes | Path, file_name: str) -> None:
    """Read a built archive (its bytes, or the file it was written to) back, a person at a time; raise
    DeliveryInvalid on any blocking finding (XSD included when configured)."""
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


def store_archive(data: bytes | IO[bytes]) -> StoredArchive:
    stored = storage.store(data)
    archive, _created = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
    return archive


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


@dataclass(frozen=True)
class DeliveryEntry:
    """One record in a delivery: its members' names there."""

    record_id: int
    data_name: str
    claim_name: str


class DeliveryWriter:
    """A 種別 3 delivery written member by member to a binary file.

    Each record's DATA and CLAIMS members are copied from the stored archive they came in, their
    stored (compressed) bytes as they are when their place is known, so the files inside are byte
    for byte those the institution sent; the claim is parsed for the su08 totals. Only one record's
    members are in memory at a time; the names used (for unique member names) and the entries (for
    the delivery's items) are what grows with the number of records. ix08, su08 and the official
    XSDs follow the records; ``finish()`` writes them and the ZIP's directory.
    """

    def __init__(self, out: IO[bytes], name: ArchiveName, *, code: str, insurer_number: str, with_claims: bool = True) -> None:
        self.name = name
        self.code = code
        self.insurer_number = insurer_number
        self.entries: list[DeliveryEntry] = []
        self.totals = SummaryTotals()
        self.claim_files = 0
        self._zip = ZipStreamWriter(out, stamp=name.submitted_on)
        self._used: set[str] = set()
        self._serial = 0
        self._members: SubmissionArchiveMembers | None = None
        self._xsd = xsd_dir()
        layout = {INDEX_FILE: b"", f"{DATA_DIR}/x": b""}
        if with_claims:  # results only and 事業者健診等 have no CLAIMS folder
            layout[f"{CLAIMS_DIR}/x"] = b""
        if self._xsd is not None:
            layout.update(dict.fromkeys(xsd_member_names(), b""))
        for folder in directories(name.stem, layout):
            self._zip.add(folder, b"")

    def _fresh(self, record: Record) -> MemberName:
        self._serial += 1
        prefix = _prefixes(record.kind)[0]
        return MemberName(
            prefix, sending_institution(record).number, self.name.submitted_on, self.name.same_day_count,
            self.name.service_event_type, self._serial,
        )

    def _archive_of(self, record: Record) -> SubmissionArchiveMembers:
        if self._members is None or self._members.submission.pk != record.submission_id:
            if self._members is not None:
                self._members.close()
            self._members = SubmissionArchiveMembers(record.submission)
        return self._members

    def _copy(self, record: Record, path: str, name: str, *, keep: bool = False) -> bytes | None:
        """Copy one member into the delivery; its bytes are returned (inflated) when ``keep``."""
        members = self._archive_of(record)
        try:
            found = members.compressed(record, path)
            if found is None:
                data = members.read(record, path)
                self._zip.add(f"{self.name.stem}/{name}", data)
                return data
            place, compressed = found
            kept = inflate_member(compressed, place) if keep else None
            self._zip.add_compressed(f"{self.name.stem}/{name}", compressed, method=place.method, crc32=place.crc32, size=place.size)
            return kept
        except (storage.StorageIntegrityError, MemberError, OSError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
            raise DeliveryInvalid(_("受領アーカイブから %(path)s を読み取れません: %(error)s") % {"path": path, "error": exc}) from exc

    def add(self, record: Record) -> None:
        data_name, claim_name = _member_names(record, self._used, self._fresh)
        if record.claim_path:  # a kind that bills travels with its claim (c: cc08, p: gc08)
            claim_data = self._copy(record, record.claim_path, claim_name, keep=True)
            claim = _parse_claim_of(record, claim_data or b"")
            if claim is None:
                raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            if isinstance(claim, GuidanceClaim):
                self.totals.add_guidance(claim)
            else:
                self.totals.add(claim)
            self.claim_files += 1
        self._copy(record, record.data_path, data_name)
        self.entries.append(DeliveryEntry(record.pk, data_name, claim_name))

    def finish(self) -> None:
        """ix08 and su08 for exactly the records written, the official XSDs, and the ZIP's directory."""
        if self._members is not None:
            self._members.close()
            self._members = None
        index = IndexRecord(
            interaction_type="3",
            created_on=self.name.submitted_on,
            sender=agency_party(self.code),
            receiver=insurer_party(self.insurer_number),
            service_event_type=self.name.service_event_type,
            total_record_count=len(self.entries) + self.claim_files,
        )
        stem = self.name.stem
        self._zip.add(f"{stem}/{INDEX_FILE}", index_xml(index))
        if self.claim_files:  # results only and 事業者健診等 carry no claims and no su08
            summary = self.totals.record(service_event_type=self.name.service_event_type)
            self._zip.add(f"{stem}/{SUMMARY_FILE}", summary_xml(summary))
        if self._xsd is not None:
            for path, data in xsd_members(self._xsd).items():
                self._zip.add(f"{stem}/{path}", data)
        self._zip.finish()

    def close(self) -> None:
        if self._members is not None:
            self._members.close()
            self._members = None
