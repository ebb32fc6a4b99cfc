"""Local development and the embedded demo: SQLite under var/, Celery eager, e-mail printed to standard error."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env_bool, env_list, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-3f9a1c7e5b2d4f6a8c0e")

VAR_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405

PORTAL_DEMO = True
# The development server is reached on loopback: a machine client there (a newcomer's test script, or
# nginx in front of runserver) may present its client certificate headers as the TLS proxy would.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")
# A development key, so that the demo seals its audit rows and checkpoints like production does.
AUDIT_HMAC_KEY = env_str("AUDIT_HMAC_KEY", "dev-only-audit-hmac-key-5c2e9a1f7b3d8e4a6c0f2b9d")
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")
