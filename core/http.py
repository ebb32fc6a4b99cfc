"""Facts about the HTTP client (proxy headers trusted only from the configured proxies) and the typed
shape of a request as the portal's middleware leaves it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol, cast

from django.conf import settings
from django.http import HttpRequest


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str:
    """The client's address: X-Forwarded-For's last hop when the peer is a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and is_trusted_proxy(remote):
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return remote
    return remote


def axes_client_ip(request: HttpRequest, *args: Any) -> str:
    return client_ip(request)


class AuditTrail(Protocol):
    """What the audit middleware attaches to every request as ``request.audit``."""

    action: str
    denied: bool
    detail: dict[str, Any]

    def touch(self, object_type: str, ids: Iterable[Any]) -> None: ...

    def deny(self, object_type: str, ident: Any) -> None: ...


class PortalUser(Protocol):
    """The parts of an authenticated user that scoping and auditing read."""

    pk: Any
    role: str
    insurer_id: int | None
    institution_id: int | None
    is_authenticated: bool

    def get_username(self) -> str: ...


class PortalRequest(HttpRequest):
    """A request after the portal's middleware (for type annotations of views)."""

    audit: AuditTrail
    request_id: str


class AuthenticatedHttpRequest(PortalRequest):
    """A request of a logged-in user (views behind the login and permission checks)."""

    user: PortalUser  # type: ignore[assignment]


def request_audit(request: HttpRequest) -> AuditTrail:
    """The request's audit trail (what the view touched, whether access was denied)."""
    return cast(AuditTrail, request.audit)  # type: ignore[attr-defined]
