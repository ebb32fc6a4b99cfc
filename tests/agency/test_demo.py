from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from agency.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_totp
from agency.models import AgencyProfile, Contract, Institution, Insurer, User
from audit.selectors import audit_chain_verify

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_every_role_can_log_in() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())
    assert AgencyProfile.objects.count() == 1
    profile = AgencyProfile.objects.get()
    assert (profile.agency_code, profile.capacity_per_year, profile.capacity_per_day) == ("91399055", 500_000, 1_370)
    assert (profile.fee_initial, profile.fee_fixed, profile.fee_per_checkup) == (200_000, 200_000, 3_500)
    assert Insurer.objects.count() == 2
    assert Institution.objects.count() == 2
    assert Contract.objects.count() == 4
    assert User.objects.count() == len(DEMO_LOGINS)
    for login in DEMO_LOGINS:
        assert login.username in out.getvalue()
        client = Client()
        client.post(reverse("accounts:login"), {"username": login.username, "password": DEMO_PASSWORD})
        _secret, code = demo_totp(login.username)
        response = client.post(reverse("accounts:otp_verify"), {"token": code})
        assert response.status_code == 302, login.username
        assert client.get(reverse("home")).status_code == 200, login.username
    assert audit_chain_verify() is None


@override_settings(PORTAL_DEMO=False)
def test_demo_data_is_refused_outside_demo_mode() -> None:
    with pytest.raises(ImproperlyConfigured):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
