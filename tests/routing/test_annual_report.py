"""実施結果報告: for a generated 年度 of data, each insurer's archive (実施区分 3) validates against the official
XSDs and its counts equal counts taken directly from the database; each generation is kept with its hash, the
download is audited and out of other insurers' reach; the preview shows 実施率 from the 対象者数 entered."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from agency.models import Insurer, Role
from audit.models import AuditEvent
from intake.models import AnnualReport, AnnualReportGeneration, Record, RecordStatus
from kenshin.schemas import FileKind, validate

from ..conftest import login_verified
from ..factories import UserFactory
from .helpers import intake_generated

pytestmark = pytest.mark.django_db

YEAR = 2024


@pytest.fixture
def xsd_dir(settings: Any) -> Path:
    value = os.environ.get("KENSHIN_XSD_DIR")
    if not value:
        pytest.skip("KENSHIN_XSD_DIR is not set: the archive's files are validated against the official 第4期 XSDs")
    settings.KENSHIN_XSD_DIR = value
    return Path(value)


@pytest.fixture
def insurers(capture: Any) -> list[Insurer]:
    """A 年度 of generated checkups for three insurers, received and checked."""
    intake_generated(capture, records=45, seed=721, insurers=3)
    numbers = Record.objects.filter(status=RecordStatus.ACCEPTED).values_list("insurer_id", flat=True).distinct()
    found = list(Insurer.objects.filter(pk__in=numbers).order_by("number"))
    assert len(found) >= 2
    return found


def _band(age: int) -> str:
    low = 40 + (age - 40) // 5 * 5
    return f"{low}-{low + 4}"


def _counts_from_database(insurer: Insurer) -> tuple[int, Counter[str], Counter[str]]:
    """Taken straight from the records: accepted 特定健診 of the 年度, by sex and 年度末 age band, and the targets."""
    rows = Record.objects.filter(
        insurer=insurer, status=RecordStatus.ACCEPTED, checkup_date__range=(dt.date(YEAR, 4, 1), dt.date(YEAR + 1, 3, 31))
    ).values_list("sex", "birth_date", "stratified_level")
    examinees: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    end = dt.date(YEAR + 1, 3, 31)
    for sex, birth, level in rows:
        age = end.year - birth.year - ((end.month, end.day) < (birth.month, birth.day))
        examinees[f"{sex}:{_band(age)}"] += 1
        if level in ("1", "2"):
            targets[f"{level}:{_band(age)}"] += 1
    return len(rows), examinees, targets


def _client(insurer: Insurer) -> Client:
    return login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=insurer))


def test_each_insurers_archive_is_xsd_valid_and_counts_match_the_database(insurers: list[Insurer], xsd_dir: Path) -> None:
    for insurer in insurers:
        client = _client(insurer)
        response = client.post(reverse("insurer:annual_report_generate"), {"year": YEAR})
        assert response.status_code == 302
        generation = AnnualReportGeneration.objects.get(report__insurer=insurer, report__fiscal_year=YEAR)
        download = client.get(reverse("insurer:annual_report_download", args=[generation.pk]))
        data = download.content
        assert hashlib.sha256(data).hexdigest() == generation.sha256
        assert download["Content-Disposition"] == f'attachment; filename="{generation.file_name}"'
        assert generation.file_name == f"{insurer.number}_00000000_{timezone.localdate():%Y%m%d}0_3.zip"

        total, examinees, targets = _counts_from_database(insurer)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            data_files = [n for n in names if "/DATA/h" in n]
            assert len(data_files) == total == generation.record_count
            assert not [n for n in names if "/CLAIMS/" in n]
            for name in names:
                if name.endswith(".xsd"):
                    continue
                kind = FileKind.INDEX if name.endswith("/ix08_V08.xml") else FileKind.CHECKUP
                root = etree.fromstring(archive.read(name))
                assert validate(xsd_dir, kind, root) == [], name
                if kind is FileKind.INDEX:
                    assert root.find("{*}totalRecordCount").get("value") == str(total)
                    assert root.find("{*}serviceEventType").get("code") == "3"
            people = set(Record.objects.filter(insurer=insurer).values_list("name_kana", flat=True))
            text = b"".join(archive.read(n) for n in data_files).decode("utf-8")
            assert not [name for name in people if name and name in text]  # anonymised
        assert generation.counts["examinees"] == dict(examinees)
        assert generation.counts["targets"] == dict(targets)
        assert generation.counts["total_examinees"] == total
        event = AuditEvent.objects.filter(action="intake.annual_report.download").order_by("-seq").first()
        assert event is not None and event.object_ids == [str(generation.pk)]


def test_preview_rate_regeneration_and_other_insurers(insurers: list[Insurer]) -> None:
    insurer, other = insurers[0], insurers[1]
    client = _client(insurer)
    total, _examinees, _targets = _counts_from_database(insurer)
    client.post(reverse("insurer:annual_report"), {"year": YEAR, "population": total * 4})
    assert AnnualReport.objects.get(insurer=insurer, fiscal_year=YEAR).target_population == total * 4
    page = client.get(reverse("insurer:annual_report"), {"year": YEAR}).content.decode()
    assert f"{total}人" in page and "25.0%" in page
    assert AuditEvent.objects.filter(action="annual_report.population_set").exists()

    first = client.post(reverse("insurer:annual_report_generate"), {"year": YEAR})
    second = client.post(reverse("insurer:annual_report_generate"), {"year": YEAR})
    assert first.status_code == second.status_code == 302
    generations = list(AnnualReportGeneration.objects.filter(report__insurer=insurer).order_by("pk"))
    assert len(generations) == 2
    assert generations[0].file_name.endswith("0_3.zip") and generations[1].file_name.endswith("1_3.zip")
    assert generations[0].sha256 != generations[1].sha256  # another name inside: another archive, both kept
    page = client.get(reverse("insurer:annual_report"), {"year": YEAR}).content.decode()
    assert generations[0].sha256 in page and generations[1].sha256 in page

    outsider = _client(other)
    denied = outsider.get(reverse("insurer:annual_report_download", args=[generations[0].pk]))
    assert denied.status_code == 404
    assert AuditEvent.objects.filter(outcome="denied", object_type="annual_report_generation").exists()
