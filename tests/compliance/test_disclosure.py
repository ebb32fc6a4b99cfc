"""The public disclosure page: no login, the form's layout, live figures from the data."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from agency.models import AgencyProfile, Institution, User
from compliance.disclosure import fiscal_year_of, handled_volume, previous_fiscal_year
from compliance.services import checklist as services
from intake.models import RecordStatus

from ..factories import AgencyProfileFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "name": "テスト代行機関株式会社", "address": "東京都千代田区1-1", "phone": "03-0000-0000", "fax": "03-0000-0001",
    "website_url": "https://agency.example.jp/", "contact_email": "info@agency.example.jp", "agency_code": "91399055",
    "classification": AgencyProfile.Classification.INSURER_SIDE, "invoice_registration_number": "T7123456789012",
    "staff_dedicated_own": 12, "staff_total_own": 109, "sites_count": 1, "sites_prefectures": "東京都",
    "service_start_date": dt.date(2013, 3, 1), "system_ownership": AgencyProfile.SystemOwnership.OWN,
    "system_operation": AgencyProfile.SystemOperation.PARTLY_OUTSOURCED,
    "system_facility": AgencyProfile.SystemFacility.CONTRACTOR_FACILITY, "system_engineers_own": 1,
    "system_engineers_contractor": 1, "capacity_per_year": 500_000, "capacity_per_day": 1370,
    "hours_site": "平日 9:00-18:00", "hours_system": "24 時間 365 日", "hours_helpdesk": "平日 9:00-18:00",
    "inbound_online_lines": "インターネット、メール", "inbound_offline_means": "追跡可能な宅急便",
    "outbound_online_lines": "インターネット", "outbound_offline_means": "追跡可能な宅急便",
    "fee_initial": 200_000, "fee_fixed": 200_000, "fee_per_checkup": 3_500,
}
TODAY = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def profile(db: Any) -> AgencyProfile:
    with time_machine.travel(dt.datetime(2026, 2, 10, 1, 0, tzinfo=dt.UTC)):
        return AgencyProfileFactory(**PROFILE)


def _checked(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 3, 0, tzinfo=dt.UTC)


def test_fiscal_years() -> None:
    assert fiscal_year_of(dt.date(2026, 3, 31)).start == dt.date(2025, 4, 1)
    assert fiscal_year_of(dt.date(2026, 4, 1)).start == dt.date(2026, 4, 1)
    assert previous_fiscal_year(dt.date(2026, 11, 24)).start == dt.date(2025, 4, 1)
    assert previous_fiscal_year(dt.date(2026, 11, 24)).days == 365
    assert previous_fiscal_year(dt.date(2024, 11, 24)).days == 366  # April 2023 – March 2024 contains 29 February


def test_volume_counts_accepted_records_of_the_previous_fiscal_year(institution_a: Institution) -> None:
    inside = [dt.date(2025, 4, 1), dt.date(2025, 12, 31), dt.date(2026, 3, 31)]
    for day in inside:
        SubmissionFactory(institution=institution_a, received_at=_checked(day), records=100, records__checkup_date=day)
    SubmissionFactory(institution=institution_a, received_at=_checked(dt.date(2026, 4, 1)), records=50)  # this fiscal year
    SubmissionFactory(institution=institution_a, received_at=_checked(dt.date(2025, 3, 31)), records=50)  # two years ago
    SubmissionFactory(institution=institution_a, received_at=_checked(dt.date(2025, 6, 1)), records=40, records__status=RecordStatus.RETURNED)
    with time_machine.travel(TODAY):
        volume = handled_volume()
    assert volume.fiscal_year.start == dt.date(2025, 4, 1)
    assert volume.yearly == 300
    assert volume.per_day == 1  # 300 / 365 = 0.82 → 1
    assert volume.last_change == _checked(dt.date(2026, 3, 31))


def test_per_day_rounds_half_up(institution_a: Institution) -> None:
    SubmissionFactory(institution=institution_a, received_at=_checked(dt.date(2025, 10, 1)), records=548)  # 548 / 365 = 1.501…
    with time_machine.travel(TODAY):
        assert handled_volume().per_day == 2


def test_public_page_without_login(profile: AgencyProfile, institution_a: Institution) -> None:
    SubmissionFactory(institution=institution_a, received_at=_checked(dt.date(2025, 9, 1)), records=730)
    with time_machine.travel(TODAY):
        response = Client().get(reverse("disclosure"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "事業運営上開示すべき重要事項の概要[代行機関]" in body
    assert "テスト代行機関株式会社" in body
    assert "■ 医療保険者サイド" in body
    assert "■ 一部委託" in body
    volume = re.search(r'data-testid="volume">(.*?)<div', body, re.S).group(1)
    assert "年間 730 件" in volume and "1日当たり 2 件" in volume
    assert "365日" in body
    capacity = re.search(r'data-testid="capacity">(.*?)</td>', body, re.S).group(1)
    assert "500,000" in capacity and "1,370" in capacity
    assert "200,000 円" in re.search(r'data-testid="fee-initial">(.*?)</td>', body, re.S).group(1)
    inbound = re.search(r'data-testid="inbound">(.*?)</td>', body, re.S).group(1)
    assert "■ オンライン" in inbound and "インターネット、メール" in inbound
    assert "□ 最低限のガイドラインを遵守済 ■ 最低限のガイドラインを遵守していない" in " ".join(
        re.search(r'data-testid="guideline">(.*?)<div', body, re.S).group(1).split())
    # 最終更新日: the start of the current fiscal year is later than the profile and the counted data
    assert re.search(r'data-testid="last-updated">(.*?)</td>', body).group(1) == "2026年4月1日"


def test_last_updated_follows_the_latest_change(profile: AgencyProfile, admin_a: User) -> None:
    with time_machine.travel(dt.datetime(2026, 9, 3, 1, 0, tzinfo=dt.UTC)):
        profile.fee_per_checkup = 3_300
        profile.save()
    with time_machine.travel(TODAY):
        body = Client().get(reverse("disclosure")).content.decode()
    assert re.search(r'data-testid="last-updated">(.*?)</td>', body).group(1) == "2026年9月3日"
    assert "3,300" in body


def test_compliance_answer_follows_the_checklist(profile: AgencyProfile, admin_a: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from compliance import selectors
    from compliance.selectors import Summary

    monkeypatch.setattr(selectors, "summary", lambda states: Summary(total=90, done=90))
    body = Client().get(reverse("disclosure")).content.decode()
    assert "■ 最低限のガイドラインを遵守済 □ 最低限のガイドラインを遵守していない" in " ".join(
        re.search(r'data-testid="guideline">(.*?)<div', body, re.S).group(1).split())


def test_page_without_a_profile_still_answers(db: Any) -> None:
    response = Client().get(reverse("disclosure"))
    assert response.status_code == 200
    assert "まだ登録されていません" in response.content.decode()


def test_public_checklist(admin_a: User) -> None:
    services.control_item_update(code="physical-05", owner="", planned_date=dt.date(2027, 3, 31),
                                 review_interval_days=None, actor=admin_a)
    response = Client().get(reverse("disclosure_checklist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('<td class="no">') == 90
    assert "■(2027年3月31日)" in body
    assert "医療情報システムの安全管理に関するガイドライン 第5.2版" in body
