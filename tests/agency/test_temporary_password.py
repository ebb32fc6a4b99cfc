"""A password an administrator chose is temporary: its holder replaces it before anything else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency import services
from agency.models import Role, User
from audit.models import AuditEvent

from ..conftest import login_verified
from ..factories import UserFactory

CHANGE = reverse("accounts:password_change")
HOME = reverse("home")
TEMPORARY = "Temp#Given2024xq"
CHOSEN = "Mine#Chosen2024zr"


def _change(client: Client, old: str, new: str, next_url: str = "") -> Any:
    return client.post(CHANGE, {"old_password": old, "new_password1": new, "new_password2": new, "next": next_url})


@pytest.mark.django_db
def test_first_login_forces_password_change(insurer_a: Any) -> None:
    user = services.user_create(
        username="given-by-admin", password=TEMPORARY, role=Role.INSURER_STAFF, insurer=insurer_a, actor=None, temporary=True
    )
    client = login_verified(Client(), user)
    for url in (HOME, reverse("insurer:record_search"), reverse("intake:rule_catalogue")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(CHANGE), url
    page = client.get(CHANGE)
    assert page.status_code == 200
    assert "仮パスワード" in page.content.decode()
    assert client.get(reverse("intake_api:submission_list")).status_code == 403  # the API refuses the session too

    response = _change(client, TEMPORARY, CHOSEN, next_url=reverse("intake:rule_catalogue"))
    assert response.status_code == 302 and response["Location"] == reverse("intake:rule_catalogue")
    user.refresh_from_db()
    assert not user.must_change_password and user.check_password(CHOSEN)
    assert client.get(HOME).status_code == 200
    assert AuditEvent.objects.filter(action="account.password_changed", actor_id=user.pk).exists()


@pytest.mark.django_db
def test_the_temporary_password_cannot_be_kept() -> None:
    user = services.user_create(username="keeper", password=TEMPORARY, role=Role.AGENCY_CLERK, actor=None, temporary=True)
    client = login_verified(Client(), user)
    response = _change(client, TEMPORARY, TEMPORARY)
    assert response.status_code == 200  # refused: a password cannot be reused
    user.refresh_from_db()
    assert user.must_change_password
    assert client.get(HOME)["Location"].startswith(CHANGE)


@pytest.mark.django_db
def test_logout_stays_reachable_with_a_temporary_password() -> None:
    user = services.user_create(username="leaver", password=TEMPORARY, role=Role.AGENCY_CLERK, actor=None, temporary=True)
    client = login_verified(Client(), user)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and not response["Location"].startswith(CHANGE)


@pytest.mark.usefixtures("admin_urls")
def test_passwords_set_in_the_admin_are_temporary(make_user: Any) -> None:
    admin_client = login_verified(Client(), make_user(Role.AGENCY_ADMIN, is_staff=True, is_superuser=True))
    response = admin_client.post(
        reverse("admin:agency_user_add"),
        {"username": "new-clerk", "usable_password": "true", "password1": TEMPORARY, "password2": TEMPORARY},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(username="new-clerk")
    assert created.must_change_password

    existing = UserFactory(role=Role.AGENCY_CLERK)
    assert not existing.must_change_password
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[existing.pk]),
        {"usable_password": "true", "password1": TEMPORARY, "password2": TEMPORARY},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    existing.refresh_from_db()
    assert existing.must_change_password and existing.check_password(TEMPORARY)


@pytest.mark.django_db
def test_accounts_people_create_themselves_are_not_temporary() -> None:
    user = services.user_create(username="self-made", password=CHOSEN, role=Role.AGENCY_CLERK, actor=None)
    assert not user.must_change_password
    assert login_verified(Client(), user).get(HOME).status_code == 200
