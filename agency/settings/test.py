"""Test settings: the same stack, faster hashing (tests that check hashing override this)."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "test-only-key-6b1e0f4a2c8d9e7f5a3b1c0d2e4f6a8b")
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
STORAGE_DIR = VAR_DIR / "test-storage"  # noqa: F405

VAR_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405

PORTAL_DEMO = True
# The test client's requests are not traffic to judge; the tests of compliance.transport switch it on.
COMPLIANCE_TRANSPORT_RECORD = False
AUDIT_HMAC_KEY = env_str("AUDIT_HMAC_KEY", "test-only-audit-hmac-key-8d4b2f6a0c1e3b5d7f9a")
