"""Break-glass: two officers declare, accounts work for at most four hours, alerts and banner, and
returning to normal disables everything and opens a review of every action taken."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.models import Institution, Role, User
from audit.models import AuditEvent
from compliance import probes
from compliance.middleware import SESSION_EMERGENCY_UNTIL
from compliance.models import AccessReview, EmergencyAccount, EmergencyActivation, Incident, ProbeStatus
from compliance.services import emergency_access as services_access

from ..conftest import login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(admin_a: User) -> EmergencyAccount:
    return services_access.emergency_account_create(username="emergency-1", label="非常用1", role=Role.AGENCY_CLERK,
                                                    email="", actor=admin_a)


@pytest.fixture
def active_incident(admin_a: User, admin_b: User) -> Incident:
    incident = services_access.incident_declare(reason="ランサムウェア感染の疑い", actor=admin_a)
    return services_access.incident_confirm(incident=incident, actor=admin_b)


def test_emergency_accounts_are_created_disabled(admin_client: Client) -> None:
    response = admin_client.post(reverse("compliance:emergency_accounts"),
                                 {"label": "非常用2", "username": "emergency-2", "role": Role.AGENCY_CLERK, "email": ""})
    assert response.status_code == 302
    user = User.objects.get(username="emergency-2")
    assert not user.is_active
    assert not user.has_usable_password()
    assert user.emergency_account.label == "非常用2"
    assert probes.measure("emergency_accounts").status == ProbeStatus.PASS


def test_declaring_takes_two_different_officers(admin_client: Client, admin_b_client: Client, admin_a: User,
                                                django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("compliance:incident_list"), {"reason": "基幹回線の長時間断"})
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.state == Incident.State.PENDING
    # the declaring officer cannot confirm
    detail = reverse("compliance:incident_detail", args=[incident.pk])
    page = admin_client.post(detail, {"op": "confirm"})
    assert "宣言した本人は確認できません" in page.content.decode()
    incident.refresh_from_db()
    assert incident.state == Incident.State.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        admin_b_client.post(detail, {"op": "confirm"})
    incident.refresh_from_db()
    assert incident.state == Incident.State.ACTIVE
    assert incident.confirmed_by.username == "admin-b"
    assert [m.subject for m in mail.outbox] == ["[代行機関ポータル] 非常時の宣言（確認待ち）", "[代行機関ポータル] 非常時対応を開始しました"]
    assert set(mail.outbox[1].to) == {"admin-a@example.jp", "admin-b@example.jp"}
    # a second incident cannot be declared while one is open
    with pytest.raises(ValidationError):
        services_access.incident_declare(reason="again", actor=admin_a)


def test_no_activation_outside_an_incident(admin_a: User, admin_b: User, account: EmergencyAccount) -> None:
    incident = services_access.incident_declare(reason="x", actor=admin_a)
    with pytest.raises(ValidationError, match="非常時対応中でなければ"):
        services_access.emergency_activate(incident=incident, account=account, reason="x", minutes=60, actor=admin_a)
    account.user.refresh_from_db()
    assert not account.user.is_active


def test_activation_is_at_most_four_hours(active_incident: Incident, account: EmergencyAccount, admin_a: User) -> None:
    with pytest.raises(ValidationError, match="4時間以内"):
        services_access.emergency_activate(incident=active_incident, account=account, reason="x", minutes=241, actor=admin_a)


def test_whole_break_glass_cycle(
    active_incident: Incident, account: EmergencyAccount, admin_client: Client, admin_b_client: Client,
    auditor_client: Client, institution_a: Institution, django_capture_on_commit_callbacks: Any,
) -> None:
    mail.outbox.clear()
    detail = reverse("compliance:incident_detail", args=[active_incident.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(detail, {"op": "activate", "account": account.pk, "reason": "受付業務の継続", "minutes": 240})
    assert response.status_code == 200
    password = html.unescape(re.search(r'data-testid="one-time-password">([^<]+)<', response.content.decode()).group(1))
    user = User.objects.get(pk=account.user_id)
    assert user.is_active
    assert user.check_password(password)
    activation = EmergencyActivation.objects.get()
    assert activation.expires_at - activation.starts_at == dt.timedelta(hours=4)
    assert mail.outbox[-1].subject == "[代行機関ポータル] 非常用アカウント 非常用1 が有効化されました"
    assert password not in mail.outbox[-1].body
    assert AuditEvent.objects.filter(action="compliance.emergency.activated", object_ids=[str(user.pk)]).exists()
    assert password not in str(list(AuditEvent.objects.values_list("detail", flat=True)))

    # every page shows the banner while the incident is in force
    banner = admin_b_client.get(reverse("home")).content.decode()
    assert 'data-testid="incident-banner"' in banner
    assert "非常用1" in banner
    assert probes.measure("emergency_accounts").status == ProbeStatus.PASS

    # the emergency user works; what it does is recorded
    emergency = login_verified(Client(), user)
    assert emergency.session[SESSION_EMERGENCY_UNTIL] == pytest.approx(activation.expires_at.timestamp())
    assert emergency.get(reverse("parties:institution_detail", args=[institution_a.number])).status_code == 200

    # return to normal
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_b_client.post(detail, {"op": "close", "note": "回線復旧を確認"})
    review = AccessReview.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("compliance:review_detail", args=[review.pk])
    user.refresh_from_db()
    assert not user.is_active
    assert not user.has_usable_password()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    activation.refresh_from_db()
    assert activation.end_reason == EmergencyActivation.EndReason.INCIDENT_CLOSED
    assert emergency.get(reverse("home")).status_code == 302  # the disabled account's session is gone
    assert 'data-testid="incident-banner"' not in admin_client.get(reverse("home")).content.decode()

    # the review lists every action the account took
    assert review.kind == AccessReview.Kind.BREAK_GLASS
    assert review.subject_ids == [user.pk]
    page = auditor_client.get(reverse("compliance:review_detail", args=[review.pk])).content.decode()
    assert "party.institution.view" in page
    assert str(institution_a.pk) in page
    assert probes.measure("access_reviews").status == ProbeStatus.PASS
    complete = reverse("compliance:review_complete", args=[review.pk])
    assert auditor_client.post(complete, {"notes": "x"}).status_code == 403
    admin_client.post(complete, {"notes": "業務継続のための参照のみ。問題なし。"})
    review.refresh_from_db()
    assert review.completed_by.username == "admin-a"


def test_activation_expires_on_the_next_request(active_incident: Incident, account: EmergencyAccount, admin_a: User) -> None:
    activation, _password = services_access.emergency_activate(incident=active_incident, account=account, reason="x",
                                                               minutes=10, actor=admin_a)
    emergency = login_verified(Client(), User.objects.get(pk=account.user_id))
    assert emergency.get(reverse("home")).status_code == 200
    with time_machine.travel(activation.expires_at + dt.timedelta(seconds=30)):
        response = emergency.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    account.user.refresh_from_db()
    assert not account.user.is_active
    activation.refresh_from_db()
    assert activation.end_reason == EmergencyActivation.EndReason.EXPIRED
    assert AuditEvent.objects.filter(action="compliance.emergency.session_ended", actor_id=account.user_id).exists()


def test_sweep_disables_expired_accounts_without_a_request(active_incident: Incident, account: EmergencyAccount,
                                                           admin_a: User) -> None:
    activation, _password = services_access.emergency_activate(incident=active_incident, account=account, reason="x",
                                                               minutes=60, actor=admin_a)
    with time_machine.travel(activation.expires_at + dt.timedelta(minutes=1)):
        assert probes.measure("emergency_accounts").status == ProbeStatus.FAIL  # expired but still usable
        from compliance.tasks import emergency_expire_due_task

        assert emergency_expire_due_task.delay().get() == 1
        assert probes.measure("emergency_accounts").status == ProbeStatus.PASS
    account.user.refresh_from_db()
    assert not account.user.is_active


def test_probe_catches_an_account_enabled_behind_the_portals_back(account: EmergencyAccount) -> None:
    User.objects.filter(pk=account.user_id).update(is_active=True)
    result = probes.measure("emergency_accounts")
    assert result.status == ProbeStatus.FAIL
    assert "emergency-1" in result.value


def test_withdrawing_a_pending_declaration_opens_no_review(admin_a: User) -> None:
    incident = services_access.incident_declare(reason="誤報", actor=admin_a)
    assert services_access.incident_close(incident=incident, note="誤報のため取り下げ", actor=admin_a) is None
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert not AccessReview.objects.exists()


def test_only_officers_reach_the_incident_pages(auditor_client: Client, clerk_client: Client) -> None:
    assert auditor_client.get(reverse("compliance:incident_list")).status_code == 403
    assert clerk_client.post(reverse("compliance:incident_list"), {"reason": "x"}).status_code == 403
    assert not Incident.objects.exists()
