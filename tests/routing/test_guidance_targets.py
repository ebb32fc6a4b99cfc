"""特定保健指導の対象者リスト: an insurer lists and downloads (CSV) the people of its routed checkups whom
階層化 made 積極的支援 or 動機付け支援, by 年度 and month, each with why; only its own, every read audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Insurer, Role
from audit.models import AuditEvent
from intake.models import Record, RecordStatus
from routing.models import Delivery

from ..conftest import login_verified
from ..factories import InsurerFactory, UserFactory
from .helpers import intake_generated, route

pytestmark = pytest.mark.django_db

TARGET_LEVELS = ("1", "2")


@pytest.fixture
def deliveries(capture: Any) -> list[Delivery]:
    intake_generated(capture, records=40, seed=611, insurers=2)
    return route(capture)


def _rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_insurer_downloads_its_targets_by_year_and_month_with_the_reasons(deliveries: list[Delivery]) -> None:
    delivery = max(deliveries, key=lambda d: d.record_count)
    client = login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=delivery.insurer))
    own = Record.objects.filter(delivery_item__delivery__insurer=delivery.insurer, status=RecordStatus.ACCEPTED)
    expected = {r.pk: r for r in own.filter(stratified_level__in=TARGET_LEVELS)}
    assert expected and own.exclude(stratified_level__in=TARGET_LEVELS).exists()  # both kinds in the data

    response = client.get(reverse("insurer:guidance_targets_csv"), {"year": 2024})
    rows = _rows(response)
    assert response["Content-Disposition"] == 'attachment; filename="hokenshido-taisho-2024.csv"'
    assert sorted((row["受診券整理番号"], row["健診実施日"]) for row in rows) == sorted(
        (r.ticket_number, f"{r.checkup_date:%Y-%m-%d}") for r in expected.values()
    )
    by_ticket = {r.ticket_number: r for r in expected.values()}
    for row in rows:
        record = by_ticket[row["受診券整理番号"]]
        assert row["保険者番号"] == delivery.insurer.number
        assert row["保健指導レベル"] == record.get_stratified_level_display()
        assert row["対象となった理由"] == " / ".join(record.stratification_reasons.splitlines())
        assert row["対象となった理由"].startswith(("腹囲", "腹囲 ")) and "追加リスク" in row["対象となった理由"]
        assert row["階層化の基準"] == record.stratification_rule
    event = AuditEvent.objects.filter(action="routing.guidance_targets.export").order_by("-seq").first()
    assert event is not None and sorted(event.object_ids) == sorted(str(pk) for pk in expected)

    month = next(iter(expected.values())).checkup_date.month
    in_month = client.get(reverse("insurer:guidance_targets_csv"), {"year": 2024, "month": month})
    assert {row["受診券整理番号"] for row in _rows(in_month)} == {
        r.ticket_number for r in expected.values() if r.checkup_date.month == month
    }
    assert _rows(client.get(reverse("insurer:guidance_targets_csv"), {"year": 2023})) == []

    page = client.get(reverse("insurer:guidance_targets"), {"year": 2024})
    assert page.status_code == 200
    assert f"{len(expected)}人" in page.content.decode()
    some = next(iter(expected.values()))
    detail = client.get(reverse("insurer:record_detail", args=[some.pk])).content.decode()
    assert f"{some.get_stratified_level_display()}（階層化の基準 {some.stratification_rule}）" in detail


def test_another_insurer_sees_none_of_them(deliveries: list[Delivery]) -> None:
    delivered = {d.insurer for d in deliveries}
    other = Insurer.objects.exclude(pk__in=[i.pk for i in delivered]).first() or InsurerFactory()
    client = login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=other))
    assert _rows(client.get(reverse("insurer:guidance_targets_csv"), {"year": 2024})) == []
    page = client.get(reverse("insurer:guidance_targets"), {"year": 2024}).content.decode()
    assert "該当する方はいません。" in page


def test_institutions_cannot_reach_the_list(deliveries: list[Delivery]) -> None:
    institution = deliveries[0].items.first().record.institution  # type: ignore[union-attr]
    client = login_verified(Client(), UserFactory(role=Role.INSTITUTION_STAFF, institution=institution))
    assert client.get(reverse("insurer:guidance_targets_csv"), {"year": 2024}).status_code == 403
