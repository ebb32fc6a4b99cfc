"""Every list a person filters exports what it shows as CSV, audited with the filters used; each party's export
holds its own rows only. The data are the demo's months of history (``portal.demo``)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Insurer, User
from audit.models import AuditEvent
from billing.models import ClaimsStatement, InsurerPayment, Invoice, PaymentStatement, TransferBatch
from intake.models import Record, Submission
from portal.demo import SOCIETY, seed_demo
from routing.models import Delivery, InsurerReturn

from ..conftest import login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> dict[str, User]:
    return {user.username: user for user in seed_demo()}


def _client(demo: dict[str, User], name: str) -> Client:
    return login_verified(Client(), demo[name])


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text)))


def _exported(action: str, user: User) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action, actor_id=user.pk).order_by("-seq").first()
    assert event is not None, action
    return event


def test_billing_lists_filter_by_month_and_party_and_export_what_they_show(demo: dict[str, User]) -> None:
    clerk = _client(demo, "demo-clerk")
    statements = ClaimsStatement.objects.order_by("month__period")
    month = statements.first().month
    label = month.period.strftime("%Y-%m")
    society = Insurer.objects.get(number=SOCIETY)

    page = clerk.get(reverse("billing:statement_list"), {"month": label}).content.decode()
    assert all((s.number in page) == (s.month_id == month.pk) for s in statements)
    rows = _rows(clerk.get(reverse("billing:statement_list_csv"), {"month": label, "insurer": society.pk}))
    assert rows[0][:4] == ["請求書番号", "請求年月", "保険者番号", "保険者名"]
    assert [r[0] for r in rows[1:]] == [s.number for s in statements.filter(month=month, insurer=society)]
    event = _exported("billing.statements.export", demo["demo-clerk"])
    assert event.detail["filters"] == {"month": label, "insurer": str(society.pk)}
    assert event.object_type == "claims_statement"
    settled = _rows(clerk.get(reverse("billing:statement_list_csv"), {"status": "settled"}))
    assert settled[1:] and all(row[-1] == "入金済" for row in settled[1:])

    invoices = _rows(clerk.get(reverse("billing:invoice_list_csv"), {"month": label}))
    assert sorted(r[0] for r in invoices[1:]) == sorted(i.number for i in Invoice.objects.filter(month=month, status="issued"))
    payments = _rows(clerk.get(reverse("billing:insurer_payment_list_csv"), {"insurer": society.pk}))
    assert len(payments) - 1 == InsurerPayment.objects.filter(insurer=society).count() > 0
    wrong = clerk.get(reverse("billing:insurer_payment_list_csv"), {"received_from": "2026-12-31", "received_to": "2026-01-01"})
    assert len(_rows(wrong)) == 1  # an invalid filter exports the header only

    admin = _client(demo, "demo-admin")
    transfers = _rows(admin.get(reverse("billing:transfer_list_csv")))
    assert len(transfers) - 1 == TransferBatch.objects.count() > 0
    assert "CSVで出力" in admin.get(reverse("billing:transfer_list")).content.decode()
    _exported("billing.transfers.export", demo["demo-admin"])

    # Each party exports its own documents only.
    insurer = _client(demo, "demo-insurer")
    own = _rows(insurer.get(reverse("billing:statement_list_csv")))
    assert {r[2] for r in own[1:]} == {SOCIETY}
    assert "insurer" not in insurer.get(reverse("billing:statement_list")).context["filter_form"].fields
    institution = _client(demo, "demo-institution")
    notices = _rows(institution.get(reverse("billing:payment_statement_list_csv")))
    assert {r[2] for r in notices[1:]} == {demo["demo-institution"].institution.number}
    assert len(notices) - 1 == PaymentStatement.objects.filter(institution=demo["demo-institution"].institution).count()


def test_the_insurers_return_list_names_the_person_filters_and_exports(demo: dict[str, User]) -> None:
    insurer = _client(demo, "demo-insurer")
    returned = list(InsurerReturn.objects.select_related("record").order_by("returned_at"))
    assert len(returned) == 2
    page = insurer.get(reverse("insurer:return_list")).content.decode()
    for item in returned:
        record = item.record
        for text in (record.ticket_number, record.insurer_number, record.name_kana, f"{record.birth_date:%Y-%m-%d}",
                     f"{record.checkup_date:%Y-%m-%d}", item.get_reason_display()):
            assert text in page, text
    assert "06 資格喪失後の受診" in page and "再提出済" in page and "未再提出" in page

    corrected = insurer.get(reverse("insurer:return_list"), {"resubmitted": "yes"})
    assert [i.pk for i in corrected.context["page"]] == [returned[0].pk]
    rows = _rows(insurer.get(reverse("insurer:return_list_csv"), {"reason": returned[1].reason}))
    assert rows[0][5:10] == ["受診券整理番号", "被保険者の保険者番号", "氏名カナ", "生年月日", "健診実施日"]
    assert [r[5] for r in rows[1:]] == [returned[1].record.ticket_number]
    assert rows[1][10] == returned[1].get_reason_display() and rows[1][13] == ""
    event = _exported("routing.returns.export", demo["demo-insurer"])
    assert event.detail["filters"] == {"reason": returned[1].reason} and event.object_ids == [str(returned[1].record_id)]

    institution = _client(demo, "demo-institution")
    own = _rows(institution.get(reverse("insurer:return_list_csv"), {"resubmitted": "yes"}))
    assert [r[5] for r in own[1:]] == [returned[0].record.ticket_number] and own[1][13]


def test_deliveries_and_records_of_the_insurer_and_the_intake_lists_export_csv(demo: dict[str, User]) -> None:
    insurer = _client(demo, "demo-insurer")
    society = demo["demo-insurer"].insurer
    deliveries = _rows(insurer.get(reverse("insurer:delivery_list_csv"), {"status": "acknowledged"}))
    expected = Delivery.objects.filter(insurer=society, status="acknowledged").order_by("-created_at")
    assert sorted(r[3] for r in deliveries[1:]) == sorted(d.file_name for d in expected)
    assert {r[1] for r in deliveries[1:]} == {society.number}
    _exported("routing.deliveries.export", demo["demo-insurer"])
    clinic = demo["demo-institution"].institution
    records = _rows(insurer.get(reverse("insurer:record_search_csv"), {"institution": clinic.pk}))
    routed = Record.objects.filter(delivery_item__delivery__insurer=society, institution=clinic)
    assert len(records) - 1 == routed.count() > 0
    assert {r[1] for r in records[1:]} == {society.number}
    event = _exported("routing.record.export", demo["demo-insurer"])
    assert sorted(event.object_ids) == sorted(str(pk) for pk in routed.values_list("pk", flat=True))

    clerk = _client(demo, "demo-clerk")
    submissions = _rows(clerk.get(reverse("intake:submission_list_csv"), {"status": "partially_accepted"}))
    assert len(submissions) - 1 == Submission.objects.filter(status="partially_accepted").count() > 0
    workbench = _rows(clerk.get(reverse("intake:workbench_csv"), {"code": "REC_TICKET_EXPIRED"}))
    assert workbench[1:] and all("REC_TICKET_EXPIRED" in row[-1] for row in workbench[1:])
    _exported("intake.workbench.export", demo["demo-clerk"])
    institution = _client(demo, "demo-institution")
    own = _rows(institution.get(reverse("intake:submission_list_csv")))
    assert {r[2] for r in own[1:]} == {clinic.number}
