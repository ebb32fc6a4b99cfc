"""Factories for parties and accounts. Numbers carry valid check digits from reserved test ranges."""

from __future__ import annotations

import datetime as dt

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.models import Contract, CopayCode, Institution, Insurer, Role, User
from kenshin.checkdigits import luhn_digit

TEST_PASSWORD = "Vq7#pLm2!xRt9z"


def insurer_number(n: int) -> str:
    body = f"39{n:05d}"  # 39: a prefecture code range the demo and tests keep to themselves
    return body + str(luhn_digit(body))


def institution_number(n: int) -> str:
    body = f"139{n:06d}"
    return body + str(luhn_digit(body))


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
    basic_copay_code = CopayCode.NONE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.AGENCY_CLERK
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.jp")
    is_staff = factory.LazyAttribute(lambda u: u.role == Role.AGENCY_ADMIN)
    is_superuser = factory.LazyAttribute(lambda u: u.role == Role.AGENCY_ADMIN)
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def totp(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()
            if extracted is not False:
                TOTPDevice.objects.create(user=self, name="test", confirmed=True)
