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
from .checkpoints import Checkpoint, CheckpointError, CheckpointFile, configured_key
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
        digest = chain.row_hash(prev_hash, fields)
        key = configured_key()
        event = AuditEvent(**fields, prev_hash=prev_hash, row_hash=digest, row_mac=chain.row_mac(key, digest) if key else "")
        event.save(force_insert=True)
    return event


def _first_sealed_seq() -> int | None:
    return AuditEvent.objects.exclude(row_mac="").order_by("seq").values_list("seq", flat=True).first()


def audit_checkpoint_write(
    *, reason: str, note: str = "", head: tuple[int, str] | None = None, directory: Any = None,
) -> Checkpoint:
    """Seal the chain's head into the checkpoint file outside the database, and log it.

    Without ``head`` the event ``audit.checkpoint`` is written first and the head sealed is that
    event itself, so the checkpoint covers every row up to and including the record of its writing.
    With ``head`` (seq and hash taken elsewhere, e.g. in a backup's snapshot) that head is sealed and
    the event names it. The file is written inside the event's transaction, after the insert: a
    failure leaves neither. Raises ``CheckpointError`` without a key (``AUDIT_HMAC_KEY``) or a
    writable directory.
    """
    key = configured_key()
    if key is None:
        raise CheckpointError("AUDIT_HMAC_KEY is not set: audit checkpoints cannot be sealed")
    store = CheckpointFile(directory)
    detail: dict[str, Any] = {"reason": reason, "file": str(store.path)}
    if note:
        detail["note"] = note[:200]
    with transaction.atomic():
        if head is not None:
            detail["sealed_seq"] = head[0]
        event = audit_record(action="audit.checkpoint", actor_label="system", object_type="audit_event",
                             object_ids=[head[0] if head else "self"], detail=detail)
        sealed = head if head is not None else (event.seq, event.row_hash)
        checkpoint = store.append(
            key=key, seq=sealed[0], row_hash=sealed[1], mac_from=_first_sealed_seq(), reason=reason, note=note,
            at=timezone.now(),
        )
    return checkpoint
