"""Billing pages: tenant isolation, downloads, and the agency's actions (every role against every billing URL
is walked by ``tests/agency/test_permission_matrix.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import Role
from audit.models import AuditEvent, Outcome
from billing import calendar
from billing.models import BillingMonth, ClaimsStatement, InsurerPayment, Invoice, InvoiceKind, TransferBatch

from ..factories import ContractFactory, DeliveryFactory, RecordFactory
from .conftest import make_record, with_account
from .samples import SAMPLES, billing_objects

pytestmark = pytest.mark.django_db


def _own_objects(contract: Any) -> dict[str, Any]:
    record = RecordFactory(
        submission__institution=contract.institution, submission__received_at=dt.datetime(2099, 1, 10, tzinfo=dt.UTC),
        insurer=contract.insurer,
    )
    objects = {"insurer": contract.insurer, "institution": contract.institution, "contract": contract, "record": record}
    return {**objects, **billing_objects(objects)}


@pytest.mark.parametrize("role", [Role.INSURER_STAFF, Role.INSTITUTION_STAFF])
def test_another_partys_documents_answer_404_and_are_audited(role: Role, user_client: Callable[..., Client], contract_a: Any) -> None:
    other = ContractFactory()
    objects = _own_objects(other)
    client = user_client(role)
    names = ["billing:statement_detail", "billing:statement_pdf", "billing:invoice_detail", "billing:invoice_pdf"] \
        if role == Role.INSURER_STAFF else ["billing:payment_statement_detail", "billing:payment_statement_csv"]
    for name in names:
        before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
        response = client.get(reverse(name, args=SAMPLES[name](objects)))
        assert response.status_code == 404, name
        assert AuditEvent.objects.filter(outcome=Outcome.DENIED).count() == before + 1


def test_lists_show_only_the_own_partys_documents(user_client: Callable[..., Client], contract_a: Any) -> None:
    own = _own_objects(contract_a)
    foreign = ContractFactory()
    from billing.services import LineSpec, invoice_issue

    other = invoice_issue(insurer=foreign.insurer, lines=[LineSpec("other", "x", 1, 100)], period_start=dt.date(2099, 1, 1),
                          period_end=dt.date(2099, 1, 31))
    insurer_client = user_client(Role.INSURER_STAFF)
    page = insurer_client.get(reverse("billing:statement_list")).content.decode()
    assert own["claims_statement"].number in page
    invoices = insurer_client.get(reverse("billing:invoice_list")).content.decode()
    assert own["invoice"].number in invoices and other.number not in invoices
    home = insurer_client.get(reverse("billing:home")).content.decode()
    assert own["invoice"].number in home and other.number not in home
    institution_page = user_client(Role.INSTITUTION_STAFF).get(reverse("billing:payment_statement_list")).content.decode()
    assert own["payment_statement"].number in institution_page
    assert own["claims_statement"].number not in user_client(Role.INSTITUTION_STAFF).get(reverse("billing:home")).content.decode()


def test_downloads_are_audited(user_client: Callable[..., Client], contract_a: Any) -> None:
    objects = _own_objects(contract_a)
    client = user_client(Role.INSURER_STAFF)
    response = client.get(reverse("billing:invoice_pdf", args=[objects["invoice"].pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="billing.invoice.download", object_ids=[str(objects["invoice"].pk)]).exists()
    csv_rows = client.get(reverse("billing:statement_csv", args=[objects["claims_statement"].pk])).content.decode("utf-8-sig")
    header, *lines = [row.split(",") for row in csv_rows.splitlines()]
    line = objects["claims_statement"].lines.select_related("institution").get(record=objects["record"])
    row = dict(zip(header, next(r for r in lines if r[header.index("受診券整理番号")] == line.ticket_number), strict=True))
    assert row["区分"] == line.get_kind_display() and row["機関番号"] == line.institution.number
    assert row["機関名"] == line.institution.name and int(row["金額"]) == line.amount
    event = AuditEvent.objects.filter(action="billing.statement.download").latest("seq")
    assert event.object_type == "record" and str(objects["record"].pk) in event.object_ids


def test_the_agency_closes_a_month_records_a_payment_and_makes_transfers(
    user_client: Callable[..., Client], profile: Any, parties: dict[str, Any], bank_account: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The clock is not moved here (sessions time out when it jumps): the month before last is due, this month is not.
    (a, _b), (one, _two) = parties["insurers"], parties["institutions"]
    period = calendar.add_months(calendar.month_start(timezone.localdate()), -2)
    accepted = dt.datetime.combine(period + dt.timedelta(days=9), dt.time(10, 0), tzinfo=calendar.JST)
    record = make_record(insurer=a, institution=one, claim_amount=8_000, checked_at=accepted)
    DeliveryFactory(insurer=a, created_at=accepted + dt.timedelta(days=1), records=[record])
    make_record(insurer=a, institution=one, claim_amount=1_000, checked_at=timezone.now())  # this month has data too
    admin = user_client(Role.AGENCY_ADMIN)
    page = admin.get(reverse("billing:month_list")).content.decode()
    this_month = calendar.period_label(calendar.month_start(timezone.localdate()))
    assert f'<option value="{this_month}">' in page and f'<option value="{calendar.period_label(period)}">' in page
    response = admin.post(reverse("billing:month_list"), {"month": this_month}, follow=True)
    assert "より前は締められません" in response.content.decode()
    assert not BillingMonth.objects.filter(period=calendar.month_start(timezone.localdate())).exists(), "a refusal leaves nothing"
    preview = response.content.decode()  # the refusal lands on the month's page, which previews the close
    assert "締めのプレビュー" in preview and "8,000" in preview  # the delivered 8,000 (月遅れ) is billed now
    assert "保留" in preview and "1,000" in preview  # this month's 1,000 is not delivered yet: held
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("billing:month_list"), {"month": calendar.period_label(period)})
    assert response.status_code == 302
    assert BillingMonth.objects.get(period=period).is_closed
    detail = admin.get(reverse("billing:month_detail", args=[calendar.period_label(period)])).content.decode()
    assert "8,000" in detail and "事務手数料の請求書" in detail
    statement = ClaimsStatement.objects.get(insurer=a)
    page = admin.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
    assert "8,000" in page and record.ticket_number in page
    clerk = user_client(Role.AGENCY_CLERK)
    response = clerk.post(reverse("billing:insurer_payment_list"), {
        "target": f"statement:{statement.pk}", "amount": "8000", "received_on": timezone.localdate().isoformat(),
        "reference": statement.number,
    })
    assert response.status_code == 302 and InsurerPayment.objects.get().amount == 8_000
    response = admin.post(reverse("billing:transfer_list"), {"month": statement.month.pk, "transfer_date": "2099-03-25"})
    assert response.status_code == 302
    batch = TransferBatch.objects.get()
    data = admin.get(reverse("billing:transfer_file", args=[batch.pk])).content
    assert data[:3] == b"121" and len(data) == 4 * 122
    with_account(one, 9)  # a later change of the institution's account does not change the batch's file
    assert admin.get(reverse("billing:transfer_file", args=[batch.pk])).content == data


def test_invoice_cancel_page(user_client: Callable[..., Client], contract_a: Any) -> None:
    objects = _own_objects(contract_a)
    admin = user_client(Role.AGENCY_ADMIN)
    url = reverse("billing:invoice_cancel", args=[objects["invoice"].pk])
    assert admin.post(url, {"reason": ""}).status_code == 200
    response = admin.post(url, {"reason": "宛先の誤り"})
    credit = Invoice.objects.get(kind=InvoiceKind.CREDIT_NOTE)
    assert response.status_code == 302 and response["Location"] == reverse("billing:invoice_detail", args=[credit.pk])
    response = admin.post(url, {"reason": "もう一度"}, follow=True)
    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 1
    assert "取り消せません" in response.content.decode()


def test_bank_csv_upload(user_client: Callable[..., Client], contract_a: Any) -> None:
    objects = _own_objects(contract_a)
    clerk = user_client(Role.AGENCY_CLERK)
    invoice = objects["invoice"]
    data = f"入金日,金額,摘要\n2099-02-28,{invoice.total},{invoice.number}\n".encode("cp932")
    response = clerk.post(reverse("billing:bank_csv_import"), {"file": SimpleUploadedFile("nyukin.csv", data)})
    assert response.status_code == 200
    assert InsurerPayment.objects.filter(invoice=invoice).count() == 1


def test_settings_pages(user_client: Callable[..., Client], contract_a: Any) -> None:
    admin = user_client(Role.AGENCY_ADMIN)
    response = admin.post(reverse("billing:settings"), {
        "requester_code": "1234567890", "requester_name_kana": "ﾀﾞｲｺｳ", "bank_code": "0001", "bank_name_kana": "ﾐｽﾞﾎ",
        "branch_code": "001", "branch_name_kana": "ﾎﾝﾃﾝ", "account_type": "1", "account_number": "1234567",
    })
    assert response.status_code == 302
    response = admin.post(reverse("billing:insurer_terms", args=[contract_a.insurer.number]), {
        "fixed_fee_period": "monthly", "fee_fixed": "15000",
    })
    assert response.status_code == 302
    terms = contract_a.insurer.billing_terms
    assert terms.fixed_fee_period == "monthly" and terms.fee_fixed == 15_000 and terms.fee_initial is None
    assert terms.fee_per_guidance is None and terms.fee_other_checkups is False  # no guidance fee unless set
    assert AuditEvent.objects.filter(action="billing.terms.saved").exists()
    response = admin.post(reverse("billing:insurer_terms", args=[contract_a.insurer.number]), {
        "fixed_fee_period": "monthly", "fee_fixed": "15000", "fee_per_guidance": "330", "fee_other_checkups": "on",
    })
    assert response.status_code == 302
    terms.refresh_from_db()
    assert (terms.fee_per_guidance, terms.fee_other_checkups) == (330, True)
    saved = AuditEvent.objects.filter(action="billing.terms.saved").order_by("-seq").first()
    assert saved is not None and saved.detail["new"]["fee_per_guidance"] == 330
