"""実施結果報告 (法定報告): the preview's counts, the 対象者数 the insurer enters, and the archive generated
on demand from the 年度's accepted checkups and guidance parts (``kenshin.annual_report``), each generation stored and kept
with its hash. Writes are audited in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain, groupby
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from agency.models import Insurer
from audit.services import audit_record
from core.exceptions import ApplicationError
from kenshin import annual_report
from kenshin.guidance import TIMINGS
from kenshin.records import CheckupDocument, GuidanceDocument
from kenshin.rules import age_on, fiscal_year_end
from kenshin.writer import xsd_members

from .. import selectors, storage
from ..models import (
    CHECKUP_KINDS,
    AnnualReport,
    AnnualReportGeneration,
    Record,
    RecordKind,
    RecordStatus,
    StoredArchive,
    Submission,
)
from ..reading import parse_checkup, parse_guidance, read_members

PSEUDONYM_SALT = "intake.annual_report.pseudonym"
MAX_SAME_DAY = 10  # one digit in the archive name


class AnnualReportUnreadable(ApplicationError):
    code = "annual_report_unreadable"
    status = 409


class AnnualReportTooLarge(ApplicationError):
    code = "annual_report_too_large"
    status = 409


class AnnualReportTooManyToday(ApplicationError):
    code = "annual_report_too_many_today"
    status = 409


def year_records(insurer: Insurer, year: int) -> QuerySet[Record]:
    """The accepted 特定健診 of the insurer's insured in the 年度 (April–March): with claims, results only and
    事業者健診等, which all count toward the 実施率 (guidance records are not checkups)."""
    return Record.objects.filter(
        insurer=insurer, status=RecordStatus.ACCEPTED, kind__in=CHECKUP_KINDS,
        checkup_date__gte=dt.date(year, 4, 1), checkup_date__lte=dt.date(year + 1, 3, 31),
    ).order_by("checkup_date", "pk")


def year_guidance(insurer: Insurer, year: int) -> QuerySet[Record]:
    """The accepted 特定保健指導 parts (one record per 利用券 and 実施時点) of the insurer's people whose
    初回面接 falls in the 年度 — the same 年度 the preview's 開始者・終了者 use; every 実施時点 goes in."""
    return Record.objects.filter(
        insurer=insurer, status=RecordStatus.ACCEPTED, kind=RecordKind.GUIDANCE, fiscal_year=year,
    ).order_by("submission_id", "position")


def file_counts(insurer: Insurer, year: int) -> dict[str, Any]:
    """The files the archive carries: h files, and g files per 実施時点 (別表11 code → count)."""
    timings = Counter(year_guidance(insurer, year).values_list("guidance_timing", flat=True))
    return {"h": year_records(insurer, year).count(), "g": dict(sorted(timings.items())), "g_total": sum(timings.values())}


def _person(sex: str, birth: dt.date | None, checkup: dt.date | None, level: str) -> annual_report.Person:
    assert birth is not None  # noqa: S101 - an accepted checkup has its birth date (the reader requires it)
    assert checkup is not None  # noqa: S101 - year_records selects by the checkup date
    return annual_report.Person(sex, age_on(birth, fiscal_year_end(checkup)), level)


PERSON_FIELDS = ("sex", "birth_date", "checkup_date", "stratified_level")


GUIDANCE_LEVEL_GROUPS = {"1": "active", "2": "motivational", "3": "motivational"}  # 別表12: 動機付け支援相当 counts as 動機付け


@dataclass(frozen=True)
class Preview:
    year: int
    counts: annual_report.Counts
    target_population: int | None
    generations: list[AnnualReportGeneration]
    guidance: dict[str, dict[str, int]]  # 開始者・終了者 by level group (active, motivational, total)
    files: dict[str, Any]  # what the archive will carry (``file_counts``)

    def guidance_files(self) -> list[dict[str, Any]]:
        """The g files by 実施時点, named as clerks say them (開始時, 実績評価時, …)."""
        return [{"timing": TIMINGS.get(code, code), "count": n} for code, n in self.files["g"].items()]

    @property
    def rate(self) -> Decimal | None:
        """実施率 (%) = 受診者数 ÷ 対象者数, to one decimal (half up); None without 対象者数."""
        if not self.target_population:
            return None
        return (Decimal(self.counts.total_examinees * 100) / self.target_population).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    def table(self) -> list[dict[str, Any]]:
        """One row per age band: 男・女・計 and the 積極的支援・動機付け支援 対象者."""
        rows = []
        for low, high in annual_report.AGE_BANDS:
            band = f"{low}-{high}"
            male, female = (self.counts.examinees[(sex, band)] for sex in annual_report.SEXES)
            active, motivational = (self.counts.targets[(level, band)] for level in ("1", "2"))
            rows.append({"band": f"{low}〜{high}歳", "male": male, "female": female, "total": male + female,
                         "active": active, "motivational": motivational})
        return rows


def annual_report_preview(*, insurer: Insurer, year: int) -> Preview:
    report = AnnualReport.objects.filter(insurer=insurer, fiscal_year=year).first()
    people = [_person(*row) for row in year_records(insurer, year).values_list(*PERSON_FIELDS)]
    generations = list(report.generations.select_related("archive", "created_by")) if report else []
    return Preview(year, annual_report.counts(people), report.target_population if report else None, generations,
                   guidance_counts(insurer=insurer, year=year), file_counts(insurer, year))


def guidance_counts(*, insurer: Insurer, year: int) -> dict[str, dict[str, int]]:
    """特定保健指導 of the 年度 (by the 初回面接's 年度): 開始者 and 終了者 (実績評価 accepted) by level (別表12)."""
    found = {group: {"started": 0, "finished": 0} for group in ("active", "motivational", "total")}
    for course in selectors.guidance_courses(insurer=insurer, fiscal_year=year):
        for group in (GUIDANCE_LEVEL_GROUPS.get(course.level), "total"):
            if group is None:
                continue
            found[group]["started"] += course.started
            found[group]["finished"] += course.finished
    return found


def annual_report_population_set(*, insurer: Insurer, year: int, population: int, actor: Any,
                                 request: HttpRequest | None = None) -> AnnualReport:
    """The insurer's 対象者数 for the 年度 (the denominator of 実施率)."""
    with transaction.atomic():
        report, _created = AnnualReport.objects.select_for_update().get_or_create(insurer=insurer, fiscal_year=year)
        old = report.target_population
        report.target_population = population
        report.save(update_fields=["target_population", "updated_at"])
        audit_record(action="annual_report.population_set", actor=actor, request=request, object_type="annual_report",
                     object_ids=[report.pk], detail={"year": year, "old": old, "new": population})
    return report


def pseudonym(insurer: Insurer, person_key: str, record_id: int) -> str:
    """The one-way pseudonym that replaces the card number: the same person of the insurer gets the same
    one every year (keyed by the deployment's secret), 20 hexadecimal characters."""
    who = person_key or f"record:{record_id}"
    return salted_hmac(PSEUDONYM_SALT, f"{insurer.number}|{who}").hexdigest()[:20]


@dataclass(frozen=True)
class _Row:
    pk: int
    submission_id: int
    data_path: str
    person_key: str


def _read(submission: Submission, paths: list[str]) -> dict[str, bytes]:
    """The members at ``paths``; one missing from the stored archive is left out (the caller reports it by path)."""
    try:
        return read_members(submission, paths)
    except KeyError:
        found: dict[str, bytes] = {}
        for path in paths:
            try:
                found.update(read_members(submission, [path]))
            except KeyError:
                continue
        return found


def _documents(insurer: Insurer, rows: list[_Row], created_on: dt.date,
               parse: Callable[[bytes, str], CheckupDocument | GuidanceDocument | None]) -> Iterator[CheckupDocument | GuidanceDocument]:
    """The anonymised documents of the rows, one stored archive read at a time (rows come by submission)."""
    for submission_id, group in groupby(rows, key=lambda row: row.submission_id):
        records = list(group)
        submission = Submission.objects.select_related("archive").get(pk=submission_id)
        members = _read(submission, [row.data_path for row in records])
        for row in records:
            document = parse(members[row.data_path], row.data_path) if row.data_path in members else None
            if document is None:
                raise AnnualReportUnreadable(_("受理済みのデータ（受付番号 %(receipt)s の %(path)s）を読み込めないため、"
                                               "実施結果報告を作成できません。代行機関にお問い合わせください。") % {
                    "receipt": submission.receipt_number, "path": row.data_path})
            yield annual_report.anonymise(document, pseudonym(insurer, row.person_key, row.pk), created_on=created_on)
        del members


def annual_report_generate(*, insurer: Insurer, year: int, actor: Any, request: HttpRequest | None = None) -> AnnualReportGeneration:
    """Build, store and keep a new archive of the insurer's 実施結果報告 for the 年度 (earlier ones stay): its
    h files, then its g files (``year_guidance``). The documents are read, anonymised and compressed one at a time, so memory does not grow with the 年度."""
    today = timezone.localdate()
    with transaction.atomic():
        report, _created = AnnualReport.objects.select_for_update().get_or_create(insurer=insurer, fiscal_year=year)
        same_day = report.generations.filter(created_at__date=today).count()
        if same_day >= MAX_SAME_DAY:
            raise AnnualReportTooManyToday(_("実施結果報告は同じ日に10回まで作成できます。翌日に作成してください。"))
        people: list[annual_report.Person] = []
        rows: list[_Row] = []
        for pk, submission_id, data_path, person_key, *person in year_records(insurer, year).order_by(
            "submission_id", "position"
        ).values_list("pk", "submission_id", "data_path", "person_key", *PERSON_FIELDS):
            rows.append(_Row(pk, submission_id, data_path, person_key))
            people.append(_person(*person))
        guidance_rows: list[_Row] = []
        timings: Counter[str] = Counter()
        for pk, submission_id, data_path, person_key, timing in year_guidance(insurer, year).values_list(
            "pk", "submission_id", "data_path", "person_key", "guidance_timing"
        ):
            guidance_rows.append(_Row(pk, submission_id, data_path, person_key))
            timings[timing] += 1
        total = len(rows) + len(guidance_rows)
        if total > annual_report.MAX_FILES:
            raise AnnualReportTooLarge(_("%(count)d件は1つの報告ファイルに入りません（最大 %(max)d件）。代行機関にお問い合わせください。")
                                       % {"count": total, "max": annual_report.MAX_FILES})
        xsd = xsd_members(Path(settings.KENSHIN_XSD_DIR)) if settings.KENSHIN_XSD_DIR else None
        name, data = annual_report.write(
            insurer_number=insurer.number, receiver=settings.ANNUAL_REPORT_RECEIVER, created_on=today,
            documents=chain(_documents(insurer, rows, today, parse_checkup),
                            _documents(insurer, guidance_rows, today, parse_guidance)),
            count=total, same_day_count=same_day, xsd=xsd,
        )
        stored = storage.store(data)
        archive, _new = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
        generation = AnnualReportGeneration.objects.create(
            report=report, created_by=actor if getattr(actor, "pk", None) else None, archive=archive,
            file_name=name.filename, record_count=len(rows),
            counts={**annual_report.counts(people).as_json(), "guidance": guidance_counts(insurer=insurer, year=year),
                    "files": {"h": len(rows), "g": dict(sorted(timings.items())), "g_total": len(guidance_rows)}},
        )
        audit_record(action="annual_report.generated", actor=actor, request=request, object_type="annual_report_generation",
                     object_ids=[generation.pk], detail={"year": year, "files": total, "sha256": stored.sha256,
                                                         "file_name": generation.file_name})
    return generation


def annual_report_archive(generation: AnnualReportGeneration) -> bytes:
    """The stored bytes of a generation (verified against their hash)."""
    return storage.read(generation.archive.sha256)
