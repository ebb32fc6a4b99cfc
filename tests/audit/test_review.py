"""Periodic review of the audit log: the anomaly report, and the sign-off the dashboard probe reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agency.models import Role, User
from audit import anomalies
from audit.models import AuditEvent, Outcome
from audit.services import audit_record
from compliance import probes
from compliance.models import AuditReviewSignoff, ProbeResult, ProbeStatus

from ..conftest import login_verified

pytestmark = pytest.mark.django_db

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUDITOR, username="auditor-a")


@pytest.fixture
def auditor_client(auditor: User) -> Client:
    return login_verified(Client(), auditor)


def _at(moment: dt.datetime, **kwargs: Any) -> AuditEvent:
    with time_machine.travel(moment, tick=False):
        return audit_record(**kwargs)


def test_anomaly_report_finds_each_kind(make_user: Callable[..., User]) -> None:
    clerk = make_user(Role.AGENCY_CLERK, username="clerk-night")
    busy = make_user(Role.AGENCY_CLERK, username="clerk-busy")
    emergency = make_user(Role.AGENCY_CLERK, username="emergency-9")
    monday_noon = dt.datetime(2026, 11, 16, 12, 0, tzinfo=JST)
    _at(monday_noon, action="intake.record.view", actor=clerk, object_type="record", object_ids=[1])
    _at(dt.datetime(2026, 11, 16, 23, 30, tzinfo=JST), action="intake.record.view", actor=clerk, object_type="record", object_ids=[2])
    _at(dt.datetime(2026, 11, 15, 10, 0, tzinfo=JST), action="intake.record.view", actor=clerk, object_type="record", object_ids=[3])  # Sunday
    for day in range(3):
        for _n in range(5):
            _at(monday_noon + dt.timedelta(days=day), action="intake.submission.view", actor=busy)
    for _n in range(30):
        _at(monday_noon + dt.timedelta(days=3), action="intake.submission.view", actor=busy)
    _at(monday_noon, action="access.denied", actor=clerk, outcome=Outcome.DENIED, object_type="record", object_ids=[9])
    _at(monday_noon, action="auth.lockout", actor_label="guessed-name", outcome=Outcome.DENIED)
    _at(monday_noon, action="intake.record.view", actor=emergency, object_type="record", object_ids=[5])
    _at(monday_noon, action="audit.events.exported", actor=busy, detail={"count": 5000})
    _at(monday_noon, action="intake.records.listed", actor=clerk, object_type="record", object_ids=list(range(150)))

    report = anomalies.build(
        start=dt.datetime(2026, 11, 14, tzinfo=JST), end=dt.datetime(2026, 11, 21, tzinfo=JST),
        emergency_user_ids=[emergency.pk],
        thresholds=anomalies.Thresholds(business_hours=(8, 20), spike_factor=3, spike_min_events=20, bulk_min_records=100),
    )
    assert report.after_hours.total == 2
    assert dict(report.after_hours.by_actor) == {"clerk-night": 2}
    assert [(s.actor_label, s.count, s.baseline) for s in report.spikes] == [("clerk-busy", 30, 5.0)]
    assert report.denials.total == 1 and report.denials.events[0]["action"] == "access.denied"
    assert report.lockouts.total == 1 and report.lockouts.events[0]["actor_label"] == "guessed-name"
    assert report.break_glass.total == 1 and report.break_glass.events[0]["actor_label"] == "emergency-9"
    assert sorted(e["action"] for e in report.bulk.events) == ["audit.events.exported", "intake.records.listed"]
    assert report.anything


def test_anomaly_page(auditor_client: Client, make_user: Callable[..., User]) -> None:
    audit_record(action="auth.lockout", actor_label="someone", outcome=Outcome.DENIED)
    today = timezone.localdate()
    response = auditor_client.get(reverse("audit:anomalies"), {"date_from": today - dt.timedelta(days=1), "date_to": today})
    assert response.status_code == 200
    assert response.context["report"].lockouts.total == 1
    assert "someone" in response.content.decode()
    assert AuditEvent.objects.filter(action="audit.anomalies.viewed").exists()


def test_signoff_fixes_the_last_event_of_the_period(auditor_client: Client, auditor: User) -> None:
    first = _at(dt.datetime(2026, 10, 5, 10, 0, tzinfo=JST), action="test.event", actor_label="system")
    last_in_period = _at(dt.datetime(2026, 10, 31, 23, 59, tzinfo=JST), action="test.event", actor_label="system")
    _at(dt.datetime(2026, 11, 1, 0, 1, tzinfo=JST), action="test.event", actor_label="system")
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=JST)):
        response = auditor_client.post(reverse("audit:review_sign"), {
            "period_start": "2026-10-01", "period_end": "2026-10-31", "notes": "異常なし。夜間アクセス1件は障害対応。",
        })
        assert response.status_code == 302
        signoff = AuditReviewSignoff.objects.get()
        assert signoff.last_seq == last_in_period.seq
        assert signoff.last_hash == last_in_period.row_hash
        assert signoff.events_count == 2
        assert first.seq < signoff.last_seq
        assert signoff.chain_intact
        assert signoff.reviewer == auditor
        assert AuditEvent.objects.filter(action="audit.review.signed", detail__last_hash=last_in_period.row_hash).exists()
        # the dashboard probe reads the sign-off at once
        assert ProbeResult.objects.filter(probe="audit_review").latest("id").status == ProbeStatus.PASS
        page = auditor_client.get(reverse("audit:review_list")).content.decode()
        assert last_in_period.row_hash in page
    with time_machine.travel(dt.datetime(2026, 12, 4, 9, 0, tzinfo=JST)):
        assert probes.measure("audit_review").status == ProbeStatus.FAIL


def test_signoff_rules(auditor_client: Client) -> None:
    response = auditor_client.post(reverse("audit:review_sign"), {"period_start": "2026-10-31", "period_end": "2026-10-01",
                                                                  "notes": "x"})
    assert response.status_code == 200
    assert "終了日は開始日以降" in response.content.decode()
    future = timezone.localdate() + dt.timedelta(days=10)
    response = auditor_client.post(reverse("audit:review_sign"), {"period_start": future, "period_end": future, "notes": "x"})
    assert "これから始まる期間" in response.content.decode()
    assert not AuditReviewSignoff.objects.exists()


def test_only_auditors_sign(user_client: Callable[..., Client]) -> None:
    for role in (Role.AGENCY_ADMIN, Role.AGENCY_CLERK, Role.MAINTENANCE):
        assert user_client(role).post(reverse("audit:review_sign"), {"notes": "x"}).status_code == 403
    assert not AuditReviewSignoff.objects.exists()


def _summary(report: anomalies.Report) -> dict[str, Any]:
    kinds = ("after_hours", "denials", "lockouts", "break_glass", "bulk")
    return {
        **{kind: (getattr(report, kind).total, dict(getattr(report, kind).by_actor),
                  [e["seq"] for e in getattr(report, kind).events]) for kind in kinds},
        "spikes": [(s.actor_label, s.day, s.count, s.baseline) for s in report.spikes],
    }


def test_auditor_home_counts_anomalies_in_a_fixed_number_of_queries(
    auditor: User, make_user: Callable[..., User], django_assert_max_num_queries: Any
) -> None:
    """The week's anomalies are counted by the database: more ordinary events change neither the number of queries
    the auditor's home runs nor the anomalies it finds."""
    clerk = make_user(Role.AGENCY_CLERK, username="clerk-night")
    staff = [make_user(Role.AGENCY_CLERK, username=f"clerk-{n}") for n in range(3)]
    friday_noon = dt.datetime(2026, 11, 20, 12, 0, tzinfo=JST)
    _at(dt.datetime(2026, 11, 17, 22, 0, tzinfo=JST), action="intake.record.view", actor=clerk, object_type="record",
        object_ids=[1])
    _at(dt.datetime(2026, 11, 15, 10, 0, tzinfo=JST), action="intake.record.view", actor=clerk, object_ids=[2])  # Sunday
    _at(friday_noon - dt.timedelta(days=1), action="access.denied", actor=clerk, outcome=Outcome.DENIED)
    _at(friday_noon - dt.timedelta(days=2), action="auth.lockout", actor_label="guessed-name", outcome=Outcome.DENIED)
    _at(friday_noon - dt.timedelta(days=2), action="intake.records.listed", actor=clerk, object_ids=list(range(120)))
    _at(friday_noon - dt.timedelta(days=2), action="audit.events.exported", actor=clerk, detail={"count": 500})
    _at(friday_noon - dt.timedelta(days=2), action="audit.events.exported", actor=clerk, detail={"count": "500"})
    week = {"start": friday_noon - dt.timedelta(days=7), "end": friday_noon}
    with time_machine.travel(friday_noon, tick=False):
        client = login_verified(Client(), auditor)
        page = client.get(reverse("home")).content.decode()
        before = _summary(anomalies.build(**week))
        with CaptureQueriesContext(connection) as small:
            client.get(reverse("home"))
    assert before["after_hours"][:2] == (2, {"clerk-night": 2})
    assert before["denials"][0] == 1 and before["lockouts"][0] == 1 and before["bulk"][0] == 2
    assert "時間外の操作" in page
    for day in range(1, 5):  # ordinary weekday business-hours work by three clerks
        for user in staff:
            for n in range(10):
                _at(friday_noon - dt.timedelta(days=day, minutes=n), action="intake.record.view", actor=user,
                    object_type="record", object_ids=[n])
    with time_machine.travel(friday_noon, tick=False):
        with django_assert_max_num_queries(len(small)):
            client.get(reverse("home"))
        assert _summary(anomalies.build(**week)) == before
