"""What reaches the portal, as it reaches it: evidence for the TLS probe that what is served is what the
nginx configuration promises (TLS 1.3, client certificates, nothing around the proxy).

Each request is judged from how it arrived (``judge``): through the trusted TLS proxy with the
headers only the portal's nginx configuration sets (``X-SSL-Protocol``, ``X-SSL-Client-Verify``), or
over plain HTTP, around the proxy, through a proxy without that configuration, with an older TLS, or
without a client certificate. Counts per day and kind are kept in ``TransportSighting``, written at
most once per ``COMPLIANCE_TRANSPORT_RECORD_SECONDS`` per kind and process (requests in between are
added to the next write), so the record costs almost nothing per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from core.http import is_trusted_proxy

from .models import TransportKind, TransportSighting

logger = logging.getLogger(__name__)

EXEMPT_PATHS = ("/healthz",)  # the container's own health check, on loopback
PUBLIC_PREFIXES = ("/disclosure/", "/static/")  # what the public server name serves without a client certificate
SAFE_KINDS = (TransportKind.SECURE, TransportKind.PUBLIC)

_lock = threading.Lock()
_pending: Counter[str] = Counter()
_written: dict[str, float] = {}


def judge(request: HttpRequest) -> TransportKind:
    meta = request.META
    if not is_trusted_proxy(meta.get("REMOTE_ADDR", "")):
        return TransportKind.PLAIN_HTTP if meta.get("wsgi.url_scheme", "http") == "http" else TransportKind.DIRECT
    if meta.get("HTTP_X_FORWARDED_PROTO", "") != "https":
        return TransportKind.PLAIN_HTTP
    protocol = meta.get("HTTP_X_SSL_PROTOCOL", "")
    if not protocol:
        return TransportKind.UNCONFIGURED_PROXY
    if protocol != "TLSv1.3":
        return TransportKind.OLD_TLS
    if request.path.startswith(PUBLIC_PREFIXES):
        return TransportKind.PUBLIC
    if meta.get("HTTP_X_SSL_CLIENT_VERIFY", "") != "SUCCESS":
        return TransportKind.NO_CLIENT_CERTIFICATE
    return TransportKind.SECURE


def observe(request: HttpRequest) -> None:
    """Count this request's way in; write the count when this kind was last written long enough ago."""
    if request.path in EXEMPT_PATHS or not settings.COMPLIANCE_TRANSPORT_RECORD:
        return
    kind = judge(request)
    now = time.monotonic()
    with _lock:
        _pending[kind] += 1
        if now - _written.get(kind, float("-inf")) < settings.COMPLIANCE_TRANSPORT_RECORD_SECONDS:
            return
        count = _pending.pop(kind)
        _written[kind] = now
    detail = f"{request.method} {request.path[:200]} from {request.META.get('REMOTE_ADDR', '')}"
    try:
        _record(kind, count, detail)
    except DatabaseError:
        logger.exception("the transport of a request could not be recorded")


def _record(kind: str, count: int, detail: str) -> None:
    now = timezone.now()
    day = timezone.localdate(now)
    rows = TransportSighting.objects.filter(day=day, kind=kind)
    with transaction.atomic():
        if rows.update(count=F("count") + count, last_seen_at=now, last_detail=detail):
            return
        try:
            with transaction.atomic():
                TransportSighting.objects.create(day=day, kind=kind, count=count, last_seen_at=now, last_detail=detail)
        except IntegrityError:  # created by another process meanwhile
            rows.update(count=F("count") + count, last_seen_at=now, last_detail=detail)


def forget() -> None:
    """Drop what this process has counted but not written (tests, and a fresh start)."""
    with _lock:
        _pending.clear()
        _written.clear()
