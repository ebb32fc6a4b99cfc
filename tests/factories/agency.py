"""Factories for parties and accounts. Numbers carry valid check digits from reserved test ranges."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.demo import AGENCY
from agency.models import (
    AgencyProfile,
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceTable,
    Contract,
    Institution,
    Insurer,
    MaintenanceWindow,
    Role,
    User,
)
from kenshin.checkdigits import luhn_digit

TEST_PASSWORD = "Vq7#pLm2!xRt9z"


def insurer_number(n: int) -> str:
    body = f"39{n:05d}"  # 39: a prefecture code range the demo and tests keep to themselves
    return body + str(luhn_digit(body))


def institution_number(n: int) -> str:
    body = f"139{n:06d}"
    return body + str(luhn_digit(body))


class AgencyProfileFactory(factory.django.DjangoModelFactory):
    """The agency's one profile row: the fields it cannot do without, with the demo agency's values
    (pass ``**agency.demo.AGENCY`` for the whole demo profile)."""

    class Meta:
        model = AgencyProfile

    name = AGENCY["name"]
    address = AGENCY["address"]
    phone = AGENCY["phone"]
    contact_email = AGENCY["contact_email"]
    agency_code = AGENCY["agency_code"]
    classification = AGENCY["classification"]
    invoice_registration_number = AGENCY["invoice_registration_number"]
    service_start_date = AGENCY["service_start_date"]
    system_ownership = AGENCY["system_ownership"]
    system_operation = AGENCY["system_operation"]
    system_facility = AGENCY["system_facility"]
    capacity_per_year = AGENCY["capacity_per_year"]
    capacity_per_day = AGENCY["capacity_per_day"]
    hours_site = AGENCY["hours_site"]
    hours_system = AGENCY["hours_system"]
    hours_helpdesk = AGENCY["hours_helpdesk"]
    fee_initial = AGENCY["fee_initial"]
    fee_fixed = AGENCY["fee_fixed"]
    fee_per_checkup = AGENCY["fee_per_checkup"]


class InsurerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Insurer
        django_get_or_create = ("number",)

    number = factory.Sequence(lambda n: insurer_number(n + 100))
    name = factory.Sequence(lambda n: f"テスト健康保険組合{n}")
    contract_start = dt.date(2024, 4, 1)


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution
        django_get_or_create = ("number",)

    number = factory.Sequence(lambda n: institution_number(n + 100))
    name = factory.Sequence(lambda n: f"テスト健診センター{n}")
    address = "東京都千代田区1-1"


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    insurer = factory.SubFactory(InsurerFactory)
    institution = factory.SubFactory(InstitutionFactory)
    valid_from = dt.date(2024, 4, 1)
    commission_type = Contract.CommissionType.INDIVIDUAL
    basic_price = 8_000


class CollectiveContractFactory(factory.django.DjangoModelFactory):
    """A 集合契約 represented by a new insurer (add members with the two membership factories)."""

    class Meta:
        model = CollectiveContract

    name = factory.Sequence(lambda n: f"テスト集合契約{n}")
    representative = factory.SubFactory(InsurerFactory)
    coordinator = "テスト医師会"
    valid_from = dt.date(2024, 4, 1)


class CollectiveInsurerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectiveInsurer

    contract = factory.SubFactory(CollectiveContractFactory)
    insurer = factory.SubFactory(InsurerFactory)
    joined_on = dt.date(2024, 4, 1)


class CollectiveInstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectiveInstitution

    contract = factory.SubFactory(CollectiveContractFactory)
    institution = factory.SubFactory(InstitutionFactory)
    price_group = "13"
    joined_on = dt.date(2024, 4, 1)


class CollectivePriceTableFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectivePriceTable

    contract = factory.SubFactory(CollectiveContractFactory)
    price_group = "13"
    commission_type = Contract.CommissionType.INDIVIDUAL
    basic_price = 7_000
    anemia_price = 200
    ecg_price = 1_300
    fundus_price = 1_100
    creatinine_price = 110


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    """A second factor; confirmed unless ``confirmed=False`` (enrolment begun, not finished)."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory("tests.factories.agency.UserFactory", totp=False)
    name = "test"
    confirmed = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.AGENCY_CLERK
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.jp")
    is_staff = False  # the Django admin is for superusers only; pass is_staff/is_superuser=True for one
    is_superuser = False
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def totp(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()
            if extracted is not False:
                TOTPDeviceFactory(user=self)


class MaintenanceWindowFactory(factory.django.DjangoModelFactory):
    """An approved maintenance window, open now for the next two hours."""

    class Meta:
        model = MaintenanceWindow

    user = factory.SubFactory(UserFactory, role=Role.MAINTENANCE)
    ticket = "CHG-1"
    purpose = "test"
    approved_by = factory.SubFactory(UserFactory, role=Role.AGENCY_ADMIN)
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=1))
    ends_at = factory.LazyAttribute(lambda w: w.starts_at + dt.timedelta(minutes=121))
