"""実施結果報告 with 特定保健指導: the preview counts the 年度's 開始者 and 終了者 from the accepted guidance
records, and guidance records stay out of the report's 特定健診情報 files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.demo import seed_demo
from agency.models import Contract, Institution, Insurer, Role
from agency.services import synthetic_parties_load
from intake.models import AnnualReportGeneration, Record, RecordKind, RecordStatus, Submission
from intake.services.receive import submission_receive
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from kenshin.synth.guidance import DEFAULT_GUIDANCE_PRICES, generate_guidance
from kenshin.synth.parties import Parties

from ..conftest import login_verified
from ..factories import UserFactory

pytestmark = pytest.mark.django_db

AGENCY = "91399055"
CONFIG = GeneratorConfig(year=2024, records=8, seed=21, agency_number=AGENCY)


@pytest.fixture
def parties(db: Any) -> Parties:
    seed_demo()
    made = default_parties(CONFIG)
    synthetic_parties_load(parties=made, agency_number=AGENCY)
    Contract.objects.filter(institution__number__in=[i.number for i in made.institutions]).update(
        guidance_active_price=DEFAULT_GUIDANCE_PRICES["1"], guidance_motivational_price=DEFAULT_GUIDANCE_PRICES["2"],
    )
    return made


def _receive(archive: GeneratedArchive, capture: Callable[..., Any]) -> Submission:
    institution = Institution.objects.get(number=archive.institution)
    with capture(execute=True):
        result = submission_receive(source=archive.data, file_name=archive.filename, institution=institution, channel="upload")
    return Submission.objects.get(pk=result.submission.pk)


def test_started_and_finished_come_from_the_guidance_records(parties: Parties, capture: Callable[..., Any]) -> None:
    for archive in generate(CONFIG, parties):
        _receive(archive, capture)
    pair = next(generate_guidance(CONFIG, parties))
    _receive(pair.start, capture)
    assert pair.evaluation is not None
    _receive(pair.evaluation, capture)
    guidance = Record.objects.filter(kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED)
    insurer = Insurer.objects.get(pk=guidance.values_list("insurer_id", flat=True).first())
    own = guidance.filter(insurer=insurer)
    started = own.filter(guidance_timing="1").values("ticket_number").distinct().count()
    finished = own.filter(guidance_timing="2").values("ticket_number").distinct().count()
    assert started and finished

    client = login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=insurer))
    page = client.get(reverse("insurer:annual_report"), {"year": 2024}).content.decode()
    assert f'data-testid="guidance-started">{started}<' in page
    assert f'data-testid="guidance-finished">{finished}<' in page

    assert client.post(reverse("insurer:annual_report_generate"), {"year": 2024}).status_code == 302
    generation = AnnualReportGeneration.objects.get(report__insurer=insurer)
    checkups = Record.objects.filter(insurer=insurer, status=RecordStatus.ACCEPTED).exclude(kind=RecordKind.GUIDANCE)
    assert generation.record_count == checkups.count()
    assert generation.counts["guidance"]["total"] == {"started": started, "finished": finished}
    data = client.get(reverse("insurer:annual_report_download", args=[generation.pk])).content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert sum("/DATA/h" in name for name in names) == checkups.count()
    assert not [name for name in names if "/DATA/g" in name]
