"""Reading a submission archive: `read_archive(...)` never raises on bad input.

Stages, each stopping the archive on a FATAL finding:

1. the ZIP itself and its central directory (`zipguard`);
2. the content of every member, sniffed for executables and nested archives;
3. each XML member: encoding, DOCTYPE/entities, well-formedness, namespace, XSD, records;
4. cross-file consistency (`consistency`) and item formats against the master (`itemformat`).

`ArchiveReading` does the same one person at a time — ix08 and su08 first, then each DATA file
with the CLAIMS file of the same name, then the archive-wide checks — so that memory does not
grow with the archive; `read_archive` collects everything into one `ReadResult`.

Members under ``XSD/`` are only sniffed: they are never parsed nor used for validation; the
schemas come from ``KENSHIN_XSD_DIR`` (or the ``xsd_dir`` argument).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from kenshin import consistency
from kenshin import findings as F
from kenshin.cda_read import read_checkup, read_guidance
from kenshin.claim_read import read_claim, read_guidance_claim, read_index, read_summary
from kenshin.codes import HL7_NS, OID_INSTITUTION, Namespace
from kenshin.consistency import Pair, Totals
from kenshin.findings import Finding, Severity
from kenshin.itemformat import item_format_findings
from kenshin.items import ItemMaster, item_master
from kenshin.naming import (
    CLAIMS_DIR,
    DATA_DIR,
    INDEX_FILE,
    SUMMARY_FILE,
    XSD_DIR,
    ArchiveName,
    MemberName,
)
from kenshin.records import (
    CheckupDocument,
    Claim,
    GuidanceClaim,
    GuidanceDocument,
    IndexRecord,
    Member,
    Submission,
    SummaryRecord,
)
from kenshin.schemas import MAX_REPORTED_ERRORS, FileKind, SchemaDirectoryError, schema, validate, xsd_dir_from_env
from kenshin.xmlsafe import parse_xml
from kenshin.xmlutil import FieldError
from kenshin.zipguard import (
    DEFAULT_LIMITS,
    SNIFF_BYTES,
    ArchiveLimits,
    GuardedArchive,
    MemberError,
    MemberPlace,
    Source,
    open_archive,
    sniff,
)

_ROOT_ELEMENTS = {
    FileKind.INDEX: "index",
    FileKind.SUMMARY: "summary",
    FileKind.CHECKUP: "ClinicalDocument",
    FileKind.GUIDANCE: "ClinicalDocument",
    FileKind.CLAIM: "checkupClaim",
    FileKind.GUIDANCE_CLAIM: "healthGuidanceClaim",
}
_PREFIX_KINDS = {
    (DATA_DIR, "h"): FileKind.CHECKUP,
    (DATA_DIR, "g"): FileKind.GUIDANCE,
    (CLAIMS_DIR, "c"): FileKind.CLAIM,
    (CLAIMS_DIR, "p"): FileKind.GUIDANCE_CLAIM,
}
_DIRECTORIES = frozenset({"", DATA_DIR, CLAIMS_DIR, XSD_DIR})
_FROM_ENV: Any = object()

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileReport:
    """One member as the reader saw it: its kind, namespace generation and schema verdict."""

    path: str
    kind: FileKind | None
    namespace: str | None = None
    generation: Namespace | None = None
    schema_valid: bool | None = None


@dataclass(frozen=True)
class ReadResult:
    archive_name: ArchiveName | None
    root: str | None
    index: IndexRecord | None = None
    summary: SummaryRecord | None = None
    checkups: tuple[Member[CheckupDocument], ...] = ()
    claims: tuple[Member[Claim], ...] = ()
    guidance: tuple[Member[GuidanceDocument], ...] = ()
    guidance_claims: tuple[Member[GuidanceClaim], ...] = ()
    files: tuple[FileReport, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def accepted(self) -> bool:
        """No FATAL or ERROR finding."""
        return not any(finding.blocking for finding in self.findings)

    @property
    def fatal(self) -> bool:
        return any(finding.severity is Severity.FATAL for finding in self.findings)

    def codes(self) -> set[str]:
        return {finding.code for finding in self.findings}

    def submission(self) -> Submission | None:
        """The records as a `Submission` (what the writer takes), when name and index were read."""
        if self.archive_name is None or self.index is None:
            return None
        return Submission(
            name=self.archive_name,
            index=self.index,
            summary=self.summary,
            checkups=self.checkups,
            claims=self.claims,
            guidance=self.guidance,
            guidance_claims=self.guidance_claims,
        )


@dataclass
class _State:
    xsd_dir: Path | None
    master: ItemMaster | None
    findings: list[Finding] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    index: IndexRecord | None = None
    summary: SummaryRecord | None = None
    checkups: list[Member[CheckupDocument]] = field(default_factory=list)
    claims: list[Member[Claim]] = field(default_factory=list)
    guidance: list[Member[GuidanceDocument]] = field(default_factory=list)
    guidance_claims: list[Member[GuidanceClaim]] = field(default_factory=list)
    data_paths: list[str] = field(default_factory=list)
    claim_paths: list[str] = field(default_factory=list)


def _root_folder(names: list[str], archive_name: str | None) -> tuple[str | None, Finding | None]:
    tops = {name.split("/", 1)[0] for name in names}
    nested = all("/" in name for name in names)
    if len(tops) != 1 or not nested:
        return None, F.ARC_ROOT_INVALID.at(detail="ルートフォルダがひとつではありません")
    root = tops.pop()
    if archive_name is not None and root != archive_name:
        return root, F.ARC_ROOT_INVALID.at(detail=f"{root} ≠ {archive_name}")
    return root, None


def _classify(relative: str, state: _State) -> FileKind | str | None:
    """The kind of a member by its place in the layout; "xsd" for the ignored XSD folder."""
    if relative == INDEX_FILE:
        return FileKind.INDEX
    if relative == SUMMARY_FILE:
        return FileKind.SUMMARY
    folder, _, filename = relative.rpartition("/")
    if folder == XSD_DIR or folder.startswith(XSD_DIR + "/"):
        return "xsd"
    if folder in (DATA_DIR, CLAIMS_DIR) and filename.lower().endswith(".xml"):
        (state.data_paths if folder == DATA_DIR else state.claim_paths).append(relative)
        if MemberName.parse(filename) is None:
            state.findings.append(F.ARC_MEMBER_NAME_NONSTANDARD.at(file=relative))
        return "data" if folder == DATA_DIR else "claims"  # the content decides (`_kind_from_root`)
    return None


_PREFIXES = {kind: prefix for (_folder, prefix), kind in _PREFIX_KINDS.items()}


def _kind_from_root(provisional: str, root: etree._Element) -> FileKind | None:
    """What a DATA or CLAIMS file is, from its root element (and, for a CDA document, its 報告区分:
    2x is 特定保健指導)."""
    tag = etree.QName(root).localname
    if provisional == "claims":
        return {"checkupClaim": FileKind.CLAIM, "healthGuidanceClaim": FileKind.GUIDANCE_CLAIM}.get(tag)
    if tag != "ClinicalDocument":
        return None
    code = root.find(f"{{{HL7_NS}}}code")
    category = code.get("code", "") if code is not None else ""
    return FileKind.GUIDANCE if category.startswith("2") else FileKind.CHECKUP


_EXTRACTORS: dict[FileKind, Callable[..., Any]] = {
    FileKind.INDEX: read_index,
    FileKind.SUMMARY: read_summary,
    FileKind.CLAIM: read_claim,
    FileKind.GUIDANCE_CLAIM: read_guidance_claim,
}


def _namespace_check(kind: FileKind, root: etree._Element, path: str) -> tuple[str, Namespace | None, Finding | None]:
    uri = etree.QName(root).namespace or ""
    if kind in (FileKind.CHECKUP, FileKind.GUIDANCE):
        return uri, None, None if uri == HL7_NS else F.XML_NAMESPACE_UNKNOWN.at(file=path, detail=uri)
    try:
        generation = Namespace(uri)
    except ValueError:
        return uri, None, F.XML_NAMESPACE_UNKNOWN.at(file=path, detail=uri or "なし")
    if generation is Namespace.CHECKUP_2007:
        return uri, generation, F.XML_NAMESPACE_OLD.at(file=path)
    return uri, generation, None


def _schema_check(state: _State, kind: FileKind, root: etree._Element, path: str) -> bool | None:
    if state.xsd_dir is None:
        return None
    try:
        errors = validate(state.xsd_dir, kind, root)
    except SchemaDirectoryError as exc:
        state.findings.append(F.XML_SCHEMA_UNAVAILABLE.at(file=path, detail=str(exc)))
        state.xsd_dir = None
        return None
    for error in errors[:MAX_REPORTED_ERRORS]:
        state.findings.append(
            F.XML_SCHEMA_INVALID.at(file=path, xpath=error.xpath, detail=f"{error.line}行目: {error.message}")
        )
    if len(errors) > MAX_REPORTED_ERRORS:
        rest = len(errors) - MAX_REPORTED_ERRORS
        state.findings.append(
            F.XML_SCHEMA_INVALID.at(file=path, detail=f"ほかに{rest}件のスキーマエラーがあります（先頭{MAX_REPORTED_ERRORS}件を表示）")
        )
    return not errors


def _read_xml(state: _State, path: str, provisional: FileKind | str, data: bytes) -> None:
    root, refused = parse_xml(data, path)
    if root is None:
        state.findings.append(refused or F.XML_MALFORMED.at(file=path))
        state.files.append(FileReport(path, provisional if isinstance(provisional, FileKind) else None))
        return
    kind = provisional if isinstance(provisional, FileKind) else _kind_from_root(provisional, root)
    if kind is None or etree.QName(root).localname != _ROOT_ELEMENTS[kind]:
        state.findings.append(F.XML_ROOT_UNEXPECTED.at(file=path, xpath="/" + etree.QName(root).localname))
        state.files.append(FileReport(path, kind))
        return
    if not isinstance(provisional, FileKind):
        folder, _, filename = path.rpartition("/")
        named = _PREFIX_KINDS.get((folder, filename[:1]))
        if named is not None and named is not kind:
            state.findings.append(
                F.XML_KIND_PREFIX_MISMATCH.at(file=path, detail=f"接頭辞 {filename[:1]}・内容 {_PREFIXES[kind]}（{kind.value}）")
            )
    uri, generation, namespace_finding = _namespace_check(kind, root, path)
    valid = None
    if namespace_finding is not None:
        state.findings.append(namespace_finding)
        if generation is None:
            state.files.append(FileReport(path, kind, uri))
            return
    else:
        valid = _schema_check(state, kind, root, path)
    state.files.append(FileReport(path, kind, uri, generation, valid))
    try:
        _store(state, kind, root, path, generation)
    except FieldError as exc:
        state.findings += exc.findings


def _store(state: _State, kind: FileKind, root: etree._Element, path: str, generation: Namespace | None) -> None:
    if kind is FileKind.CHECKUP:
        document = read_checkup(root, path)
        state.checkups.append(Member(path, document))
        if state.master is not None:
            state.findings += item_format_findings(document, state.master, path)
    elif kind is FileKind.GUIDANCE:
        state.guidance.append(Member(path, read_guidance(root, path)))
    else:
        record = _EXTRACTORS[kind](root, path, generation)
        if kind is FileKind.INDEX:
            state.index = record
        elif kind is FileKind.SUMMARY:
            state.summary = record
        elif kind is FileKind.CLAIM:
            state.claims.append(Member(path, record))
        else:
            state.guidance_claims.append(Member(path, record))


def _unexpected_directories(names: list[str], root: str | None) -> list[Finding]:
    found = []
    for name in names:
        if not name.endswith("/"):
            continue
        relative = name[len(root) + 1 :].rstrip("/") if root is not None else name.rstrip("/")
        if relative not in _DIRECTORIES and not relative.startswith(XSD_DIR + "/"):
            found.append(F.ARC_UNEXPECTED_MEMBER.at(file=relative + "/"))
    return found


def prepare(xsd_dir: Path | str | None) -> None:
    """Load the item master and compile the schemas of ``xsd_dir`` now (a long-running worker
    does this once, so that its first archive does not pay for it)."""
    item_master()
    if not xsd_dir:
        return
    try:
        for kind in FileKind:
            schema(Path(xsd_dir), kind)
    except SchemaDirectoryError:
        logger.warning("XSD directory %s is not usable; archives will carry XML_SCHEMA_UNAVAILABLE", xsd_dir, exc_info=True)


_Planned = tuple[Any, str, FileKind | str]  # a member to parse: its ZipInfo, relative path and kind
_DATA_KINDS = frozenset({FileKind.CHECKUP, FileKind.GUIDANCE, "data"})
_CLAIM_KINDS = frozenset({FileKind.CLAIM, FileKind.GUIDANCE_CLAIM, "claims"})


def _stem(relative: str) -> str:
    """What pairs a DATA file with its CLAIMS file: the name without folder, prefix and extension."""
    return relative.rsplit("/", 1)[-1][1:].rsplit(".", 1)[0]


@dataclass(frozen=True)
class RecordRead:
    """One person's files as read, with the reports and every finding on those files."""

    pair: Pair
    files: tuple[FileReport, ...]
    findings: tuple[Finding, ...]


class ArchiveReading:
    """An archive read one person at a time (use as a context manager).

    Construction checks the ZIP, the layout and every member's name, sniffs the members that are
    never parsed and reads ix08 and su08. ``records()`` then yields one `RecordRead` per DATA file
    (with the CLAIMS file of the same name) and one per CLAIMS file left without a DATA file;
    only the record in hand is kept. ``finish()`` gives the archive-wide findings once every record
    was read. ``findings`` holds the archive's own findings (name, layout, ix08, su08, …).

    ``stopped`` tells that a FATAL finding ended the reading early (``finish()`` is then empty);
    ``discard`` that dangerous content was found in a member: whatever was yielded must be dropped,
    as if nothing had been parsed.
    """

    def __init__(
        self,
        source: Source,
        *,
        filename: str | None = None,
        password: str | bytes | None = None,
        limits: ArchiveLimits = DEFAULT_LIMITS,
        xsd_dir: Path | str | None = _FROM_ENV,
        master: ItemMaster | None = _FROM_ENV,
    ) -> None:
        if filename is None and isinstance(source, (str, Path)):
            filename = Path(source).name
        self.archive_name = ArchiveName.parse(filename) if filename else None
        directory = xsd_dir_from_env() if xsd_dir is _FROM_ENV else (Path(xsd_dir) if xsd_dir else None)
        self._state = state = _State(xsd_dir=directory, master=item_master() if master is _FROM_ENV else master)
        self.root: str | None = None
        self.stopped = False
        self.discard = False
        self._archive: GuardedArchive | None = None
        self._pairs: deque[tuple[_Planned | None, _Planned | None]] = deque()
        self._ordinal: dict[str, int] = {}
        self._places: dict[str, MemberPlace] = {}
        self._totals = Totals()
        self._keep = 0
        if filename is not None and self.archive_name is None:
            state.findings.append(F.ARC_NAME_INVALID.at(file=filename))
        if directory is None:
            state.findings.append(F.XML_SCHEMA_UNAVAILABLE.at())
        secret = password.encode("utf-8") if isinstance(password, str) else password
        archive, refused = open_archive(source, password=secret, limits=limits)
        if archive is None:
            state.findings += refused
            self.stopped = True
            return
        self._archive = archive
        names = archive.names()
        stem = filename[:-4] if filename and filename.lower().endswith(".zip") else filename
        self.root, root_finding = _root_folder(names, stem) if names else (None, None)
        if root_finding is not None:
            state.findings.append(root_finding)
        state.findings += _unexpected_directories(names, self.root)
        self._plan(archive)

    # --- what the archive says of itself -----------------------------------------------------------

    @property
    def findings(self) -> list[Finding]:
        return self._state.findings

    @property
    def index(self) -> IndexRecord | None:
        return self._state.index

    @property
    def summary(self) -> SummaryRecord | None:
        return self._state.summary

    @property
    def has_claims(self) -> bool:
        """Whether the archive holds any CLAIMS file (a results-only archive holds none)."""
        return bool(self._totals.claim_files)

    @property
    def files(self) -> list[FileReport]:
        """Reports of ix08 and su08 (each record's files come with the record)."""
        return self._state.files

    # --- reading ---------------------------------------------------------------------------------------

    def _plan(self, archive: GuardedArchive) -> None:
        """Classify every member, sniff those never parsed, read ix08/su08 and pair the rest."""
        state = self._state
        singles: list[_Planned] = []
        data: list[_Planned] = []
        claims: list[_Planned] = []
        for info in archive.files():
            name = info.orig_filename
            relative = name[len(self.root) + 1 :] if self.root is not None else name
            kind = _classify(relative, state)
            if kind is not None and kind != "xsd":
                self._ordinal[relative] = len(self._ordinal)
                self._places[relative] = archive.place(info)
                (data if kind in _DATA_KINDS else claims if kind in _CLAIM_KINDS else singles).append((info, relative, kind))
                continue
            try:
                head = archive.read(info, limit=SNIFF_BYTES)
            except MemberError as exc:
                state.findings.append(exc.finding)
                continue
            if (dangerous := sniff(name, head)) is not None:
                state.findings.append(dangerous)
            elif kind is None:
                state.findings.append(F.ARC_UNEXPECTED_MEMBER.at(file=relative))
        if any(finding.severity is Severity.FATAL for finding in state.findings):
            self.stopped = True
            return
        by_stem: dict[str, _Planned] = {}
        left: list[_Planned] = []
        for planned in claims:
            if by_stem.setdefault(_stem(planned[1]), planned) is not planned:
                left.append(planned)
        self._pairs.extend((planned, by_stem.pop(_stem(planned[1]), None)) for planned in data)
        self._pairs.extend((None, planned) for planned in sorted([*by_stem.values(), *left], key=lambda p: self._ordinal[p[1]]))
        self._totals.data_files, self._totals.claim_files = len(state.data_paths), len(state.claim_paths)
        self._keep = len(state.findings)
        for planned in singles:
            if not self._read(planned):
                return

    def _read(self, planned: _Planned) -> bool:
        """Read and parse one member; False when the reading stops."""
        info, relative, kind = planned
        state = self._state
        if self._archive is None:
            self.stopped = True
            return False
        try:
            data = self._archive.read(info)
        except MemberError as exc:
            state.findings.append(exc.finding)
            if exc.finding.severity is Severity.FATAL:
                self.stopped = True
                return False
            return True
        if (dangerous := sniff(info.orig_filename, data[:SNIFF_BYTES])) is not None:
            self._stop_dangerous(dangerous, planned)
            return False
        _read_xml(state, relative, kind, data)
        return True

    def _stop_dangerous(self, dangerous: Finding, current: _Planned) -> None:
        """Dangerous content in a member: name every dangerous member (the rest are sniffed by their
        head) and drop whatever was parsed, as if the archive had been refused up front."""
        archive = self._archive
        found = [dangerous]
        rest = [planned for pair in self._pairs for planned in pair if planned is not None and planned is not current]
        if archive is not None:
            for info, _relative, _kind in rest:
                try:
                    head = sniff(info.orig_filename, archive.read(info, limit=SNIFF_BYTES))
                except MemberError as exc:
                    head = exc.finding
                if head is not None:
                    found.append(head)
        state = self._state
        del state.findings[self._keep :]
        state.findings += found
        state.index = state.summary = None
        for parsed in (state.files, state.checkups, state.claims, state.guidance, state.guidance_claims):
            parsed.clear()
        self._pairs.clear()
        self.stopped = self.discard = True

    def records(self) -> Iterator[RecordRead]:
        """One `RecordRead` per person, in the order of the DATA files; then the unpaired CLAIMS files."""
        state = self._state
        while self._pairs and not self.stopped:
            data, claim = self._pairs[0]
            findings_mark, files_mark = len(state.findings), len(state.files)
            for planned in (data, claim):
                if planned is not None and not self._read(planned):
                    return
            self._pairs.popleft()
            pair = Pair(
                data_path=data[1] if data else None,
                claim_path=claim[1] if claim else None,
                checkup=state.checkups.pop() if state.checkups else None,
                guidance=state.guidance.pop() if state.guidance else None,
                claim=state.claims.pop() if state.claims else None,
                guidance_claim=state.guidance_claims.pop() if state.guidance_claims else None,
            )
            found = state.findings[findings_mark:]
            del state.findings[findings_mark:]
            files = state.files[files_mark:]
            del state.files[files_mark:]
            found += consistency.record_findings(
                pair, index=state.index, archive_has_claims=bool(self._totals.claim_files), sender=self._sender()
            )
            self._totals.add(pair)
            yield RecordRead(pair, tuple(files), tuple(found))

    def finish(self) -> list[Finding]:
        """The archive-wide findings (ix08 counts, su08 sums, the service mix), after every record."""
        if self.stopped:
            return []
        if self._pairs:
            raise RuntimeError("finish() before every record was read")
        found = [] if self._state.data_paths else [F.ARC_NO_DATA.at()]
        return found + consistency.archive_findings(
            name=self.archive_name, index=self.index, summary=self.summary, totals=self._totals
        )

    def _sender(self) -> str | None:
        """The sending institution's number (archive name, else ix08), when an institution sent it."""
        name, index = self.archive_name, self._state.index
        if name is not None and len(name.sender) == 10:
            return name.sender
        if index is not None and index.sender.root == OID_INSTITUTION:
            return index.sender.extension
        return None

    def member_place(self, path: str) -> MemberPlace | None:
        """Where a DATA or CLAIMS member (path inside the root folder) sits in the archive."""
        return self._places.get(path)

    def ordinal(self, path: str) -> int:
        """The place of a parsed member in the archive."""
        return self._ordinal.get(path, len(self._ordinal))

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    def __enter__(self) -> ArchiveReading:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_archive(
    source: Source,
    *,
    filename: str | None = None,
    password: str | bytes | None = None,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    xsd_dir: Path | str | None = _FROM_ENV,
    master: ItemMaster | None = _FROM_ENV,
) -> ReadResult:
    """Read a submission archive from a path, bytes or a binary stream, all at once.

    ``filename`` is the upload's name (taken from a path source when omitted); it is checked
    against the naming rule and the root folder. ``password`` opens ZipCrypto/AES archives.
    ``xsd_dir`` defaults to ``KENSHIN_XSD_DIR``; ``master`` to the packaged item master (pass
    None to skip the item format checks).
    """
    with ArchiveReading(
        source, filename=filename, password=password, limits=limits, xsd_dir=xsd_dir, master=master
    ) as reading:
        checkups: list[Member[CheckupDocument]] = []
        claims: list[Member[Claim]] = []
        guidance: list[Member[GuidanceDocument]] = []
        guidance_claims: list[Member[GuidanceClaim]] = []
        files: list[FileReport] = []
        record_findings: list[Finding] = []
        for record in reading.records():
            pair = record.pair
            if pair.checkup is not None:
                checkups.append(pair.checkup)
            if pair.claim is not None:
                claims.append(pair.claim)
            if pair.guidance is not None:
                guidance.append(pair.guidance)
            if pair.guidance_claim is not None:
                guidance_claims.append(pair.guidance_claim)
            files += record.files
            record_findings += record.findings
        if reading.discard:
            checkups, claims, guidance, guidance_claims, files, record_findings = [], [], [], [], [], []
        final = reading.finish()
        order = reading.ordinal
        return ReadResult(
            archive_name=reading.archive_name,
            root=reading.root,
            index=reading.index,
            summary=reading.summary,
            checkups=tuple(checkups),
            claims=tuple(sorted(claims, key=lambda member: order(member.path))),
            guidance=tuple(guidance),
            guidance_claims=tuple(sorted(guidance_claims, key=lambda member: order(member.path))),
            files=tuple(sorted([*reading.files, *files], key=lambda report: order(report.path))),
            findings=(*reading.findings, *record_findings, *final),
        )
