"""The hash chain over audit events: one canonical form, used when writing and when verifying.

``row_hash`` links each row to the previous one with plain SHA-256, so anyone can recompute it:
it proves order and content only together with something an intruder cannot recompute. That is
``row_mac``, an HMAC of the row hash under ``AUDIT_HMAC_KEY`` (a key kept outside the database),
and the keyed checkpoints of the chain head written outside the database (``audit.checkpoints``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

GENESIS_HASH = "0" * 64

# The fields covered by the hash, in a fixed order. Timestamps enter as integer epoch microseconds
# so that the hash does not depend on how a database renders time zones.
CHAINED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "actor_role",
    "tenant",
    "action",
    "outcome",
    "object_type",
    "object_ids",
    "ip",
    "method",
    "path",
    "request_id",
    "session_hash",
    "detail",
)


def epoch_microseconds(moment: datetime) -> int:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("audit timestamps must be timezone-aware")
    delta = moment.replace(tzinfo=None) - offset - datetime(1970, 1, 1)  # noqa: DTZ001 - naive UTC arithmetic
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# One encoder, built once: ``json.dumps`` with options builds a new one on every call, and the
# canonical form is computed for every row written and every row verified.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
# Its C core (when the interpreter has it), called directly: ``JSONEncoder.encode`` builds it anew
# on every call. No cycle check is needed: what is hashed came from JSON text or from ``_mask``.
_C_ENCODE = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, True)
    if c_make_encoder is not None else None
)
_SORTED_FIELDS = tuple(sorted(CHAINED_FIELDS))
_take_fields = operator.itemgetter(*_SORTED_FIELDS)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The row as compact JSON with sorted keys; ``occurred_at`` as epoch microseconds (a datetime or that integer)."""
    try:
        payload = dict(zip(_SORTED_FIELDS, _take_fields(fields), strict=True))
    except KeyError:  # a field left out counts as null
        payload = {name: fields.get(name) for name in _SORTED_FIELDS}
    moment = payload["occurred_at"]
    if not isinstance(moment, int):
        payload["occurred_at"] = epoch_microseconds(moment)
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(payload, 0)).encode("utf-8")
    return _ENCODER.encode(payload).encode("utf-8")


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def row_mac(key: bytes, row_hash_hex: str) -> str:
    """The keyed seal of one row: HMAC-SHA256 of its row hash (which covers its content and its predecessor)."""
    return hmac.digest(key, b"audit-row\x00" + row_hash_hex.encode("ascii"), "sha256").hex()


def key_id(key: bytes) -> str:
    """A short public name of a key, so that a checkpoint says which key sealed it without revealing it."""
    return hashlib.sha256(b"audit-key-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify(rows: Iterable[Mapping[str, Any]]) -> ChainBreak | None:
    """Walk rows in ``seq`` order; return the first break, or None when the chain is intact."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return ChainBreak(expected_seq, f"row {expected_seq} is missing (next row is {seq})")
        if row["prev_hash"] != expected_prev:
            return ChainBreak(seq, "prev_hash does not match the previous row")
        if row_hash(row["prev_hash"], row) != row["row_hash"]:
            return ChainBreak(seq, "row content does not match its hash")
        expected_prev = row["row_hash"]
        expected_seq = seq + 1
    return None
