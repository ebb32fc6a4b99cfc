"""Deployment checks (``manage.py check --deploy``): a configuration that would be unsafe in production
is an error that names its setting.

* ``CELERY_BROKER_URL``: without a broker Celery runs every task inside the web request that queued
  it (a gunicorn timeout then kills the check of an archive half-way);
* ``EMAIL_BACKEND``: the console, standard-error, in-memory, file and dummy backends deliver nothing
  (a one-time password reset link would be printed to a log);
* ``FIELD_ENCRYPTION_KEY``: a key of its own (a Fernet key), not one derived from ``SECRET_KEY``, so
  that the stored secrets do not fall with the one key every process and log line is closest to;
* ``TRUSTED_PROXIES``: the address of the TLS proxy, without which client addresses, client
  certificates and request ids cannot be taken from it (and a network of everyone is refused);
* ``STORAGE_DIR``: received archives and backups outside every directory the web server serves
  (``STATIC_ROOT``, ``MEDIA_ROOT``, ``STATICFILES_DIRS``).

Production settings are checked this way in CI and before every deployment (``.ci/run``,
``deploy/gunicorn.conf.py`` refuses to start the web server while an error is reported).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error

UNDELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "core.mail.StderrEmailBackend",
}


def _broker() -> list[CheckMessage]:
    url = settings.CELERY_BROKER_URL or ""
    if settings.CELERY_TASK_ALWAYS_EAGER or not url or url.startswith("memory://"):
        return [
            Error(
                "CELERY_BROKER_URL is not set to a real broker: Celery would run every task inside the web request "
                "that queued it.",
                hint="Set CELERY_BROKER_URL to the Redis broker (redis://:password@redis:6379/0) and run a worker and beat.",
                id="portal.E001",
            )
        ]
    return []


def _email() -> list[CheckMessage]:
    if settings.EMAIL_BACKEND in UNDELIVERING_EMAIL_BACKENDS:
        return [
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which delivers nothing: password reset links and "
                "notices would be printed or kept in memory instead of sent.",
                hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS.",
                id="portal.E002",
            )
        ]
    return []


def _field_key() -> list[CheckMessage]:
    hint = 'Generate one: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    key = settings.FIELD_ENCRYPTION_KEY or ""
    if not key:
        return [
            Error(
                "FIELD_ENCRYPTION_KEY is not set: stored secrets would be encrypted with a key derived from SECRET_KEY.",
                hint=hint,
                id="portal.E003",
            )
        ]
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return [Error("FIELD_ENCRYPTION_KEY is not a Fernet key (32 bytes, URL-safe base64).", hint=hint, id="portal.E004")]
    if key == settings.SECRET_KEY:
        return [Error("FIELD_ENCRYPTION_KEY must not be the SECRET_KEY.", hint=hint, id="portal.E005")]
    return []


def _trusted_proxies() -> list[CheckMessage]:
    entries = list(settings.TRUSTED_PROXIES)
    if not entries:
        return [
            Error(
                "TRUSTED_PROXIES is empty: behind the TLS proxy, client addresses, client certificates and request "
                "ids could not be taken from it (the API refuses every machine client, lockout counts the proxy).",
                hint="Set TRUSTED_PROXIES to the proxy's address (docker-compose.yml passes NGINX_EDGE_IP).",
                id="portal.E006",
            )
        ]
    errors: list[CheckMessage] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(Error(f"TRUSTED_PROXIES holds {entry!r}, which is no address or network.", id="portal.E007"))
            continue
        if network.prefixlen == 0:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES holds {entry}, which trusts every address: anyone could set the proxy's headers.",
                    hint="List only the TLS proxy's own address.",
                    id="portal.E008",
                )
            )
    return errors


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _web_roots() -> Iterable[tuple[str, Path]]:
    if settings.STATIC_ROOT:
        yield "STATIC_ROOT", Path(settings.STATIC_ROOT)
    if settings.MEDIA_ROOT:
        yield "MEDIA_ROOT", Path(settings.MEDIA_ROOT)
    for entry in settings.STATICFILES_DIRS:
        yield "STATICFILES_DIRS", Path(str(entry[1] if isinstance(entry, tuple) else entry))


def _storage() -> list[CheckMessage]:
    storage = Path(settings.STORAGE_DIR).resolve()
    errors: list[CheckMessage] = []
    for name, root in _web_roots():
        root = root.resolve()
        if _inside(storage, root) or _inside(root, storage):
            errors.append(
                Error(
                    f"STORAGE_DIR ({storage}) lies inside {name} ({root}) or contains it: received archives would be "
                    "reachable through the web server.",
                    hint="Keep STORAGE_DIR outside every directory the web server serves (docker-compose.yml: /srv/storage).",
                    id="portal.E009",
                )
            )
    return errors


def deployment_checks(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [*_broker(), *_email(), *_field_key(), *_trusted_proxies(), *_storage()]
