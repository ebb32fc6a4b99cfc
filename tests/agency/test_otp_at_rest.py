"""TOTP keys and backup codes are not readable in the database; login with either still works."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as registry
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency import otp_storage
from agency.models import Role
from agency.services.accounts import backup_codes_regenerate

from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _stored(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


def _login(client: Client, username: str, code: str) -> Any:
    client.post(reverse("accounts:login"), {"username": username, "password": TEST_PASSWORD})
    return client.post(reverse("accounts:otp_verify"), {"token": code})


def test_a_totp_key_is_sealed_and_still_verifies() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    device = TOTPDevice.objects.get(user=user)
    stored = _stored("otp_totp_totpdevice", "key", device.pk)
    secret = device.bin_key
    assert len(secret) == 20
    assert secret.hex() not in stored and len(stored) == 72
    assert otp_storage.is_sealed(stored)
    totp = TOTP(secret, device.step, device.t0, device.digits, device.drift)
    response = _login(Client(), user.username, f"{totp.token():06d}")
    assert response.status_code == 302
    assert not response["Location"].startswith(reverse("accounts:otp_verify"))
    device.refresh_from_db()
    assert device.key == stored  # django-otp's own save after verification keeps it sealed


def test_backup_codes_are_stored_as_keyed_hashes_and_work_once() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    codes = backup_codes_regenerate(user=user)
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert not stored & set(codes)
    assert stored == {otp_storage.backup_code_tag(code) for code in codes}
    assert all(len(tag) == 16 and tag.startswith("#") for tag in stored)
    assert _login(Client(), user.username, codes[0]).status_code == 302
    assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1
    # the stored hash itself is no code, and the used code is gone
    device = StaticDevice.objects.get(user=user)
    assert not device.verify_token(next(iter(stored - {otp_storage.backup_code_tag(codes[0])})))
    assert not device.verify_token(codes[0])


def test_the_migration_seals_rows_written_before_it() -> None:
    user = UserFactory(role=Role.AGENCY_CLERK)
    device = TOTPDevice.objects.get(user=user)
    secret = device.bin_key
    static = StaticDevice.objects.create(user=user, name="backup")
    # rows as they were before: written around the model (no pre_save)
    TOTPDevice.objects.filter(pk=device.pk).update(key=secret.hex())
    StaticToken.objects.bulk_create([StaticToken(device=static, token="abcdefgh23456723")])
    migration = importlib.import_module("agency.migrations.0011_otp_secrets_at_rest")
    migration.seal(registry, None)
    migration.seal(registry, None)  # twice changes nothing
    device.refresh_from_db()
    assert otp_storage.is_sealed(device.key)
    assert device.bin_key == secret
    assert StaticToken.objects.get(device=static).token == otp_storage.backup_code_tag("abcdefgh23456723")
    assert static.verify_token("abcdefgh23456723")
