"""Each role's main flow in Chromium, as people work: every page passed is kept as a screenshot under
test-output/browser-flows/<role>/, and fails on internal names or a sideways scroll bar at 1280 px."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from agency.demo import AGENCY, DEMO_PASSWORD
from agency.models import Role
from billing import calendar
from billing.models import BillingMonth, Invoice
from intake.models import Finding, Record, RecordStatus
from portal.demo import seed_demo
from routing.models import InsurerReturn

from ..factories import (
    AgencyProfileFactory,
    ContractFactory,
    DeliveryFactory,
    FindingFactory,
    RecordFactory,
    SubmissionFactory,
    UserFactory,
)
from ..intake.helpers import make_archive
from .browser import CHROMIUM, launch, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def playwright(monkeypatch: pytest.MonkeyPatch) -> Any:
    # Playwright's sync API runs an event loop in this thread; the test's own database reads between
    # steps are plain synchronous ORM calls, which Django then allows only when told so.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        browser = launch(running)
        try:
            yield browser
        finally:
            browser.close()


def test_institution_uploads_reads_the_error_list_works_returns_and_resubmits(
    live_server: Any, playwright: Any, tmp_path: Path
) -> None:
    AgencyProfileFactory(**AGENCY)
    contract = ContractFactory()
    user = UserFactory(role=Role.INSTITUTION_STAFF, institution=contract.institution)
    first = make_archive(contract, records=5, seed=3)
    walk = log_in(playwright, live_server.url, user, "institution")

    def upload(archive: Any, label: str) -> None:
        path = tmp_path / archive.filename
        path.write_bytes(archive.data)
        walk.goto("/intake/upload/", f"{label}-upload")
        walk.page.set_input_files("input[name=archives]", str(path))
        with walk.page.expect_navigation(url="**/intake/submissions/*/"):
            walk.page.click("form[data-upload-form] button[type=submit]")
        walk.page.wait_for_selector("text=受付エラー連絡表")
        walk.check(f"{label}-result")

    upload(first, "first")
    returned = list(Record.objects.filter(status=RecordStatus.RETURNED).order_by("position"))
    assert returned
    walk.click("a[href$='/errors/']", "error-list")
    table = walk.page.inner_text("[data-testid=error-list]")
    for record in returned:
        assert record.ticket_number in table and record.name_kana in table
    walk.click("nav a:has-text('返戻一覧')", "returns")
    assert "未再提出" in walk.page.inner_text("[data-testid=return-list]")
    walk.page.select_option("#id_reason", returned[0].findings.filter(severity="error").first().return_reason)
    walk.click("form.filters button[type=submit]", "returns-filtered")

    corrected = make_archive(contract, records=5, seed=3, defects=())  # the same people, the defects corrected
    upload(corrected, "resubmission")
    walk.goto("/intake/returns/?resubmitted=yes", "returns-resubmitted")
    assert "再提出済" in walk.page.inner_text("[data-testid=return-list]")
    walk.click(f"a[href='/intake/records/{returned[0].pk}/']", "returned-record")
    assert "訂正・再提出の経過" in walk.page.inner_text("main")


def test_clerk_works_the_warnings_queue(live_server: Any, playwright: Any) -> None:
    contract = ContractFactory()
    record = RecordFactory(submission=SubmissionFactory(institution=contract.institution, status="accepted"),
                           insurer=contract.insurer, name_kana="ｹｲｺｸ ﾀﾛｳ")
    warning = FindingFactory(record=record)
    walk = log_in(playwright, live_server.url, UserFactory(role=Role.AGENCY_CLERK), "clerk")
    walk.click("main a[href='/intake/warnings/']", "warnings")
    assert "送付を保留中" in walk.page.inner_text("[data-testid=warning-queue]")
    walk.click("[data-testid=warning-queue] a.button", "override")
    walk.page.fill("#id_reason", "健診機関に確認し、値は正しいことを確認した")
    walk.click("main form button[type=submit]", "record-after-override")
    warning.refresh_from_db()
    assert warning.overridden_at is not None
    walk.goto("/intake/warnings/", "warnings-empty")
    assert "未確認の警告はありません" in walk.page.inner_text("main")


def test_insurer_opens_a_delivery_reads_a_record_and_returns_it(live_server: Any, playwright: Any) -> None:
    """On the demo's history: archives generated, received and checked by intake, routed into real deliveries."""
    users = {user.username: user for user in seed_demo()}
    insurer_user = users["demo-insurer"]
    record = (
        Record.objects.filter(delivery_item__delivery__insurer=insurer_user.insurer, status=RecordStatus.ACCEPTED,
                              insurer_return__isnull=True)
        .select_related("delivery_item__delivery").order_by("-delivery_item__delivery__created_at", "position").first()
    )
    assert record is not None and record.submission.archive.size > 0
    delivery = record.delivery_item.delivery
    walk = log_in(playwright, live_server.url, insurer_user, "insurer", password=DEMO_PASSWORD)
    walk.click("nav a:has-text('振分')", "deliveries")
    walk.click(f"a[href='/insurer/deliveries/{delivery.pk}/']", "delivery")
    walk.click(f"a[href='/insurer/records/{record.pk}/']", "record")
    walk.goto(f"/insurer/records/{record.pk}/return/", "return-form")
    walk.page.select_option("#id_reason", "03")
    walk.page.fill("#id_note", "受診者氏名のカナが当組合の記録と異なります")
    walk.click("main form button[type=submit]", "record-returned")
    returned = InsurerReturn.objects.get(record=record)
    assert returned.archive_id is not None and returned.reason == "03"
    walk.goto("/insurer/returns/", "returns")
    listed = walk.page.inner_text("[data-testid=return-table]")
    for text in (record.ticket_number, record.name_kana, record.insurer_number, f"{record.birth_date:%Y-%m-%d}",
                 f"{record.checkup_date:%Y-%m-%d}", "03 受診者・利用者氏名の誤り", returned.archive_file_name):
        assert text in listed, text
    walk.page.select_option("#id_reason", "03")
    walk.click("form.filters button[type=submit]", "returns-filtered")
    assert walk.page.locator("[data-testid=return-table] tbody tr").count() == 1


def test_admin_previews_closes_a_month_and_opens_the_invoice(live_server: Any, playwright: Any) -> None:
    AgencyProfileFactory(**AGENCY)
    contract = ContractFactory()
    period = calendar.add_months(calendar.month_start(timezone.localdate()), -2)
    accepted = dt.datetime.combine(period + dt.timedelta(days=9), dt.time(10, 0), tzinfo=calendar.JST)
    record = RecordFactory(submission=SubmissionFactory(institution=contract.institution, received_at=accepted),
                           insurer=contract.insurer, claim_amount=8_000, checked_at=accepted, checkup_date=accepted.date())
    DeliveryFactory(insurer=contract.insurer, created_at=accepted + dt.timedelta(days=1), records=[record])
    walk = log_in(playwright, live_server.url, UserFactory(role=Role.AGENCY_ADMIN), "admin")
    label = calendar.period_label(period)
    walk.goto(f"/billing/months/{label}/", "month-preview")
    assert "8,000" in walk.page.inner_text("[data-testid=month-preview]")
    walk.click("[data-testid=close-month]", "month-closed")
    assert BillingMonth.objects.get(period=period).is_closed
    assert "8,000" in walk.page.inner_text("[data-testid=month-statements]")
    invoice = Invoice.objects.get(month__period=period)
    response = walk.page.request.get(f"{live_server.url}/billing/invoices/{invoice.pk}/invoice.pdf")
    assert response.ok and response.body().startswith(b"%PDF-")
    walk.click(f"a[href='/billing/invoices/{invoice.pk}/']", "invoice")

    # 設定: a new clerk's account, made in the portal (the Django admin is for superusers only).
    walk.click("nav a:has-text('設定')", "settings-users")
    walk.click("[data-testid=user-create]", "user-create")
    walk.page.fill("#id_username", "jimu-hanako")
    walk.page.fill("#id_last_name", "事務")
    walk.page.fill("#id_first_name", "花子")
    walk.page.select_option("#id_role", "agency_clerk")
    walk.page.check("input[name=password_mode][value=temporary]")
    walk.page.fill("#id_password1", "Kari#Pass-2026xz")
    walk.page.fill("#id_password2", "Kari#Pass-2026xz")
    walk.click("[data-testid=settings-form] button[type=submit]", "user-created")
    assert "仮パスワード（次回ログイン時に変更）" in walk.page.inner_text("[data-testid=user-detail]")
    walk.goto(f"/parties/contracts/{contract.pk}/edit/", "contract-edit")
    walk.goto(f"/parties/institutions/{contract.institution.number}/", "institution")


def test_auditor_searches_verifies_and_signs(live_server: Any, playwright: Any) -> None:
    walk = log_in(playwright, live_server.url, UserFactory(role=Role.AUDITOR), "auditor")
    walk.click("nav a:has-text('安全管理')", "compliance")
    walk.goto("/audit/", "audit-log")
    walk.click("form.filters button[type=submit]", "audit-search")
    assert "ログイン" in walk.page.inner_text("main")
    walk.goto("/audit/verify/", "verify")
    walk.click("main form button[type=submit]", "verified")
    walk.goto("/audit/reviews/sign/", "sign")
    today = timezone.localdate()
    walk.page.fill("#id_period_start", (today - dt.timedelta(days=30)).isoformat())
    walk.page.fill("#id_period_end", today.isoformat())
    walk.page.fill("#id_notes", "期間内の拒否とロックを確認し、問題はなかった。")
    walk.click("main form button[type=submit]", "signed")
    assert Finding is not None
