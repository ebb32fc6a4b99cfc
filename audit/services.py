"""Writing audit events. Every audited action in the portal goes through ``audit_record``."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.http import client_ip

from . import chain
from .models import AuditEvent, Outcome

if TYPE_CHECKING:
    from django.http import HttpRequest

_CHAIN_LOCK_KEY = 0x6175646974  # "audit"
_MASKED_KEYS = ("password", "secret", "token", "otp", "key", "account_number", "passphrase")


def _mask(detail: Mapping[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in detail.items():
        if any(word in key.lower() for word in _MASKED_KEYS):
            masked[key] = "***"
        elif isinstance(value, Mapping):
            masked[key] = _mask(value)
        else:
            masked[key] = value
    # Round-trip through JSON so that what is hashed is exactly what the database returns.
    return json.loads(json.dumps(masked, cls=DjangoJSONEncoder, ensure_ascii=False))


def _normalize_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _lock_chain() -> None:
    """Serialise appends so that each row links to the committed previous row."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions start IMMEDIATE (settings), so the writer already holds the only write lock.


def _request_fields(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {}

    session_key = getattr(getattr(request, "session", None), "session_key", None) or ""
    return {
        "ip": client_ip(request),
        "method": request.method or "",
        "path": request.path[:500],
        "request_id": getattr(request, "request_id", ""),
        "session_hash": hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else "",
    }


def audit_record(
    *,
    action: str,
    actor: Any = None,
    request: HttpRequest | None = None,
    outcome: str = Outcome.SUCCESS,
    object_type: str = "",
    object_ids: Iterable[Any] = (),
    detail: Mapping[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction when there is one.

    ``actor`` defaults to the request's authenticated user. ``actor_label`` names an actor that is
    not a user (a system job, or the user name typed into a failed login).
    """
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    fields: dict[str, Any] = {
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": (actor.get_username() if actor is not None else actor_label)[:150],
        "actor_role": getattr(actor, "role", "") or "",
        "tenant": getattr(actor, "tenant_label", "") if actor is not None else "",
        "action": action,
        "outcome": str(outcome),
        "object_type": object_type,
        "object_ids": [str(i) for i in object_ids],
        "ip": None,
        "method": "",
        "path": "",
        "request_id": "",
        "session_hash": "",
        "detail": _mask(detail or {}),
    }
    fields.update(_request_fields(request))
    fields["ip"] = _normalize_ip(fields["ip"])
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-seq").values("seq", "row_hash").first()
        fields["seq"] = last["seq"] + 1 if last else 1
        prev_hash = last["row_hash"] if last else chain.GENESIS_HASH
        event = AuditEvent(**fields, prev_hash=prev_hash, row_hash=chain.row_hash(prev_hash, fields))
        event.save(force_insert=True)
    return event
