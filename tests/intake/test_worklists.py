"""Work lists: the 返戻一覧 across submissions, an institution's own record search, the queue of unconfirmed
warnings, and delivery held back until a warning is confirmed (per insurer)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Role
from audit.models import AuditEvent
from intake.models import Finding, Record, RecordStatus, Submission, SubmissionStatus
from kenshin import labels
from kenshin.items import item_master
from routing.selectors import routable_records, routing_plan

from ..factories import FindingFactory, RecordFactory, SubmissionFactory

pytestmark = pytest.mark.django_db


def _csv(response: Any) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_return_list_shows_own_returns_with_reason_fix_and_resubmission(
    user_client: Callable[..., Client], submission_a: Submission, contract_b: Any
) -> None:
    returned = list(Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).order_by("position"))
    assert returned
    foreign = RecordFactory(submission__institution=contract_b.institution, insurer=contract_b.insurer,
                            status=RecordStatus.RETURNED, name_kana="ﾀｼｬ ﾀﾛｳ")
    corrected = RecordFactory(submission__institution=submission_a.institution, insurer=returned[0].insurer,
                              replaces=returned[0], ticket_number=returned[0].ticket_number)
    client = user_client(Role.INSTITUTION_STAFF)
    page = client.get(reverse("intake:return_list")).content.decode()
    for record in returned:
        assert record.name_kana in page
        assert record.ticket_number in page
    assert foreign.name_kana not in page
    assert "有効期限外" in page or "窓口負担金額不備" in page
    assert "受診券の有効期限" in page or "窓口負担" in page  # the 対処方法
    assert reverse("intake:record_detail", args=[corrected.pk]) in page  # the resubmission chain
    assert AuditEvent.objects.filter(action="intake.returns.view").exists()

    reason = Finding.objects.filter(record=returned[0], severity="error").first().return_reason
    header, *rows = _csv(client.get(reverse("intake:return_list_csv"), {"reason": reason}))
    assert header[:9] == ["受領番号", "順番", "受付日", "健診機関番号", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日"]
    assert rows and all(reason in row[10] for row in rows)
    assert {row[4] for row in rows} <= {record.ticket_number for record in returned}
    export = AuditEvent.objects.filter(action="intake.returns.export").get()
    assert export.detail["filters"] == {"reason": reason}
    assert sorted(export.object_ids) == sorted(str(r.pk) for r in returned if reason in {
        f.return_reason for f in r.findings.filter(severity="error")})

    resubmitted = _csv(client.get(reverse("intake:return_list_csv"), {"resubmitted": "yes"}))[1:]
    assert [row[1] for row in resubmitted] == [str(returned[0].position)]
    assert resubmitted[0][-1] == f"{corrected.submission.receipt_number}#{corrected.position}"


def test_submission_page_filters_its_returned_records(user_client: Callable[..., Client], submission_a: Submission) -> None:
    client = user_client(Role.INSTITUTION_STAFF)
    page = client.get(reverse("intake:submission_detail", args=[submission_a.pk]), {"status": "returned"}).content.decode()
    for record in Record.objects.filter(submission=submission_a):
        link = f'href="{reverse("intake:record_detail", args=[record.pk])}"'
        assert (link in page) == (record.status == RecordStatus.RETURNED), record.position


def test_own_record_search_finds_only_own_records(
    user_client: Callable[..., Client], submission_a: Submission, contract_b: Any
) -> None:
    record = Record.objects.filter(submission=submission_a).first()
    other = RecordFactory(submission__institution=contract_b.institution, insurer=contract_b.insurer,
                          ticket_number=record.ticket_number)
    client = user_client(Role.INSTITUTION_STAFF)
    page = client.get(reverse("intake:record_search"), {"ticket_number": record.ticket_number}).content.decode()
    assert reverse("intake:record_detail", args=[record.pk]) in page
    assert reverse("intake:record_detail", args=[other.pk]) not in page
    header, *rows = _csv(client.get(reverse("intake:record_search_csv"), {"name_kana": record.name_kana.split()[0]}))
    assert header[3] == "受診券整理番号"
    assert record.ticket_number in {row[3] for row in rows}
    assert AuditEvent.objects.filter(action="intake.record.export").exists()


def _accepted_with_warning(contract: Any, *, waits: bool = True) -> tuple[Record, Finding]:
    contract.insurer.delivery_waits_for_confirmation = waits
    contract.insurer.save()
    submission = SubmissionFactory(institution=contract.institution, status=SubmissionStatus.ACCEPTED)
    record = RecordFactory(submission=submission, insurer=contract.insurer)
    return record, FindingFactory(record=record)


def test_warning_queue_lists_unconfirmed_warnings_and_delivery_waits_for_them(
    user_client: Callable[..., Client], contract_a: Any
) -> None:
    record, warning = _accepted_with_warning(contract_a)
    FindingFactory(record=record, code="XML_SCHEMA_UNAVAILABLE", message="XMLスキーマが設定されていないためスキーマ検証を行っていません")
    assert record not in routable_records()
    row = next(row for row in routing_plan(record.submission) if row.record.pk == record.pk)
    assert row.code == "awaiting_confirmation"
    assert "未確認の警告" in row.message

    clerk = user_client(Role.AGENCY_CLERK)
    page = clerk.get(reverse("intake:warning_queue")).content.decode()
    assert f"{reverse('intake:record_override', args=[record.pk])}?finding={warning.pk}" in page
    assert "送付を保留中" in page
    assert "スキーマが設定されていない" not in page  # the agency's own configuration is not a warning to confirm
    override = clerk.post(reverse("intake:record_override", args=[record.pk]),
                          {"finding": warning.pk, "reason": "保険者に確認済み"})
    assert override.status_code == 302
    assert record in routable_records()
    assert "未確認の警告はありません" in clerk.get(reverse("intake:warning_queue")).content.decode()


def test_an_insurer_that_does_not_wait_gets_records_with_warnings(contract_a: Any) -> None:
    record, _warning = _accepted_with_warning(contract_a, waits=False)
    assert record in routable_records()


def test_the_warning_queue_is_for_agency_staff(user_client: Callable[..., Client]) -> None:
    assert user_client(Role.INSTITUTION_STAFF).get(reverse("intake:warning_queue")).status_code == 403
    assert user_client(Role.INSURER_STAFF).get(reverse("intake:warning_queue_csv")).status_code == 403


def test_coded_values_are_shown_with_their_meaning() -> None:
    assert labels.answer_text("1.2.392.200119.6.24060", "3") == "いいえ（3）"  # 喫煙
    assert labels.answer_text("1.2.392.200119.6.24040", "6") == "月に1日未満（6）"  # 飲酒
    assert labels.answer_text("1.2.392.200119.6.18030", "2") == "かみにくい（2）"  # 咀嚼
    assert labels.coded(labels.CLAIM_TYPE, "1") == "基本的な健診（1）"
    assert labels.answer_text("1.2.392.200119.6.24060", "9") == "9"  # an unknown code stays as written


def test_every_coded_item_has_the_meaning_of_every_answer_code() -> None:
    missing = [
        (item.code, code)
        for item in item_master() if item.xml_type in ("CD", "CO")
        for code in item.answer_codes if not labels.answer_label(item.answer_oid, code)
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("role", "shown"),
    [(Role.AUDITOR, False), (Role.AGENCY_ADMIN, False), (Role.INSURER_STAFF, True), (Role.INSTITUTION_STAFF, True)],
)
def test_notification_settings_only_for_roles_that_receive_notices(
    role: Role, shown: bool, user_client: Callable[..., Client]
) -> None:
    # The 設定 group is the current one on the users' and parties' pages: its entries are listed.
    page = user_client(role).get(reverse("parties:user_list" if role == Role.AUDITOR else "parties:contract_list" if role != Role.AGENCY_ADMIN else "parties:user_list"))
    assert page.status_code == 200
    assert ('href="/insurer/notifications/"' in page.content.decode()) == shown
