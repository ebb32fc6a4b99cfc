"""Check digits are validated wherever a number enters: models, forms, the API, demo data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from agency.forms import InstitutionForm, InsurerForm
from agency.models import AgencyProfile, Insurer, Role
from agency.selectors import institution_archive_password
from agency.validators import validate_invoice_registration_number
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

VALID_INSURERS = ["33120015", "01130012", "01040013", "06132013", "00280081"]
VALID_INSTITUTIONS = ["2813303589", "2813300114", "2813301351", "2813302086", "6631111116"]


@pytest.mark.parametrize("number", VALID_INSURERS)
def test_valid_insurer_numbers_pass(number: str) -> None:
    form = InsurerForm(data={"number": number, "name": "保険者", "contract_start": "2024-04-01", "is_active": True})
    assert form.is_valid(), form.errors


def test_six_digit_kokuho_number_is_padded() -> None:
    insurer = Insurer(number="280081", name="国保", contract_start="2024-04-01")
    insurer.full_clean()
    assert insurer.number == "00280081"


@pytest.mark.parametrize("number", ["33120016", "01130013", "0113001", "abcdefgh"])
def test_bad_insurer_numbers_are_rejected_with_a_clear_message(number: str) -> None:
    form = InsurerForm(data={"number": number, "name": "保険者", "contract_start": "2024-04-01"})
    assert not form.is_valid()
    assert "保険者番号" in form.errors["number"][0]


@pytest.mark.parametrize("number", VALID_INSTITUTIONS)
def test_valid_institution_numbers_pass(number: str) -> None:
    assert InstitutionForm(data={"number": number, "name": "機関"}).is_valid()


@pytest.mark.parametrize("number", ["1311234567", "1310438796", "2813300115", "281330011"])
def test_bad_institution_numbers_are_rejected(number: str) -> None:
    form = InstitutionForm(data={"number": number, "name": "機関"})
    assert not form.is_valid()
    assert "機関番号" in form.errors["number"][0]


def test_agency_code_and_registration_number_are_checked() -> None:
    profile = AgencyProfile(agency_code="91399056", invoice_registration_number="T7123456789013")
    with pytest.raises(ValidationError) as excinfo:
        profile.full_clean()
    assert {"agency_code", "invoice_registration_number"} <= set(excinfo.value.message_dict)
    validate_invoice_registration_number("T7123456789012")


def test_api_rejects_a_bad_check_digit(user_client: Callable[..., Client]) -> None:
    client = user_client(Role.AGENCY_ADMIN)
    bad = client.post("/api/v1/insurers/", {"number": "33120016", "name": "x", "contract_start": "2024-04-01"}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"  # the API's one error shape, the fields' messages under "errors"
    assert "検証番号" in bad.json()["errors"]["number"][0]
    good = client.post("/api/v1/insurers/", {"number": "280081", "name": "国保", "contract_start": "2024-04-01"}, content_type="application/json")
    assert good.status_code == 201
    assert good.json()["number"] == "00280081"
    bad = client.post("/api/v1/institutions/", {"number": "1311234567", "name": "x"}, content_type="application/json")
    assert bad.status_code == 400


def test_only_admins_may_register_parties(user_client: Callable[..., Client]) -> None:
    client = user_client(Role.AGENCY_CLERK)
    response = client.post("/api/v1/insurers/", {"number": "33120015", "name": "x", "contract_start": "2024-04-01"}, content_type="application/json")
    assert response.status_code == 403
    assert not Insurer.objects.filter(number="33120015").exists()


def test_bank_account_holder_must_be_half_width_kana(institution_a: Any) -> None:
    form = InstitutionForm(
        instance=institution_a,
        data={"number": institution_a.number, "name": "x", "bank_code": "0001", "branch_code": "001",
              "account_type": "1", "account_number": "1234567", "account_holder_kana": "テストケンシン"},
    )
    assert not form.is_valid()
    assert "account_holder_kana" in form.errors


def test_admin_registers_an_institution_archive_password_encrypted(user_client: Callable[..., Client], institution_a: Any) -> None:
    client = user_client(Role.AGENCY_ADMIN)
    url = reverse("parties:institution_archive_password", args=[institution_a.number])
    page = client.get(url)
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post(url, {"password": "Lock#Pass-01"})
    assert response.status_code == 302, response.content.decode()[:2000]
    institution_a.refresh_from_db()
    assert "Lock#Pass-01" not in institution_a.archive_password
    assert institution_archive_password(institution=institution_a) == "Lock#Pass-01"
    assert AuditEvent.objects.filter(action="party.institution.archive_password_set").exists()
    assert "Lock#Pass-01" not in client.get(reverse("parties:institution_detail", args=[institution_a.number])).content.decode()
    client.post(url, {"clear": "on"})
    institution_a.refresh_from_db()
    assert institution_a.archive_password == ""
    assert AuditEvent.objects.filter(action="party.institution.archive_password_cleared").exists()
