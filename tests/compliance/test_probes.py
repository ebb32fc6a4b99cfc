"""Each probe measures what it claims: pass when the control is in place, fail (or unknown) otherwise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from agency import dbguards as agency_dbguards
from agency.models import MaintenanceWindow, Role, User
from audit import dbguards as audit_dbguards
from audit.services import audit_checkpoint_write, audit_record
from compliance import dbguards, probes
from compliance.models import (
    AuditReviewSignoff,
    BackupGeneration,
    DataClass,
    ProbeStatus,
    RestoreDrill,
    RetentionPolicy,
)

from ..agency.helpers import open_window
from ..factories import AccessReviewFactory, TOTPDeviceFactory

pytestmark = pytest.mark.django_db

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "portal.conf.template"


def test_totp_coverage_names_users_without_a_confirmed_device(make_user: Callable[..., User]) -> None:
    make_user(Role.AGENCY_CLERK)
    assert probes.measure("totp_coverage").status == ProbeStatus.PASS
    lacking = make_user(Role.AGENCY_CLERK, username="no-device", totp=False)
    TOTPDeviceFactory(user=lacking, name="pending", confirmed=False)
    result = probes.measure("totp_coverage")
    assert result.status == ProbeStatus.FAIL
    assert result.detail["usernames"] == ["no-device"]
    lacking.is_active = False
    lacking.save(update_fields=["is_active"])
    assert probes.measure("totp_coverage").status == ProbeStatus.PASS  # inactive accounts cannot log in


def test_argon2_must_be_the_first_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", probes.ARGON2]
    assert probes.measure("argon2_first").status == ProbeStatus.FAIL
    settings.PASSWORD_HASHERS = [probes.ARGON2, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert probes.measure("argon2_first").status == ProbeStatus.PASS


def test_argon2_warns_about_hashes_not_yet_upgraded(settings: Any, make_user: Callable[..., User]) -> None:
    make_user(Role.AGENCY_CLERK)  # hashed with the test settings' MD5 hasher
    settings.PASSWORD_HASHERS = [probes.ARGON2, "django.contrib.auth.hashers.MD5PasswordHasher"]
    result = probes.measure("argon2_first")
    assert result.status == ProbeStatus.WARN
    assert result.detail["active_users_with_older_hash"] == 1


def test_password_validators_in_force_and_weakened(settings: Any) -> None:
    result = probes.measure("password_validators")
    assert result.status == ProbeStatus.PASS
    assert result.detail["min_length"] == 13
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    ]
    assert probes.measure("password_validators").status == ProbeStatus.FAIL


def test_idle_timeout(settings: Any) -> None:
    assert probes.measure("idle_timeout").status == ProbeStatus.PASS
    settings.SESSION_IDLE_TIMEOUT = dt.timedelta(minutes=60)
    result = probes.measure("idle_timeout")
    assert result.status == ProbeStatus.FAIL
    assert "60" in result.value


def test_lockout(settings: Any) -> None:
    assert probes.measure("lockout").status == ProbeStatus.PASS
    settings.AXES_FAILURE_LIMIT = 50
    assert probes.measure("lockout").status == ProbeStatus.FAIL


def test_audit_chain_detects_a_changed_row() -> None:
    for n in range(3):
        audit_record(action="test.event", actor_label="system", detail={"n": n})
    assert probes.measure("audit_chain").status == ProbeStatus.WARN  # no checkpoint yet
    audit_checkpoint_write(reason="manual")
    assert probes.measure("audit_chain").status == ProbeStatus.PASS
    audit_dbguards.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 2")
    finally:
        audit_dbguards.install(connection)
    result = probes.measure("audit_chain")
    assert result.status == ProbeStatus.FAIL
    assert result.detail["problems"][0]["seq"] == 2
    assert result.detail["problems"][0]["kind"] == "rewritten"
    assert "書き換え" in result.value


def test_audit_chain_warns_when_the_newest_checkpoint_is_old(settings: Any) -> None:
    audit_record(action="test.event", actor_label="system")
    audit_checkpoint_write(reason="schedule")
    assert probes.measure("audit_chain").status == ProbeStatus.PASS
    with time_machine.travel(timezone.now() + settings.AUDIT_CHECKPOINT_MAX_AGE + dt.timedelta(hours=1)):
        result = probes.measure("audit_chain")
    assert result.status == ProbeStatus.WARN
    assert "チェックポイントが古くなっています" in result.value


def test_audit_review_must_be_signed_within_31_days(auditor: User) -> None:
    assert probes.measure("audit_review").status == ProbeStatus.FAIL
    now = timezone.now()
    AuditReviewSignoff.objects.create(reviewer=auditor, period_start=now - dt.timedelta(days=30), period_end=now,
                                      events_count=0, chain_intact=True, signed_at=now)
    assert probes.measure("audit_review").status == ProbeStatus.PASS
    with time_machine.travel(now + dt.timedelta(days=32)):
        assert probes.measure("audit_review").status == ProbeStatus.FAIL


def test_audit_guards_report_triggers_and_the_connection_honestly() -> None:
    result = probes.measure("audit_guards")
    assert result.detail["audit_triggers"] is True
    assert result.detail["certificate_triggers"] is True
    assert result.detail["credential_reset_triggers"] is True
    if connection.vendor == "sqlite":
        assert result.status == ProbeStatus.WARN
        assert "sqlite" in result.value
    else:
        privileges = result.detail["privileges"]
        held = privileges["superuser"] or privileges["owns_table"] or privileges["update"] or privileges["delete"]
        assert result.status == (ProbeStatus.WARN if held else ProbeStatus.PASS)
        if held:
            assert privileges["role"] in result.value
    dbguards.remove(connection)
    try:
        assert probes.measure("audit_guards").status == ProbeStatus.FAIL
    finally:
        dbguards.install(connection)
    agency_dbguards.remove(connection)
    try:
        failed = probes.measure("audit_guards")
        assert failed.status == ProbeStatus.FAIL and failed.detail["credential_reset_triggers"] is False
    finally:
        agency_dbguards.install(connection)


CHRONY_SYNCED = """Reference ID    : A9FEA9FE (169.254.169.254)
Stratum         : 4
Ref time (UTC)  : Tue Nov 24 02:45:00 2026
System time     : 0.000012345 seconds fast of NTP time
Last offset     : -0.000001000 seconds
Leap status     : Normal
"""
CHRONY_UNSYNCED = CHRONY_SYNCED.replace("Normal", "Not synchronised")
CHRONY_FAR = CHRONY_SYNCED.replace("0.000012345 seconds fast", "2.500000000 seconds slow")


def _commands(outputs: dict[str, str | None]) -> Callable[[list[str]], str | None]:
    return lambda argv: outputs.get(argv[0])


@pytest.mark.parametrize(
    ("outputs", "status"),
    [
        ({"chronyc": CHRONY_SYNCED}, ProbeStatus.PASS),
        ({"chronyc": CHRONY_UNSYNCED}, ProbeStatus.FAIL),
        ({"chronyc": CHRONY_FAR}, ProbeStatus.FAIL),
        ({"timedatectl": "NTPSynchronized=yes\n"}, ProbeStatus.PASS),
        ({"timedatectl": "NTPSynchronized=no\n"}, ProbeStatus.FAIL),
        ({}, ProbeStatus.UNKNOWN),
        ({"timedatectl": "garbage"}, ProbeStatus.UNKNOWN),
    ],
)
def test_clock_with_canned_ntp_outputs(monkeypatch: pytest.MonkeyPatch, outputs: dict[str, str], status: str) -> None:
    monkeypatch.setattr(probes, "run_command", _commands(outputs))
    result = probes.measure("clock")
    assert result.status == status
    assert abs(result.detail["db_offset_seconds"]) < probes.CLOCK_WARN_SECONDS
    if status == ProbeStatus.UNKNOWN:
        assert "不明" in result.value


def test_clock_fails_when_the_database_clock_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "run_command", _commands({"timedatectl": "NTPSynchronized=yes\n"}))
    monkeypatch.setattr(probes, "database_clock_offset", lambda: 3.2)
    result = probes.measure("clock")
    assert result.status == ProbeStatus.FAIL
    assert "+3.200" in result.value


def test_clock_on_this_host_never_pretends_to_pass() -> None:
    result = probes.measure("clock")
    if result.detail["ntp"]["synchronized"] is None:
        assert result.status == ProbeStatus.UNKNOWN


def test_parsers() -> None:
    assert probes.parse_chrony_tracking(CHRONY_FAR) == (True, -2.5)
    assert probes.parse_timedatectl("NTPSynchronized=yes") is True
    assert probes.parse_timedatectl("") is None


def test_tls_config_of_the_deployed_template(settings: Any, tmp_path: Path) -> None:
    settings.COMPLIANCE_NGINX_CONF = TEMPLATE
    result = probes.measure("tls_config")
    assert result.status == ProbeStatus.PASS
    assert result.detail["ssl_protocols"] == [["TLSv1.3"]] * result.detail["servers"]
    # The portal server requires client certificates; the public server passes on only the disclosure pages.
    assert result.detail["ssl_verify_client"] == [["on"], ["off"]]
    assert result.detail["servers_without_client_certificates_public_only"] is True

    open_public = tmp_path / "open-public.conf"
    open_public.write_text(TEMPLATE.read_text().replace("proxy_pass http://portal_app/disclosure/;", "proxy_pass http://portal_app;"))
    settings.COMPLIANCE_NGINX_CONF = open_public
    assert probes.measure("tls_config").status == ProbeStatus.FAIL

    weakened = tmp_path / "weak.conf"
    weakened.write_text(TEMPLATE.read_text().replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2 TLSv1.3;"))
    settings.COMPLIANCE_NGINX_CONF = weakened
    assert probes.measure("tls_config").status == ProbeStatus.FAIL

    optional = tmp_path / "optional.conf"
    optional.write_text(TEMPLATE.read_text().replace("ssl_verify_client on;", "ssl_verify_client optional;"))
    settings.COMPLIANCE_NGINX_CONF = optional
    assert probes.measure("tls_config").status == ProbeStatus.FAIL

    commented = tmp_path / "commented.conf"
    commented.write_text(TEMPLATE.read_text().replace("    ssl_verify_client on;", "    # ssl_verify_client on;"))
    settings.COMPLIANCE_NGINX_CONF = commented
    assert probes.measure("tls_config").status == ProbeStatus.FAIL

    settings.COMPLIANCE_NGINX_CONF = tmp_path / "missing.conf"
    assert probes.measure("tls_config").status == ProbeStatus.UNKNOWN


def _generation(taken_at: dt.datetime) -> BackupGeneration:
    return BackupGeneration.objects.create(path=f"/backups/{taken_at.timestamp()}.enc", database="x", taken_at=taken_at,
                                           finished_at=taken_at, size=1, sha256="0" * 64)


def test_backup_age() -> None:
    assert probes.measure("backup_age").status == ProbeStatus.FAIL
    now = timezone.now()
    _generation(now - dt.timedelta(hours=30))
    assert probes.measure("backup_age").status == ProbeStatus.WARN
    _generation(now - dt.timedelta(hours=2))
    assert probes.measure("backup_age").status == ProbeStatus.PASS
    with time_machine.travel(now + dt.timedelta(days=3)):
        assert probes.measure("backup_age").status == ProbeStatus.FAIL


def test_restore_drill() -> None:
    assert probes.measure("restore_drill").status == ProbeStatus.FAIL
    now = timezone.now()
    drill = {"started_at": now, "finished_at": now, "duration_ms": 1500, "data_age_seconds": 3600}
    RestoreDrill.objects.create(succeeded=False, **drill)
    assert probes.measure("restore_drill").status == ProbeStatus.FAIL
    RestoreDrill.objects.create(succeeded=True, chain_intact=True, counts_match=True,
                                **{**drill, "started_at": now + dt.timedelta(seconds=1)})
    result = probes.measure("restore_drill")
    assert result.status == ProbeStatus.PASS
    assert "1.5" in result.value
    with time_machine.travel(now + dt.timedelta(days=93)):
        assert probes.measure("restore_drill").status == ProbeStatus.FAIL


def test_maintenance_window_left_open(make_user: Callable[..., User]) -> None:
    user = make_user(Role.MAINTENANCE)
    window = open_window(user, minutes=30)
    assert probes.measure("maintenance_windows").status == ProbeStatus.PASS
    with time_machine.travel(window.ends_at + dt.timedelta(minutes=1)):
        result = probes.measure("maintenance_windows")
        assert result.status == ProbeStatus.FAIL
        assert window.ticket in result.value
    MaintenanceWindow.objects.filter(pk=window.pk).update(closed_at=timezone.now())
    with time_machine.travel(window.ends_at + dt.timedelta(minutes=1)):
        assert probes.measure("maintenance_windows").status == ProbeStatus.PASS


def test_access_reviews_overdue_after_seven_days(make_user: Callable[..., User]) -> None:
    window = open_window(make_user(Role.MAINTENANCE))
    now = timezone.now()
    AccessReviewFactory(window=window, opened_at=now)
    assert probes.measure("access_reviews").status == ProbeStatus.PASS
    with time_machine.travel(now + dt.timedelta(days=8)):
        assert probes.measure("access_reviews").status == ProbeStatus.FAIL


def test_upload_hardening(settings: Any, tmp_path: Path) -> None:
    settings.KENSHIN_XSD_DIR = ""
    result = probes.measure("upload_hardening")
    assert result.status == ProbeStatus.FAIL
    assert "KENSHIN_XSD_DIR" in result.value
    (tmp_path / "xsd").mkdir()
    settings.KENSHIN_XSD_DIR = str(tmp_path / "xsd")
    assert probes.measure("upload_hardening").status == ProbeStatus.FAIL  # configured, but no schema in it
    (tmp_path / "xsd" / "hc08_V08.xsd").write_text("<xs:schema/>")
    assert probes.measure("upload_hardening").status == ProbeStatus.PASS
    settings.INTAKE_MAX_ARCHIVE_BYTES = 0
    assert probes.measure("upload_hardening").status == ProbeStatus.FAIL


def test_retention_policies(admin_a: User) -> None:
    assert probes.measure("retention_policies").status == ProbeStatus.FAIL
    RetentionPolicy.objects.create(data_class=DataClass.SUBMISSION, retention_years=5, legal_basis="実施基準",
                                   procedure="手順", updated_by=admin_a)
    assert probes.measure("retention_policies").status == ProbeStatus.PASS


def test_a_probe_that_crashes_is_unknown_never_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> probes.Measurement:
        raise RuntimeError("boom")

    monkeypatch.setitem(probes.PROBES, "idle_timeout", probes.Probe("idle_timeout", "x", broken))
    result = probes.measure("idle_timeout")
    assert result.status == ProbeStatus.UNKNOWN
    assert result.detail["error"] == "boom"
