"""Home pages as work queues: each role sees what waits for it, with figures that follow the data, and charts
drawn as inline SVG (no script, no inline style)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agency.models import Role
from audit.models import AuditEvent
from intake.models import Record, RecordStatus, Submission
from portal.charts import Series, stacked_bars

from ..factories import DeliveryFactory, FindingFactory, RecordFactory, SubmissionFactory

pytestmark = pytest.mark.django_db


def _home(client: Client) -> str:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def _figure(page: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd>(?:<a href=\"[^\"]*\">)?([^<]+)", page)
    assert match, label
    return match.group(1).strip()


@pytest.mark.parametrize("role", list(Role))
def test_every_home_page_has_panels_and_no_inline_script_or_style(role: Role, user_client: Callable[..., Client]) -> None:
    page = _home(user_client(role))
    assert 'data-testid="home-panel"' in page
    assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_institution_home_counts_returns_to_correct(user_client: Callable[..., Client], submission_a: Submission) -> None:
    client = user_client(Role.INSTITUTION_STAFF)
    returned = Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).count()
    page = _home(client)
    assert _figure(page, "訂正・再提出が必要な返戻") == str(returned)
    assert "<svg" in page and "今年度の受付件数" in page
    first = Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).first()
    RecordFactory(submission__institution=submission_a.institution, insurer=first.insurer, replaces=first)
    assert _figure(_home(client), "訂正・再提出が必要な返戻") == str(returned - 1)


def test_clerk_home_follows_warnings_and_intake(user_client: Callable[..., Client], contract_a: Any) -> None:
    client = user_client(Role.AGENCY_CLERK)
    assert _figure(_home(client), "未確認の警告") == "0"
    record = RecordFactory(submission=SubmissionFactory(institution=contract_a.institution, status="accepted"),
                           insurer=contract_a.insurer)
    FindingFactory(record=record)
    page = _home(client)
    assert _figure(page, "未確認の警告") == "1"
    assert _figure(page, "確認待ちで送付保留中の健診データ") == "1"
    assert _figure(page, "本日 受理") == "1"
    assert "直近14日の点検件数" in page


def test_admin_home_shows_month_close_and_preview(user_client: Callable[..., Client], contract_a: Any) -> None:
    # Accepted last month: billable in whichever month closes next (its own, or later as 月遅れ).
    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=2)
    received = dt.datetime.combine(last_month, dt.time(10), tzinfo=dt.UTC)
    record = RecordFactory(submission=SubmissionFactory(institution=contract_a.institution, received_at=received),
                           insurer=contract_a.insurer, claim_amount=6_500, checkup_date=last_month)
    RecordFactory(submission=SubmissionFactory(institution=contract_a.institution, received_at=received),
                  insurer=contract_a.insurer, claim_amount=900, checkup_date=last_month)  # not delivered: held, not billed
    DeliveryFactory(insurer=contract_a.insurer, created_at=received + dt.timedelta(days=1), records=[record])
    page = _home(user_client(Role.AGENCY_ADMIN))
    assert "月次締め" in page and "締めまで" in page
    assert _figure(page, "請求見込み額（円）") == "6,500"
    assert "安全管理の自動確認" in page


def test_auditor_home_shows_anomalies_and_the_review_due(user_client: Callable[..., Client]) -> None:
    client = user_client(Role.AUDITOR)
    assert client.get(reverse("intake:warning_queue")).status_code == 403  # a denial: an anomaly
    page = _home(client)
    assert int(_figure(page, "拒否されたアクセス")) >= 1
    assert _figure(page, "前回の確認") == "未実施"
    assert AuditEvent.objects.filter(outcome="denied").exists()


def test_text_figures_keep_their_digits_and_chart_grid_lines_fall_on_whole_numbers(user_client: Callable[..., Client]) -> None:
    page = _home(user_client(Role.AGENCY_ADMIN))
    month = _figure(page, "次の締め")
    assert re.match(r"\d{4}-\d{2}（\d{2}/\d{2} \d{2}:\d{2}）", month), month  # not "2,026-11"
    for top, labels in ((1, ["0", "1"]), (2, ["0", "1", "2"]), (5, ["0", "1", "2", "3", "4", "5"]),
                        (7, ["0", "2", "4", "6", "8", "10"])):
        svg = str(stacked_bars(title="t", categories=["4月"], series=[Series("受理", [top])]))
        assert re.findall(r'text-anchor="end">([\d,]+)</text>', svg) == labels, top


def _records(contract: Any, n: int, *, received: dt.datetime) -> None:
    """``n`` records of ``contract``'s institution and insurer in one submission, half of them delivered."""
    submission = SubmissionFactory(institution=contract.institution, received_at=received, status="accepted")
    records = [RecordFactory(submission=submission, insurer=contract.insurer, recount=False) for _ in range(n)]
    DeliveryFactory(insurer=contract.insurer, created_at=received + dt.timedelta(hours=1), records=records[: n // 2])


def _queries(client: Client, django_assert_max_num_queries: Any, limit: int) -> None:
    with django_assert_max_num_queries(limit):
        _home(client)


@pytest.mark.parametrize("role", [Role.AGENCY_CLERK, Role.AGENCY_ADMIN, Role.INSTITUTION_STAFF, Role.INSURER_STAFF,
                                  Role.AUDITOR])
def test_home_page_queries_do_not_grow_with_the_records(role: Role, user_client: Callable[..., Client], contract_a: Any,
                                                        django_assert_max_num_queries: Any) -> None:
    """Each home page's figures are aggregates: the same queries at 4 records and at 40 (over several days and months)."""
    tenant = {Role.INSTITUTION_STAFF: {"institution": contract_a.institution},
              Role.INSURER_STAFF: {"insurer": contract_a.insurer}}.get(role, {})
    client = user_client(role, **tenant)
    now = timezone.now()
    _records(contract_a, 4, received=now - dt.timedelta(days=1))
    with CaptureQueriesContext(connection) as small:
        _home(client)
    for days in (0, 3, 20, 45, 90):
        _records(contract_a, 8, received=now - dt.timedelta(days=days))
    _queries(client, django_assert_max_num_queries, len(small))


def test_clerk_home_counts_today_from_local_midnight(user_client: Callable[..., Client], contract_a: Any) -> None:
    """本日 and 直近14日 are local (Asia/Tokyo) days: a record checked just after midnight counts today, one checked a
    minute before midnight counts yesterday."""
    client = user_client(Role.AGENCY_CLERK)
    midnight = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))
    if timezone.now() - midnight < dt.timedelta(minutes=1):
        pytest.skip("the run started within a minute of midnight")  # the record 'after midnight' would be in the future
    submission = SubmissionFactory(institution=contract_a.institution, received_at=midnight - dt.timedelta(hours=1),
                                   status="accepted")
    RecordFactory(submission=submission, insurer=contract_a.insurer, checked_at=midnight + dt.timedelta(seconds=30))
    RecordFactory(submission=submission, insurer=contract_a.insurer, checked_at=midnight - dt.timedelta(minutes=1))
    RecordFactory(submission=submission, insurer=contract_a.insurer, status=RecordStatus.RETURNED,
                  checked_at=midnight - dt.timedelta(days=14, seconds=1))  # before the 14 days shown
    page = _home(client)
    assert _figure(page, "本日 受理") == "1"
    assert _figure(page, "本日 返戻") == "0"
    table = re.findall(r"<tr><t[hd][^>]*>([^<]*)</t[hd]><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td></tr>", page)
    assert sum(int(accepted) for _, accepted, _ in table) == 2
    assert sum(int(returned) for _, _, returned in table) == 0
