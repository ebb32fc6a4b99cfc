"""Reads of submissions and records, scoped to what the requesting user may see."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import pyzipper
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from agency.crypto import decrypt_text
from agency.leases import WorkState, subject_work
from agency.models import Insurer, Role
from agency.selectors import institution_archive_password
from kenshin.cda_read import read_checkup, read_guidance
from kenshin.claim_read import read_claim, read_guidance_claim
from kenshin.codes import Namespace
from kenshin.xmlsafe import parse_xml
from kenshin.zipguard import MemberPlace

from . import jobs, storage
from .checks import as_json
from .models import (
    CHECKUP_KINDS,
    AnnualReportGeneration,
    EligibilityUpload,
    Finding,
    Record,
    RecordKind,
    RecordStatus,
    StoredArchive,
    Submission,
)


def submission_list(*, user: Any) -> QuerySet[Submission]:
    qs = Submission.objects.select_related("institution", "insurer", "archive")
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.none()  # insurers receive routed deliveries, not institutions' submissions
    return qs


def insurer_upload_list(*, user: Any) -> QuerySet[Submission]:
    """An insurer's own uploads of 事業者健診等 (実施区分 4): its staff see their insurer's only; nobody
    else reads them here (agency staff through the submission pages)."""
    if user.role != Role.INSURER_STAFF or user.insurer_id is None:
        return Submission.objects.none()
    return Submission.objects.select_related("insurer", "archive").filter(insurer_id=user.insurer_id)


PROCESSING_DONE = "done"
PROCESSING_LABELS = {
    PROCESSING_DONE: (_("点検完了"), ""),
    WorkState.QUEUED: (_("点検待ち"), _("点検の順番を待っています。この画面は自動で更新されます。")),
    WorkState.RUNNING: (_("点検中"), _("点検中です。この画面は自動で更新されます。")),
    WorkState.RESUMING: (
        _("中断・自動再開待ち"),
        _("点検を処理していたサーバーが停止したため中断しています。受け付けたデータは保存されており、点検は自動で再開します。再送の必要はありません。"),
    ),
    WorkState.FAILED: (
        _("中断・代行機関が対応中"),
        _("点検を自動で再開できませんでした。代行機関の担当者に通知済みです。受け付けたデータは保存されており、再送の必要はありません。"),
    ),
}
PROCESSING_STATES = tuple(PROCESSING_LABELS)


@dataclass(frozen=True)
class Processing:
    """Whether the check of a submission is going on, as it really is (from the leases of its work)."""

    state: str
    resumed: int = 0

    @property
    def label(self) -> str:
        return str(PROCESSING_LABELS[self.state][0])

    @property
    def message(self) -> str:
        return str(PROCESSING_LABELS[self.state][1])

    @property
    def interrupted(self) -> bool:
        return self.state in (WorkState.RESUMING, WorkState.FAILED)


def submission_processing(submission: Submission) -> Processing:
    """``done`` once the submission has its verdict; otherwise queued, running, resuming (its worker
    stopped: the sweeper queues it again) or failed (given up, the administrators alerted). An
    unfinished submission without any open unit is shown as resuming: the sweeper gives it one."""
    if submission.is_final:
        return Processing(PROCESSING_DONE)
    work = subject_work(jobs.subject(submission.pk))
    state = WorkState.RESUMING if work.state == WorkState.IDLE else work.state
    return Processing(state, work.resumed)


def record_list(*, user: Any) -> QuerySet[Record]:
    qs = Record.objects.select_related("submission", "institution", "insurer")
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id, status="accepted")
    return qs


def annual_report_generation_list(*, user: Any) -> QuerySet[AnnualReportGeneration]:
    """Generated 実施結果報告 archives: an insurer's own, none for institutions, all for agency staff."""
    qs = AnnualReportGeneration.objects.select_related("report__insurer", "archive")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(report__insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def finding_list(*, submission: Submission) -> QuerySet[Finding]:
    return submission.findings.select_related("record").order_by("record__position", "id")


def submission_archive_password(submission: Submission) -> str:
    """The password that opens the stored archive: the one given with it, else the institution's registered one."""
    if submission.archive_password:
        return decrypt_text(submission.archive_password)
    if submission.institution is None:
        return ""  # an insurer's own upload: a locked archive comes with its password
    return institution_archive_password(institution=submission.institution)


def submission_members(submission: Submission, paths: Iterable[str]) -> dict[str, bytes]:
    """Members of a stored submission archive by path inside its root folder (bytes as received).

    The archive passed the ZIP guards when it was received; only the archive's directory and the
    named members are read (each checked against its CRC-32; the archive's SHA-256 is verified on a
    schedule, ``intake.services.integrity``).
    """
    wanted = [path for path in paths if path]
    if not wanted:
        return {}
    found: dict[str, bytes] = {}
    with storage.path_for(submission.archive.sha256).open("rb") as handle, pyzipper.AESZipFile(handle) as archive:
        password = submission_archive_password(submission)
        if password:
            archive.setpassword(password.encode("utf-8"))
        roots = {PurePosixPath(name).parts[0] for name in archive.namelist() if name.strip("/")}
        root = roots.pop() if len(roots) == 1 else ""
        for path in wanted:
            found[path] = archive.read(f"{root}/{path}" if root else path)
    return found


def archive_integrity_totals() -> dict[str, Any]:
    """What the scheduled hash checks of the stored archives found (for the compliance probe)."""
    archives = StoredArchive.objects.all()
    totals = archives.aggregate(
        total=Count("pk"), unchecked=Count("pk", filter=Q(verified_at__isnull=True)),
        failed=Count("pk", filter=Q(intact=False)), oldest=Min("verified_at"),
    )
    totals["failed_sha256"] = list(archives.filter(intact=False).values_list("sha256", flat=True)[:20])
    return totals


def record_places(record: Record) -> dict[str, MemberPlace] | None:
    """Where the record's members sit in the stored archive, when every one of them can be read alone."""
    paths = [path for path in (record.data_path, record.claim_path) if path]
    kept = record.member_places or {}
    places = {path: MemberPlace.from_list(kept[path]) for path in paths if path in kept}
    if len(places) != len(paths) or not all(place.direct for place in places.values()):
        return None
    return places


class SubmissionArchiveMembers:
    """Members of one submission's stored archive, read record after record through one open file
    (a context manager): each alone from its place when kept, else through the archive's directory
    (opened once). ``compressed`` gives a member's stored bytes as they are, to copy them into
    another archive; ``read`` its bytes, CRC-32 checked."""

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        self._reader = storage.MemberReader(submission.archive.sha256)
        self._directory: tuple[Any, pyzipper.AESZipFile, str] | None = None

    def compressed(self, record: Record, path: str) -> tuple[MemberPlace, bytes] | None:
        """(place, stored bytes) of a member readable alone; None when it must be read through the directory."""
        places = record_places(record)
        if places is None:
            return None
        return places[path], self._reader.compressed(places[path])

    def read(self, record: Record, path: str) -> bytes:
        places = record_places(record)
        if places is not None:
            return self._reader.read(places[path])
        if self._directory is None:
            handle = storage.path_for(self.submission.archive.sha256).open("rb")
            archive = pyzipper.AESZipFile(handle)
            password = submission_archive_password(self.submission)
            if password:
                archive.setpassword(password.encode("utf-8"))
            roots = {PurePosixPath(name).parts[0] for name in archive.namelist() if name.strip("/")}
            self._directory = (handle, archive, roots.pop() if len(roots) == 1 else "")
        _handle, archive, root = self._directory
        data: bytes = archive.read(f"{root}/{path}" if root else path)
        return data

    def close(self) -> None:
        self._reader.close()
        if self._directory is not None:
            handle, archive, _root = self._directory
            archive.close()
            handle.close()
            self._directory = None

    def __enter__(self) -> SubmissionArchiveMembers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def record_members(record: Record) -> dict[str, bytes]:
    """The record's DATA and CLAIMS members (bytes as received), by path.

    Each member is read alone from its place in the stored archive (its CRC-32 checked), so a record
    view costs the same in an archive of 10 records or 50,000. Records received before the places
    were kept, and members of password-locked archives, are read through the archive's directory.
    """
    places = record_places(record)
    if places is None:
        return submission_members(record.submission, [record.data_path, record.claim_path])
    with storage.MemberReader(record.submission.archive.sha256) as reader:
        return {path: reader.read(place) for path, place in places.items()}


def record_parsed(record: Record) -> dict[str, Any]:
    """The record's checkup (or guidance document) and claim as JSON-ready dicts, read back from the stored archive."""
    members = record_members(record)
    parsed: dict[str, Any] = {"checkup": None, "claim": None}
    for key, path in (("checkup", record.data_path), ("claim", record.claim_path)):
        if path not in members:
            continue
        element, problem = parse_xml(members[path], path)
        if element is None or problem is not None:
            continue
        guidance = record.kind == RecordKind.GUIDANCE
        if key == "checkup":
            parsed[key] = as_json((read_guidance if guidance else read_checkup)(element, path))
        else:
            namespace = Namespace(element.tag[1:].split("}")[0])
            parsed[key] = as_json((read_guidance_claim if guidance else read_claim)(element, path, namespace))
    return parsed
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



def eligibility_upload_list(*, insurer: Insurer) -> QuerySet[EligibilityUpload]:
    """The 受診券 uploads of one insurer, newest first."""
    return EligibilityUpload.objects.filter(insurer=insurer).select_related("uploaded_by")


# --- returns and the institution's own records ----------------------------------------------------------------

BLOCKING_SEVERITIES = ("fatal", "error")


def returned_record_list(*, user: Any) -> QuerySet[Record]:
    """Returned records (返戻 by the agency's checks, and 過誤 by an insurer) the user may see, newest first."""
    return (
        record_list(user=user)
        .filter(status="returned")
        .select_related("insurer_return")
        .prefetch_related("replaced_by__submission")
        .order_by("-submission__received_at", "-submission_id", "position")
    )


def returns_filter(records: QuerySet[Record], *, reason: str = "", insurer: Any = None, month: dt.date | None = None,
                   institution: Any = None, kind: str = "", resubmitted: str = "") -> QuerySet[Record]:
    """Narrow returned records by 別表9 reason, insurer, month received, institution, kind and whether a
    corrected record has been accepted since."""
    if reason:
        records = records.filter(
            pk__in=Finding.objects.filter(return_reason=reason, severity__in=BLOCKING_SEVERITIES, record__isnull=False)
            .values("record_id")
        )
    if insurer is not None:
        records = records.filter(insurer=insurer)
    if month is not None:
        records = records.filter(submission__received_at__year=month.year, submission__received_at__month=month.month)
    if institution is not None:
        records = records.filter(institution=institution)
    if kind == "check":
        records = records.filter(insurer_return__isnull=True)
    elif kind == "insurer":
        records = records.filter(insurer_return__isnull=False)
    if resubmitted == "yes":
        records = records.filter(replaced_by__isnull=False).distinct()
    elif resubmitted == "no":
        records = records.filter(replaced_by__isnull=True)
    return records


def months_with(records: QuerySet[Record]) -> list[dt.date]:
    """The months (first day) in which the given records were received, newest first."""
    months = records.order_by().annotate(month=TruncMonth("submission__received_at")).values_list("month", flat=True).distinct()
    return sorted({(m.date() if isinstance(m, dt.datetime) else m) for m in months if m is not None}, reverse=True)


def blocking_findings(records: Iterable[Record]) -> dict[int, list[Finding]]:
    """The blocking findings of each record (why it was returned), in rule order."""
    ids = [record.pk for record in records]
    found: dict[int, list[Finding]] = {}
    for finding in Finding.objects.filter(record_id__in=ids, severity__in=BLOCKING_SEVERITIES).order_by("record_id", "id"):
        found.setdefault(finding.record_id, []).append(finding)  # type: ignore[arg-type]
    return found


# --- warnings waiting for a clerk's confirmation ------------------------------------------------------------------

# Findings about the agency's own set-up (kept in sync with ``intake.wording.AGENCY_CONFIGURATION_CODES``):
# they say nothing about the record, so they neither wait for confirmation nor hold a delivery back.
CONFIGURATION_WARNING_CODES = ("XML_SCHEMA_UNAVAILABLE",)


def unconfirmed_warning_list() -> QuerySet[Finding]:
    """Warnings on records that no clerk has confirmed yet (on accepted and pending records), oldest first."""
    return (
        Finding.objects.filter(severity=Finding.Severity.WARNING, overridden_at__isnull=True, record__isnull=False)
        .exclude(code__in=CONFIGURATION_WARNING_CODES)
        .exclude(record__status=RecordStatus.RETURNED)
        .select_related("record__submission", "record__institution", "record__insurer")
        .order_by("submission__received_at", "record_id", "id")
    )


def records_awaiting_confirmation() -> QuerySet[Record]:
    """Records whose delivery waits for a clerk: an unconfirmed warning, and an insurer that waits for it."""
    return Record.objects.filter(
        pk__in=unconfirmed_warning_list().values("record_id"), insurer__delivery_waits_for_confirmation=True
    )


# --- 特定保健指導 courses and the checkups that count for the 年度 (for the statutory report) ---------------


@dataclass(frozen=True)
class GuidanceCourseRow:
    """One person's guidance course of a 年度 as accepted: who, which level, 開始 and 評価 (or 途中終了)."""

    person_key: str
    name_kana: str
    birth_date: dt.date | None
    ticket_number: str
    level: str
    first_date: dt.date | None
    start: Record | None
    evaluation: Record | None
    dropped: Record | None

    @property
    def started(self) -> bool:
        """開始者: the 初回面接 was accepted (開始時)."""
        return self.start is not None

    @property
    def finished(self) -> bool:
        """終了者: the 実績評価 was accepted."""
        return self.evaluation is not None

    @property
    def claim_total(self) -> int:
        return sum(r.claim_amount for r in (self.start, self.evaluation, self.dropped) if r is not None)


def guidance_courses(*, insurer: Insurer, fiscal_year: int, records: QuerySet[Record] | None = None) -> list[GuidanceCourseRow]:
    """The guidance courses of ``insurer``'s people whose 初回面接 falls in ``fiscal_year`` (年度), one row per
    利用券: 開始者 (``started``) and 終了者 (``finished``) with the level (別表12). Accepted records only;
    pass ``records`` to narrow further (a person)."""
    rows = (records if records is not None else Record.objects.all()).filter(
        kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED, insurer=insurer, fiscal_year=fiscal_year
    ).order_by("guidance_first_date", "ticket_number", "guidance_timing", "pk")
    courses: dict[str, dict[str, Any]] = {}
    for record in rows:
        course = courses.setdefault(record.ticket_number or f"#{record.pk}", {"records": {}, "first": record})
        course["records"].setdefault(record.guidance_timing, record)
    found = []
    for ticket, course in courses.items():
        parts, first = course["records"], course["first"]
        found.append(GuidanceCourseRow(
            person_key=first.person_key, name_kana=first.name_kana, birth_date=first.birth_date,
            ticket_number=ticket if not ticket.startswith("#") else "", level=first.guidance_level,
            first_date=first.guidance_first_date, start=parts.get("1"), evaluation=parts.get("2"), dropped=parts.get("3"),
        ))
    return found


def fiscal_year_checkups(*, insurer: Insurer, fiscal_year: int) -> dict[str, int]:
    """How many of ``insurer``'s people had their checkup of ``fiscal_year`` accepted, by kind: 特定健診
    with claims, results only (個別契約) and 事業者健診等 (実施区分 4) — all count toward the 実施率."""
    counts = dict.fromkeys([RecordKind.CHECKUP.value, RecordKind.RESULTS_ONLY.value, RecordKind.OTHER_CHECKUP.value], 0)
    for kind in Record.objects.filter(
        kind__in=CHECKUP_KINDS, status=RecordStatus.ACCEPTED, insurer=insurer, fiscal_year=fiscal_year
    ).values_list("kind", flat=True):
        counts[kind] += 1
    return counts


def person_records(record: Record) -> QuerySet[Record]:
    """The accepted records of the same person (保険者番号 + 記号 + 番号 + 枝番) with the same insurer:
    their checkups and guidance, newest first. The caller has already been allowed ``record``."""
    insurer_id = record.insurer_id
    if not record.person_key or insurer_id is None:
        return Record.objects.filter(pk=record.pk)
    return Record.objects.filter(
        person_key=record.person_key, insurer_id=insurer_id, status__in=[RecordStatus.ACCEPTED, RecordStatus.RETURNED]
    ).order_by("-checkup_date", "-pk")
