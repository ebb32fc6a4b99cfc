"""Production refuses unsafe configuration: ``manage.py check --deploy`` under production settings fails,
naming the setting, for every unsafe default (no broker, no real e-mail backend, no field-encryption key
of its own, no trusted proxy) and for storage inside the web root; gunicorn refuses to start with one.

The whole-configuration cases run ``manage.py`` and gunicorn in a process of their own with the
production settings module and a clean environment; the variants of each setting are checked in this
process through the same check function.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from agency.checks import deployment_checks

REPO = Path(__file__).resolve().parents[2]
FERNET_KEY = "zpYy1hPhGYyg-u_WrKBJ2_p7Xfpnhhx9YhzscjMED8g="  # a throw-away Fernet key, as a deployment generates one

SAFE = {
    "DJANGO_SETTINGS_MODULE": "agency.settings.production",
    "DJANGO_SECRET_KEY": "deploy-check-test-0123456789abcdef0123456789abcdef0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "portal.example.jp",
    "DATABASE_URL": "postgres://portal:secret@postgres:5432/portal",
    "CELERY_BROKER_URL": "redis://:secret@redis:6379/0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "FIELD_ENCRYPTION_KEY": FERNET_KEY,
    "TRUSTED_PROXIES": "172.30.250.2",
    "AUDIT_HMAC_KEY": "deploy-check-audit-key-0123456789abcdef0123456789abcdef",
}


def _production(tmp_path: Path, command: list[str], **changes: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with production settings: the safe configuration with ``changes`` (None unsets)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "CELERY_", "EMAIL_"))}
    for key in ("DATABASE_URL", "FIELD_ENCRYPTION_KEY", "TRUSTED_PROXIES", "STORAGE_DIR", "STATIC_ROOT", "AUDIT_HMAC_KEY",
                "AUDIT_CHECKPOINT_DIR"):
        env.pop(key, None)
    env.update(SAFE, STATIC_ROOT=str(tmp_path / "static"), STORAGE_DIR=str(tmp_path / "storage"), PORTAL_VAR_DIR=str(tmp_path / "var"),
               AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"))
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _check_deploy(tmp_path: Path, **changes: str | None) -> subprocess.CompletedProcess[str]:
    return _production(tmp_path, [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **changes)


def test_a_deployment_configured_as_documented_passes(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("CELERY_BROKER_URL", "CELERY_BROKER_URL"),
        ("EMAIL_BACKEND", "EMAIL_BACKEND"),
        ("FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY"),
        ("TRUSTED_PROXIES", "TRUSTED_PROXIES"),
    ],
)
def test_each_unsafe_default_fails_the_deploy_check_naming_its_setting(tmp_path: Path, unset: str, named: str) -> None:
    result = _check_deploy(tmp_path, **{unset: None})

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "(portal.E" in line]
    assert len(errors) == 1 and named in errors[0], result.stderr


def test_storage_inside_the_web_root_fails_the_deploy_check(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, STORAGE_DIR=str(tmp_path / "static" / "archives"))

    assert result.returncode != 0
    assert "STORAGE_DIR" in result.stderr and "STATIC_ROOT" in result.stderr and "portal.E009" in result.stderr


def test_gunicorn_refuses_to_start_with_an_unsafe_configuration(tmp_path: Path) -> None:
    result = _production(
        tmp_path,
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        EMAIL_BACKEND=None,
    )

    assert result.returncode != 0
    assert "EMAIL_BACKEND" in result.stderr and "portal.E002" in result.stderr
    assert "Booting worker" not in result.stderr


SAFE_SETTINGS: dict[str, Any] = {
    "CELERY_BROKER_URL": "redis://:secret@redis:6379/0",
    "CELERY_TASK_ALWAYS_EAGER": False,
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "FIELD_ENCRYPTION_KEY": FERNET_KEY,
    "TRUSTED_PROXIES": ["172.30.250.2"],
}


@pytest.mark.parametrize(
    ("changes", "named", "code"),
    [
        ({"CELERY_TASK_ALWAYS_EAGER": True}, "CELERY_BROKER_URL", "portal.E001"),
        ({"CELERY_BROKER_URL": "memory://"}, "CELERY_BROKER_URL", "portal.E001"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "EMAIL_BACKEND", "portal.E002"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}, "EMAIL_BACKEND", "portal.E002"),
        ({"EMAIL_BACKEND": "core.mail.StderrEmailBackend"}, "EMAIL_BACKEND", "portal.E002"),
        ({"FIELD_ENCRYPTION_KEY": "change-me-generate-a-fernet-key"}, "FIELD_ENCRYPTION_KEY", "portal.E004"),
        ({"FIELD_ENCRYPTION_KEY": FERNET_KEY, "SECRET_KEY": FERNET_KEY}, "FIELD_ENCRYPTION_KEY", "portal.E005"),
        ({"TRUSTED_PROXIES": ["0.0.0.0/0"]}, "TRUSTED_PROXIES", "portal.E008"),
        ({"TRUSTED_PROXIES": ["nginx"]}, "TRUSTED_PROXIES", "portal.E007"),
    ],
)
def test_unsafe_values_are_errors_naming_the_setting(changes: dict[str, Any], named: str, code: str) -> None:
    with override_settings(**{**SAFE_SETTINGS, **changes}):
        errors = deployment_checks()

    assert [error.id for error in errors] == [code]
    assert named in errors[0].msg


def test_safe_values_pass(tmp_path: Path) -> None:
    with override_settings(**SAFE_SETTINGS, STORAGE_DIR=tmp_path / "storage", STATIC_ROOT=tmp_path / "static", MEDIA_ROOT=""):
        assert deployment_checks() == []
