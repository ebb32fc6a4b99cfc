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


_BULK_COLUMNS = (*chain.CHAINED_FIELDS, "prev_hash", "row_hash", "row_mac")


def audit_record_many(events: Iterable[Mapping[str, Any]], *, batch_size: int = 5_000) -> int:
    """Append many events at once, in the order given: the bulk path for loading history (``build_year``).

    Each event is a mapping of the stored fields: ``occurred_at`` (aware), ``action`` and optionally
    ``actor`` (a user) or ``actor_label``, ``outcome``, ``object_type``, ``object_ids``, ``ip``, ``method``,
    ``path``, ``request_id``, ``session_hash``, ``detail`` (masked as in ``audit_record``). The events of
    one batch are chained and sealed exactly as ``audit_record`` does, under the same lock, and written
    in one statement (PostgreSQL ``COPY``, elsewhere ``bulk_create``) in one transaction: a batch is
    appended whole or not at all. Returns the number of events appended.
    """
    key = configured_key()
    appended = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal appended
        with transaction.atomic():
            _lock_chain()
            last = AuditEvent.objects.order_by("-seq").values("seq", "row_hash").first()
            seq = last["seq"] if last else 0
            prev_hash = last["row_hash"] if last else chain.GENESIS_HASH
            for fields in batch:
                seq += 1
                fields["seq"] = seq
                fields["prev_hash"] = prev_hash
                prev_hash = fields["row_hash"] = chain.row_hash(prev_hash, fields)
                fields["row_mac"] = chain.row_mac(key, prev_hash) if key else ""
            if connection.vendor == "postgresql":
                _copy_events(batch)
            else:
                AuditEvent.objects.bulk_create([AuditEvent(**fields) for fields in batch])
        appended += len(batch)
        batch.clear()

    for event in events:
        actor = event.get("actor")
        batch.append({
            "occurred_at": event["occurred_at"],
            "actor_id": actor.pk if actor is not None else None,
            "actor_label": (actor.get_username() if actor is not None else event.get("actor_label", ""))[:150],
            "actor_role": getattr(actor, "role", "") or "",
            "tenant": getattr(actor, "tenant_label", "") if actor is not None else "",
            "action": event["action"],
            "outcome": str(event.get("outcome", Outcome.SUCCESS)),
            "object_type": event.get("object_type", ""),
            "object_ids": [str(i) for i in event.get("object_ids", ())],
            "ip": _normalize_ip(event.get("ip")),
            "method": event.get("method", ""),
            "path": event.get("path", "")[:500],
            "request_id": event.get("request_id", ""),
            "session_hash": event.get("session_hash", ""),
            "detail": _mask(event.get("detail") or {}),
        })
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return appended


def _copy_events(rows: list[dict[str, Any]]) -> None:
    """Write chained rows with PostgreSQL's COPY (psycopg), the JSON fields as JSON text."""
    table = AuditEvent._meta.db_table
    columns = ", ".join(_BULK_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for fields in rows:
            copy.write_row([
                json.dumps(fields[name], ensure_ascii=False) if name in ("object_ids", "detail") else fields[name]
                for name in _BULK_COLUMNS
            ])


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
