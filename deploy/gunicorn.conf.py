"""gunicorn settings for the portal (``gunicorn -c deploy/gunicorn.conf.py``).

gunicorn sits behind nginx (deploy/nginx/portal.conf.template), which terminates TLS 1.3,
verifies the client certificate and buffers request bodies. Only nginx may reach it.

Under production settings the server refuses to start while ``manage.py check --deploy`` reports
an error (``on_starting``; agency/checks.py).

Environment:
    GUNICORN_BIND                 comma-separated addresses to listen on (default 127.0.0.1:8000;
                                  the container listens on its edge-network address, which only
                                  nginx can reach, and on loopback for the health check)
    GUNICORN_WORKERS              worker processes (default 2 x CPUs + 1, at most 8)
    GUNICORN_THREADS              threads per worker; above 1 switches to the gthread worker (default 1)
    GUNICORN_TIMEOUT              seconds before a silent worker is killed (default 60; nginx
                                  waits 75 s, so gunicorn always gives up first)
    GUNICORN_FORWARDED_ALLOW_IPS  comma-separated IPs/CIDRs allowed to set X-Forwarded-Proto:
                                  the nginx container and loopback only (default 127.0.0.1,::1)
    GUNICORN_LOG_LEVEL            default info
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cpus + 1, 8)


wsgi_app = "agency.wsgi:application"
proc_name = "portal"

bind = [item.strip() for item in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if item.strip()]
workers = _env_int("GUNICORN_WORKERS", _default_workers())
threads = _env_int("GUNICORN_THREADS", 1)

timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then so slow leaks cannot accumulate.
max_requests = 1000
max_requests_jitter = 100

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers (gunicorn docs, "Blocking os.fchmod").
if os.path.isdir("/dev/shm"):  # noqa: S108 - a tmpfs is what is wanted here
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# Only nginx (and loopback, for the container health check) may declare the request secure.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# nginx forwards the client certificate as a URL-encoded PEM in X-SSL-Client-Cert (a few KiB).
limit_request_field_size = 16384

# No runtime control socket: nothing inside the container should resize or stop the server.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path WITHOUT the query string; %(r)s and %(q)s would log it, so they are not used.
access_log_format = (
    '%(t)s rid=%({x-request-id}i)s client=%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
)


def on_starting(server: object) -> None:
    """Under production settings, refuse to start while ``manage.py check --deploy`` reports an error:
    an unsafe configuration (no broker, no real e-mail backend, no field-encryption key of its own,
    no trusted proxy, storage inside the web root) stops the server, naming the setting."""
    if os.environ.get("DJANGO_SETTINGS_MODULE") != "agency.settings.production":
        return
    import django  # Django is set up only when the server starts, not whenever this file is read
    from django.core.management import call_command  # the same

    django.setup()
    call_command("check", deploy=True, fail_level="ERROR")
