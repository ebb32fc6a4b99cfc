"""Admin-assisted password reset: identity verification recorded in an append-only ledger, a
one-time link e-mailed to the person, never a password chosen or seen by the administrator."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import CredentialReset, Role
from audit.models import AuditEvent

from ..conftest import login_verified

ADD = "admin:agency_credentialreset_add"
NEW = "Fresh#Chosen2024kq"


@pytest.fixture
def people(make_user: Any) -> tuple[Any, Any]:
    admin_user = make_user(Role.AGENCY_ADMIN, is_staff=True, is_superuser=True)  # the Django admin: superusers only
    person = make_user(Role.INSTITUTION_STAFF, email="staff@kenshin.example.jp")
    return admin_user, person


def _issue(client: Client, person: Any, **overrides: Any) -> Any:
    data = {
        "user": person.pk,
        "method": CredentialReset.Method.CALL_BACK,
        "document_reference": "通話記録 2026-1124-07",
        "verified_at_0": "2026-11-24",
        "verified_at_1": "09:30:00",
        **overrides,
    }
    return client.post(reverse(ADD), data)


def _link() -> str:
    [message] = mail.outbox
    return re.search(r"https?://\S+", message.body)[0]


@pytest.mark.usefixtures("admin_urls")
def test_admin_reset_requires_ledger_fields(people: tuple[Any, Any]) -> None:
    admin_user, person = people
    client = login_verified(Client(), admin_user)
    response = _issue(client, person, document_reference="", method="")
    assert response.status_code == 200  # the form again, with its errors
    assert not CredentialReset.objects.exists() and mail.outbox == []
    assert person.__class__.objects.get(pk=person.pk).has_usable_password()

    response = _issue(client, admin_user)  # nobody verifies themselves
    assert response.status_code == 200 and not CredentialReset.objects.exists()


@pytest.mark.usefixtures("admin_urls")
def test_a_verified_reset_records_the_check_and_mails_a_one_time_link(people: tuple[Any, Any]) -> None:
    admin_user, person = people
    old_hash = person.password
    response = _issue(login_verified(Client(), admin_user), person)
    assert response.status_code == 302
    entry = CredentialReset.objects.get()
    assert (entry.user, entry.verified_by, entry.method) == (person, admin_user, CredentialReset.Method.CALL_BACK)
    person.refresh_from_db()
    assert not person.has_usable_password() and person.password != old_hash  # the old password no longer works
    [message] = mail.outbox
    assert message.to == ["staff@kenshin.example.jp"]
    link = _link()
    event = AuditEvent.objects.get(action="account.reset_link_issued")
    assert event.actor_id == admin_user.pk and event.detail == {"ledger": entry.pk, "method": "call_back"}
    token = link.rstrip("/").rsplit("/", 1)[-1]
    for text in (str(event.detail), entry.document_reference, str(vars(entry))):
        assert token not in text

    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = visitor.post(form_page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:password_reset_complete")
    person.refresh_from_db()
    assert person.check_password(NEW)
    assert AuditEvent.objects.filter(action="account.password_changed", actor_id=person.pk).exists()

    again = Client().get(link, follow=True)  # the link died with the password it set
    assert "new_password1" not in again.content.decode()
    assert "使用済みか有効期限" in again.content.decode()


@pytest.mark.usefixtures("admin_urls")
def test_reset_link_expires(people: tuple[Any, Any], settings: Any) -> None:
    admin_user, person = people
    settings.PASSWORD_RESET_TIMEOUT = 30 * 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _issue(login_verified(Client(), admin_user), person)
        link = _link()
        traveller.shift(dt.timedelta(minutes=31))
        late = Client().get(link, follow=True)
    assert "new_password1" not in late.content.decode()


@pytest.mark.django_db
def test_the_ledger_is_append_only(people: tuple[Any, Any]) -> None:
    admin_user, person = people
    entry = CredentialReset.objects.create(
        user=person, method="in_person", document_reference="運転免許証 末尾1234", verified_at=timezone.now(), verified_by=admin_user
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        CredentialReset.objects.filter(pk=entry.pk).update(document_reference="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        CredentialReset.objects.filter(pk=entry.pk).delete()
    assert CredentialReset.objects.get(pk=entry.pk).document_reference == "運転免許証 末尾1234"
