"""The demo data: parties, one login per role and months of history made through the services, so that every
home page and list shows real figures on first start; loading it again adds nothing."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from agency.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_totp
from agency.models import AgencyProfile, Contract, Institution, Insurer, User
from audit.selectors import audit_chain_verify
from billing.models import BillingMonthStatus, ClaimsStatement, TransferBatch
from billing.services import transfer_file
from intake.models import Record, RecordStatus

pytestmark = pytest.mark.django_db

# What each role's home page must show above zero (or other than "—"/"未実施") once the demo is loaded.
HOME_FIGURES = {
    "demo-institution": ("訂正・再提出が必要な返戻", "再提出済の返戻", "受理", "返戻", "受理分の請求額（円）"),
    "demo-clerk": ("未確認の警告", "確認待ちで送付保留中の健診データ", "振分待ちの健診データ", "保険者の取得待ちの送付データ",
                   "本日 受理", "今月 受理"),
    "demo-admin": ("請求見込み件数", "請求見込み額（円）", "最後に締めた月", "未確認の警告", "本日 受理"),
    "demo-insurer": ("未取得の送付データ", "過誤返戻", "うち再提出済", "うち再提出待ち"),
    "demo-auditor": ("監査イベント", "拒否されたアクセス", "前回の確認"),
    "demo-maintenance": ("作業申請番号",),
}
# The lists each role works from, each of which must list something.
LISTS = {
    "demo-institution": ("intake:submission_list", "intake:return_list", "intake:record_search?status=accepted",
                         "billing:payment_statement_list"),
    "demo-clerk": ("intake:submission_list", "intake:warning_queue", "intake:return_list", "intake:record_search?status=returned",
                   "insurer:delivery_list", "insurer:return_list", "billing:statement_list", "billing:invoice_list",
                   "billing:payment_statement_list", "billing:insurer_payment_list"),
    "demo-admin": ("billing:month_list", "billing:transfer_list", "billing:statement_list", "billing:invoice_list",
                   "parties:user_list", "parties:insurer_list", "parties:institution_list", "parties:contract_list",
                   "audit:event_list"),
    "demo-insurer": ("insurer:delivery_list", "insurer:record_search", "insurer:return_list", "billing:statement_list",
                     "billing:invoice_list"),
    "demo-auditor": ("audit:event_list", "audit:review_list", "billing:statement_list"),
}
_ROW = re.compile(r"<tr[^>]*>(?:(?!</tr>).)*?<td(?![^>]*colspan)", re.S)


def _log_in(username: str) -> Client:
    client = Client()
    client.post(reverse("accounts:login"), {"username": username, "password": DEMO_PASSWORD})
    _secret, code = demo_totp(username)
    response = client.post(reverse("accounts:otp_verify"), {"token": code})
    assert response.status_code == 302, username
    return client


def _figure(page: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd>(?:<a href=\"[^\"]*\">)?([^<]+)", page)
    assert match, label
    return match.group(1).strip()


def _rows(page: str) -> int:
    """Rows of the page's tables that hold data (an empty table's single row spans its columns)."""
    bodies = re.findall(r"<tbody>(.*?)</tbody>", page, re.S)
    return sum(len(_ROW.findall(body)) for body in bodies)


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"agency", "audit", "intake", "routing", "billing", "compliance", "otp_totp"}
    }


def test_seed_demo_loads_months_of_history_once_and_every_role_sees_real_figures() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    loaded = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == loaded, "a second seed_demo must add nothing"

    assert AgencyProfile.objects.count() == 1
    profile = AgencyProfile.objects.get()
    assert (profile.agency_code, profile.capacity_per_year, profile.capacity_per_day) == ("91399055", 500_000, 1_370)
    assert (profile.fee_initial, profile.fee_fixed, profile.fee_per_checkup) == (200_000, 200_000, 3_500)
    assert (Insurer.objects.count(), Institution.objects.count(), Contract.objects.count()) == (2, 2, 4)
    assert User.objects.count() == len(DEMO_LOGINS)
    # The history: returns and their corrected resubmissions, 過誤, closed months, payments, a 全銀 file.
    assert Record.objects.filter(status=RecordStatus.RETURNED, replaced_by__isnull=False).count() >= 3
    assert Record.objects.filter(insurer_return__isnull=False).count() == 2
    closed = ClaimsStatement.objects.filter(month__status=BillingMonthStatus.CLOSED)
    assert closed.values("month").distinct().count() >= 2
    assert closed.filter(late_count__gt=0).exists() and closed.filter(return_count__gt=0).exists()
    batch = TransferBatch.objects.order_by("pk").first()
    assert batch is not None and transfer_file(batch).startswith(b"1")
    assert audit_chain_verify() is None

    for login in DEMO_LOGINS:
        assert login.username in out.getvalue()
        client = _log_in(login.username)
        response = client.get(reverse("home"))
        assert response.status_code == 200, login.username
        page = response.content.decode()
        for label in HOME_FIGURES[login.username]:
            value = _figure(page, label)
            assert value not in {"0", "—", "未実施", "0.0%"}, f"{login.username}: {label} = {value}"
        for name in LISTS.get(login.username, ()):
            url_name, _, query = name.partition("?")
            listed = client.get(reverse(url_name) + (f"?{query}" if query else ""))
            assert listed.status_code == 200, (login.username, name)
            assert _rows(listed.content.decode()) > 0, f"{login.username}: {name} lists nothing"


@override_settings(PORTAL_DEMO=False)
def test_demo_data_is_refused_outside_demo_mode() -> None:
    with pytest.raises(ImproperlyConfigured):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
