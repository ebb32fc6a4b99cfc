"""Audit review pages: search and filter, one event in context, CSV export (itself audited), chain check."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from agency.models import Role, User
from audit import dbguards
from audit.models import AuditEvent, Outcome
from audit.services import audit_checkpoint_write, audit_record
from compliance.models import ProbeResult, ProbeStatus
from compliance.views import audit as audit_views

from ..conftest import login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUDITOR, username="auditor-a")


@pytest.fixture
def auditor_client(auditor: User) -> Client:
    return login_verified(Client(), auditor)


@pytest.fixture
def events(make_user: Callable[..., User]) -> dict[str, Any]:
    clerk = make_user(Role.AGENCY_CLERK, username="clerk-x")
    staff = make_user(Role.INSTITUTION_STAFF, username="inst-y")
    return {
        "view": audit_record(action="intake.record.view", actor=clerk, object_type="record", object_ids=[101, 102]),
        "denied": audit_record(action="access.denied", actor=staff, outcome=Outcome.DENIED, object_type="record",
                               object_ids=[101]),
        "other": audit_record(action="party.institution.view", actor=clerk, object_type="institution", object_ids=[7]),
    }


def _seqs(response: Any) -> set[int]:
    return {event.seq for event in response.context["page"]}


def test_search_and_filters(auditor_client: Client, events: dict[str, Any]) -> None:
    url = reverse("audit:event_list")
    everything = _seqs(auditor_client.get(url))
    assert {e.seq for e in events.values()} <= everything
    assert _seqs(auditor_client.get(url, {"actor": "clerk-x"})) == {events["view"].seq, events["other"].seq}
    assert _seqs(auditor_client.get(url, {"role": Role.INSTITUTION_STAFF})) >= {events["denied"].seq}
    assert events["view"].seq not in _seqs(auditor_client.get(url, {"role": Role.INSTITUTION_STAFF}))
    assert _seqs(auditor_client.get(url, {"tenant": "institution:"})) >= {events["denied"].seq}
    assert _seqs(auditor_client.get(url, {"action": "intake.record"})) == {events["view"].seq}
    assert _seqs(auditor_client.get(url, {"object_type": "record", "object_id": "101"})) == {events["view"].seq, events["denied"].seq}
    assert _seqs(auditor_client.get(url, {"object_id": "10"})) == set()  # whole identifiers, not substrings
    assert events["denied"].seq in _seqs(auditor_client.get(url, {"outcome": Outcome.DENIED}))
    assert events["view"].seq not in _seqs(auditor_client.get(url, {"outcome": Outcome.DENIED}))
    assert _seqs(auditor_client.get(url, {"date_from": "2000-01-01", "date_to": "2000-01-02"})) == set()
    # the search is itself audited, with its filters
    searched = AuditEvent.objects.filter(action="audit.events.searched").order_by("-seq").first()
    assert searched.detail["filters"] == {"date_from": "2000-01-01", "date_to": "2000-01-02"}


def test_list_query_count_does_not_grow_with_events(auditor_client: Client, events: dict[str, Any],
                                                    django_assert_max_num_queries: Any) -> None:
    for n in range(60):
        audit_record(action="test.bulk", actor_label="system", detail={"n": n})
    with django_assert_max_num_queries(16):  # 15 on SQLite; PostgreSQL adds the audit chain lock
        response = auditor_client.get(reverse("audit:event_list"))
    assert len(response.context["page"]) == 50


def test_the_search_counts_up_to_a_cap_and_says_there_are_more(
    auditor_client: Client, events: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_views, "COUNT_CAP", 2)
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 1)
    url = reverse("audit:event_list")
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = auditor_client.get(url)
    page = response.context["page"]
    assert page.paginator.capped and page.paginator.count == 2 and page.paginator.num_pages == 2
    assert "2 件以上" in response.content.decode()
    assert _seqs(response) == {newest}  # newest first, as without the cap (the search's own event comes after)
    narrowed = auditor_client.get(url, {"actor": "inst-y"})
    assert not narrowed.context["page"].paginator.capped and narrowed.context["page"].paginator.count == 1
    assert "件以上" not in narrowed.content.decode()


def test_event_detail_with_context(auditor_client: Client, events: dict[str, Any]) -> None:
    event = events["denied"]
    response = auditor_client.get(reverse("audit:event_detail", args=[event.seq]))
    assert response.status_code == 200
    assert response.context["hash_ok"] is True
    assert response.context["link_ok"] is True
    body = response.content.decode()
    assert event.row_hash in body
    assert "access.denied" in body
    assert auditor_client.get(reverse("audit:event_detail", args=[999_999])).status_code == 404


def test_event_detail_shows_a_tampered_row(auditor_client: Client, events: dict[str, Any]) -> None:
    dbguards.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [events["view"].seq])
    finally:
        dbguards.install(connection)
    response = auditor_client.get(reverse("audit:event_detail", args=[events["view"].seq]))
    assert response.context["hash_ok"] is False
    assert "内容とハッシュが一致しません" in response.content.decode()


def test_csv_export_of_a_range_is_audited(auditor_client: Client, events: dict[str, Any]) -> None:
    response = auditor_client.get(reverse("audit:event_export"), {"actor": "clerk-x"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == [events["view"].seq, events["other"].seq]
    assert rows[0]["row_hash"] == events["view"].row_hash
    assert rows[0]["object_ids"] == '["101", "102"]'
    export = AuditEvent.objects.get(action="audit.events.exported")
    assert export.detail["count"] == 2
    assert export.detail["first_seq"] == events["view"].seq
    assert export.detail["last_seq"] == events["other"].seq
    assert export.detail["filters"] == {"actor": "clerk-x"}
    assert export.actor_label == "auditor-a"


def test_csv_neutralises_formulas(auditor_client: Client, make_user: Callable[..., User]) -> None:
    audit_record(action="auth.login_failed", actor_label="=HYPERLINK(\"x\")", outcome=Outcome.FAILURE)
    text = b"".join(auditor_client.get(reverse("audit:event_export"), {"action": "auth.login_failed"}).streaming_content)
    assert "'=HYPERLINK" in text.decode("utf-8-sig")


def test_verify_chain_button_warns_until_a_checkpoint_exists(auditor_client: Client, events: dict[str, Any]) -> None:
    auditor_client.post(reverse("audit:verify_chain"))
    result = ProbeResult.objects.get(probe="audit_chain")
    assert result.status == ProbeStatus.WARN
    assert "チェックポイントがまだありません" in result.value


def test_verify_chain_button(auditor_client: Client, events: dict[str, Any]) -> None:
    audit_checkpoint_write(reason="manual")
    response = auditor_client.post(reverse("audit:verify_chain"))
    assert response.status_code == 302
    result = ProbeResult.objects.get(probe="audit_chain")
    assert result.status == ProbeStatus.PASS
    assert AuditEvent.objects.filter(action="audit.chain.verified", detail__result="pass").exists()
    page = auditor_client.get(reverse("audit:verify_chain")).content.decode()
    assert "改ざんなし" in page


def test_who_may_see_and_export(user_client: Callable[..., Client], events: dict[str, Any]) -> None:
    clerk = user_client(Role.AGENCY_CLERK)
    assert clerk.get(reverse("audit:event_list")).status_code == 403
    assert clerk.get(reverse("audit:event_export")).status_code == 403
    admin = user_client(Role.AGENCY_ADMIN)
    assert admin.get(reverse("audit:event_list")).status_code == 200
    assert admin.get(reverse("audit:event_export")).status_code == 200
    assert admin.get(reverse("audit:review_sign")).status_code == 403  # admins do not sign their own review
    denied = AuditEvent.objects.filter(action="audit.events.exported", outcome=Outcome.DENIED)
    assert denied.count() == 1
