"""設定: the administrator's pages for accounts, insurers, institutions, contracts and API clients — every change
through a service, audited, refused in Japanese when the input is wrong, and out of reach of other roles."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import (
    Contract,
    ContractOtherItem,
    CredentialReset,
    Institution,
    InstitutionEmailSender,
    Insurer,
    Role,
    User,
)
from agency.services import user_set_active, user_update
from audit.models import AuditEvent

from ..conftest import login_verified
from ..factories import TEST_PASSWORD, ContractFactory, UserFactory

pytestmark = pytest.mark.django_db

TEMPORARY = "Kari#Pass-2026xz"
NEW = "Fresh#Chosen2024kq"


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> User:
    return make_user(Role.AGENCY_ADMIN, username="kanri-ichiro")


@pytest.fixture
def admin(admin_user: User) -> Client:
    return login_verified(Client(), admin_user)


def _last(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-seq").first()
    assert event is not None, action
    return event


def _errors(response: Any) -> str:
    return " ".join(re.findall(r'<p class="error" role="alert">([^<]+)</p>', response.content.decode()))


def _now_local() -> str:
    return timezone.localtime(timezone.now() - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")


# --- users ---------------------------------------------------------------------------------------------------------


def test_admin_creates_a_user_with_a_temporary_password(admin: Client, admin_user: User, insurer_a: Any) -> None:
    form = {"username": "hoken-taro", "last_name": "保険", "first_name": "太郎", "email": "taro@hoken.example.jp",
            "role": Role.INSURER_STAFF, "insurer": insurer_a.pk, "password_mode": "temporary",
            "password1": TEMPORARY, "password2": TEMPORARY}
    refused = admin.post(reverse("parties:user_create"), {**form, "insurer": ""})
    assert refused.status_code == 200
    assert "保険者の担当者には所属保険者を選択してください。" in _errors(refused)
    weak = admin.post(reverse("parties:user_create"), {**form, "password1": "short", "password2": "short"})
    assert weak.status_code == 200 and "13" in _errors(weak)
    assert not User.objects.filter(username="hoken-taro").exists()

    response = admin.post(reverse("parties:user_create"), form)
    person = User.objects.get(username="hoken-taro")
    assert response.status_code == 302 and response["Location"] == reverse("parties:user_detail", args=[person.pk])
    assert (person.role, person.insurer, person.must_change_password) == (Role.INSURER_STAFF, insurer_a, True)
    assert not person.is_staff and not person.is_superuser
    event = _last("account.created")
    assert event.actor_id == admin_user.pk
    assert event.detail == {"role": Role.INSURER_STAFF, "tenant": f"insurer:{insurer_a.number}", "setup": "temporary"}
    page = admin.get(reverse("parties:user_detail", args=[person.pk])).content.decode()
    assert "仮パスワード（次回ログイン時に変更）" in page and "保険 太郎" in page
    again = admin.post(reverse("parties:user_create"), {**form, "username": "Hoken-Taro"})
    assert "この利用者名は既に使われています。" in _errors(again)


def test_admin_creates_a_user_who_sets_the_password_through_an_identity_verified_link(
    admin: Client, admin_user: User, institution_a: Any
) -> None:
    form = {"username": "kenshin-hanako", "last_name": "健診", "first_name": "花子", "email": "hanako@clinic.example.jp",
            "role": Role.INSTITUTION_STAFF, "institution": institution_a.pk, "password_mode": "link",
            "method": CredentialReset.Method.IN_PERSON, "document_reference": "運転免許証 末尾4321",
            "verified_at": _now_local()}
    missing = admin.post(reverse("parties:user_create"), {**form, "document_reference": "", "email": ""})
    assert "確認書類・記録の番号を入力してください。" in _errors(missing)
    assert "パスワード設定リンクを送るメールアドレスを入力してください。" in _errors(missing)
    assert mail.outbox == []

    response = admin.post(reverse("parties:user_create"), form)
    assert response.status_code == 302
    person = User.objects.get(username="kenshin-hanako")
    assert not person.has_usable_password() and person.institution == institution_a
    entry = CredentialReset.objects.get(user=person)
    assert (entry.verified_by, entry.method, entry.document_reference) == (admin_user, "in_person", "運転免許証 末尾4321")
    [message] = mail.outbox
    assert message.to == ["hanako@clinic.example.jp"]
    link = re.search(r"https?://\S+", message.body)[0]
    assert NEW not in message.body
    visitor = Client()
    page = visitor.get(link, follow=True)
    assert page.status_code == 200 and "new_password1" in page.content.decode()
    done = visitor.post(page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    person.refresh_from_db()
    assert person.check_password(NEW)


def test_admin_changes_role_and_party_and_cannot_lock_the_agency_out(
    admin: Client, admin_user: User, insurer_a: Any, institution_a: Any
) -> None:
    person = UserFactory(role=Role.INSTITUTION_STAFF, institution=institution_a, email="x@clinic.example.jp")
    url = reverse("parties:user_edit", args=[person.pk])
    base = {"last_name": "変更", "first_name": "後", "email": "x@clinic.example.jp"}
    wrong = admin.post(url, {**base, "role": Role.INSURER_STAFF, "institution": institution_a.pk})
    assert "保険者の担当者には所属保険者を選択してください。" in _errors(wrong)
    assert "所属健診機関を選べるのは健診機関の担当者だけです。" in _errors(wrong)
    person.refresh_from_db()
    assert person.role == Role.INSTITUTION_STAFF

    response = admin.post(url, {**base, "role": Role.INSURER_STAFF, "insurer": insurer_a.pk})
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.role, person.insurer, person.institution, person.last_name) == (Role.INSURER_STAFF, insurer_a, None, "変更")
    event = _last("account.updated")
    assert event.actor_id == admin_user.pk
    assert event.detail["role"] == {"old": Role.INSTITUTION_STAFF, "new": Role.INSURER_STAFF}
    assert event.detail["tenant"] == {"old": f"institution:{institution_a.number}", "new": f"insurer:{insurer_a.number}"}
    assert "変更" not in str(event.detail)  # which details changed, never their values

    own = admin.post(reverse("parties:user_edit", args=[admin_user.pk]), {**base, "role": Role.AGENCY_CLERK})
    assert "自分自身の役割は変更できません。" in _errors(own)
    self_disable = admin.post(reverse("parties:user_status", args=[admin_user.pk]), {"reason": "退職"})
    assert "自分自身は無効にできません。" in _errors(self_disable)
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.role == Role.AGENCY_ADMIN


def test_a_disabled_user_is_logged_out_and_cannot_log_in_until_enabled(admin: Client, admin_user: User) -> None:
    person = UserFactory(role=Role.AGENCY_CLERK)
    session = login_verified(Client(), person)
    assert session.get(reverse("home")).status_code == 200
    url = reverse("parties:user_status", args=[person.pk])
    assert "理由" in admin.get(url).content.decode()
    assert admin.post(url, {"reason": ""}).status_code == 200
    assert admin.post(url, {"reason": "異動のため"}).status_code == 302
    person.refresh_from_db()
    assert not person.is_active
    assert _last("account.disabled").detail == {"reason": "異動のため"}
    assert session.get(reverse("home")).status_code == 302  # the open session ends at its next request
    fresh = Client()
    fresh.post(reverse("accounts:login"), {"username": person.username, "password": TEST_PASSWORD})
    assert "_auth_user_id" not in fresh.session

    assert admin.post(url, {"reason": "復職"}).status_code == 302
    person.refresh_from_db()
    assert person.is_active and _last("account.enabled").actor_id == admin_user.pk


def test_the_last_active_administrator_cannot_be_disabled_or_demoted(make_user: Callable[..., Any]) -> None:
    only = make_user(Role.AGENCY_ADMIN)
    UserFactory(role=Role.AGENCY_ADMIN, is_active=False)
    clerk = make_user(Role.AGENCY_CLERK)  # e.g. a job acting for the agency: the rule holds whoever acts
    with pytest.raises(ValidationError, match="有効な代行機関の管理者が他にいなくなる"):
        user_set_active(user=only, active=False, reason="退職", actor=clerk)
    with pytest.raises(ValidationError, match="有効な代行機関の管理者が他にいなくなる"):
        user_update(user=only, role=Role.AGENCY_CLERK, actor=clerk)
    only.refresh_from_db()
    assert only.is_active and only.role == Role.AGENCY_ADMIN
    second = make_user(Role.AGENCY_ADMIN)
    assert login_verified(Client(), second).post(
        reverse("parties:user_status", args=[only.pk]), {"reason": "退職"}).status_code == 302
    only.refresh_from_db()
    assert not only.is_active


def test_admin_sends_a_reset_link_after_verifying_identity(admin: Client, admin_user: User) -> None:
    person = UserFactory(role=Role.AGENCY_CLERK, email="clerk@agency.example.jp")
    url = reverse("parties:user_reset", args=[person.pk])
    future = timezone.localtime(timezone.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = admin.post(url, {"method": "call_back", "document_reference": "通話記録 1124-07", "verified_at": future})
    assert "本人確認の日時に未来の日時は指定できません。" in _errors(refused)
    assert not CredentialReset.objects.exists()
    own = admin.post(reverse("parties:user_reset", args=[admin_user.pk]),
                     {"method": "call_back", "document_reference": "通話記録", "verified_at": _now_local()})
    assert "別の管理者が本人確認を行ってください" in _errors(own)

    response = admin.post(url, {"method": "call_back", "document_reference": "通話記録 1124-07", "verified_at": _now_local()})
    assert response.status_code == 302
    person.refresh_from_db()
    assert not person.has_usable_password()
    assert [m.to for m in mail.outbox] == [["clerk@agency.example.jp"]]
    assert _last("account.reset_link_issued").actor_id == admin_user.pk
    page = admin.get(reverse("parties:user_detail", args=[person.pk])).content.decode()
    assert "通話記録 1124-07" in page and "登録電話番号への折返し" in page


# --- insurers, institutions, senders --------------------------------------------------------------------------------


def test_insurers_are_registered_with_their_check_digit_and_the_number_is_fixed_afterwards(admin: Client) -> None:
    form = {"number": "06139991", "name": "テスト健康保険組合", "contract_start": "2026-04-01", "is_active": "on",
            "delivery_waits_for_confirmation": "on"}
    bad = admin.post(reverse("parties:insurer_create"), form)
    assert "保険者番号 06139991 の検証番号（末尾1桁）が正しくありません。" in _errors(bad)
    response = admin.post(reverse("parties:insurer_create"), {**form, "number": "06139992"})
    assert response.status_code == 302
    insurer = Insurer.objects.get(number="06139992")
    assert "name" in _last("party.insurer.created").detail["changed"]
    edit = reverse("parties:insurer_edit", args=[insurer.number])
    assert admin.post(edit, {**form, "number": "01139997", "name": "改称健康保険組合"}).status_code == 302
    insurer.refresh_from_db()
    assert (insurer.number, insurer.name, insurer.delivery_waits_for_confirmation) == ("06139992", "改称健康保険組合", True)
    assert _last("party.insurer.updated").detail == {"changed": ["name"]}


def test_institutions_are_registered_with_a_complete_bank_account_in_half_width_kana(admin: Client) -> None:
    form = {"number": "1319990014", "name": "テスト健診クリニック", "bank_code": "0001", "branch_code": "001",
            "account_type": "1", "account_number": "1234567", "account_holder_kana": "ﾃｽﾄｸﾘﾆﾂｸ", "is_active": "on"}
    partial = admin.post(reverse("parties:institution_create"), {**form, "account_number": ""})
    assert "振込先口座は金融機関コード・支店コード・預金種目・口座番号・口座名義をすべて入力してください。" in _errors(partial)
    full_width = admin.post(reverse("parties:institution_create"), {**form, "account_holder_kana": "テストクリニック"})
    assert "半角カナ" in _errors(full_width)
    short = admin.post(reverse("parties:institution_create"), {**form, "account_number": "12345"})
    assert "口座番号は7桁の数字です。" in _errors(short)
    check_digit = admin.post(reverse("parties:institution_create"), {**form, "number": "1319990015"})
    assert "検証番号" in _errors(check_digit)
    assert not Institution.objects.filter(number="1319990014").exists()
    assert admin.post(reverse("parties:institution_create"), form).status_code == 302
    institution = Institution.objects.get(number="1319990014")
    assert institution.account_holder_kana == "ﾃｽﾄｸﾘﾆﾂｸ"
    assert admin.get(reverse("parties:institution_detail", args=[institution.number])).status_code == 200


def test_registered_email_senders_are_added_and_removed(admin: Client, admin_user: User, institution_a: Any,
                                                        institution_b: Any) -> None:
    url = reverse("parties:institution_senders", args=[institution_a.number])
    assert admin.post(url, {"address": "Uketsuke@Clinic.Example.jp"}).status_code == 302
    sender = InstitutionEmailSender.objects.get(institution=institution_a)
    assert sender.address == "uketsuke@clinic.example.jp"
    taken = admin.post(reverse("parties:institution_senders", args=[institution_b.number]),
                       {"address": "uketsuke@clinic.example.jp"})
    assert "既に" in _errors(taken) and InstitutionEmailSender.objects.count() == 1
    assert "有効なメールアドレス" in _errors(admin.post(url, {"address": "not-an-address"}))
    assert _last("party.institution.sender_added").actor_id == admin_user.pk
    delete = reverse("parties:institution_sender_delete", args=[institution_a.number, sender.pk])
    assert admin.get(delete).status_code == 200
    assert admin.post(delete).status_code == 302
    assert not InstitutionEmailSender.objects.exists()
    assert _last("party.institution.sender_removed").detail == {"sender": sender.pk}
    other = admin.get(reverse("parties:institution_sender_delete", args=[institution_b.number, sender.pk]))
    assert other.status_code == 404


# --- contracts ------------------------------------------------------------------------------------------------------


def test_contracts_are_created_with_prices_and_ended(admin: Client, admin_user: User, insurer_a: Any,
                                                     institution_a: Any) -> None:
    form = {"insurer": insurer_a.pk, "institution": institution_a.pk, "valid_from": "2026-04-01", "commission_type": "1",
            "basic_price": "9310", "anemia_price": "220", "ecg_price": "1430", "fundus_price": "1140",
            "creatinine_price": "120", "dock_price": "", "issues_tickets": "on",
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "50",
            "items-0-item_code": "3C020000002327101", "items-0-price": "400"}
    unknown = admin.post(reverse("parties:contract_create"), {**form, "items-0-item_code": "9Z999999999999999"})
    assert "項目マスタにありません" in _errors(unknown)
    assert not Contract.objects.exists()

    response = admin.post(reverse("parties:contract_create"), form)
    assert response.status_code == 302, _errors(response)
    contract = Contract.objects.get()
    assert (contract.basic_price, contract.dock_price, contract.issues_tickets) == (9_310, None, True)
    assert list(ContractOtherItem.objects.values_list("item_code", "price")) == [("3C020000002327101", 400)]
    assert _last("party.contract.created").actor_id == admin_user.pk
    assert _last("party.contract.other_items_set").detail["new"] == {"3C020000002327101": 400}
    detail = admin.get(reverse("parties:contract_detail", args=[contract.pk])).content.decode()
    assert "9310" in detail.replace(",", "") and "受診券に記載の負担による" in detail

    overlap = admin.post(reverse("parties:contract_create"), {**form, "valid_from": "2026-10-01"})
    assert "契約期間が重複しています" in _errors(overlap)

    end = reverse("parties:contract_end", args=[contract.pk])
    assert "契約終了日は契約開始日（2026-04-01）以降にしてください。" in _errors(admin.post(end, {"valid_to": "2026-03-31"}))
    assert admin.post(end, {"valid_to": "2026-09-30"}).status_code == 302
    contract.refresh_from_db()
    assert contract.valid_to == dt.date(2026, 9, 30)
    assert _last("party.contract.ended").detail == {"valid_to": "2026-09-30", "previous_valid_to": None}
    assert admin.post(reverse("parties:contract_create"), {**form, "valid_from": "2026-10-01"}).status_code == 302
    assert Contract.objects.count() == 2


def test_a_contract_keeps_its_parties_when_edited(admin: Client) -> None:
    contract = ContractFactory()
    other = Insurer.objects.exclude(pk=contract.insurer_id).first() or ContractFactory().insurer
    page = admin.get(reverse("parties:contract_edit", args=[contract.pk])).content.decode()
    assert "契約の当事者は変更できません" in page
    form = {"insurer": other.pk, "institution": contract.institution_id, "valid_from": contract.valid_from.isoformat(),
            "commission_type": contract.commission_type, "basic_price": "8123", "anemia_price": "0", "ecg_price": "0",
            "fundus_price": "0", "creatinine_price": "0", "dock_price": "", "issues_tickets": "on",
            "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "50"}
    assert admin.post(reverse("parties:contract_edit", args=[contract.pk]), form).status_code == 302
    insurer_id = contract.insurer_id
    contract.refresh_from_db()
    assert (contract.insurer_id, contract.basic_price) == (insurer_id, 8_123)
    changed = _last("party.contract.updated").detail["changed"]
    assert "basic_price" in changed and "insurer" not in changed


# --- who may ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AGENCY_CLERK, Role.AUDITOR, Role.INSURER_STAFF, Role.INSTITUTION_STAFF])
def test_only_the_administrator_changes_settings(role: Role, user_client: Callable[..., Client], institution_a: Any) -> None:
    client = user_client(role)
    posts = {
        reverse("parties:insurer_create"): {"number": "06139992", "name": "x", "contract_start": "2026-04-01"},
        reverse("parties:institution_senders", args=[institution_a.number]): {"address": "a@b.example.jp"},
        reverse("parties:user_create"): {"username": "intruder", "last_name": "a", "first_name": "b", "role": Role.AGENCY_ADMIN,
                                         "password_mode": "temporary", "password1": TEMPORARY, "password2": TEMPORARY},
        reverse("parties:api_client_create"): {"name": "x", "institution": institution_a.pk},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert not Insurer.objects.filter(number="06139992").exists()
    assert not InstitutionEmailSender.objects.exists() and not User.objects.filter(username="intruder").exists()
    assert AuditEvent.objects.filter(outcome="denied", path=reverse("parties:user_create")).exists()
