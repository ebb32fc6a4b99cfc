"""Keyed checkpoints of the audit chain's head, kept outside the database.

A checkpoint says "the log held rows 1..seq and row seq had this hash", sealed with an HMAC under
``AUDIT_HMAC_KEY`` (a key the database never holds). Checkpoints are appended, one JSON object a
line, to ``AUDIT_CHECKPOINT_DIR/audit-checkpoints.jsonl`` (opened with ``O_APPEND``; the operator
may also make it append-only in the file system, ``chattr +a``). Each line names the seal of the line
before it, so a line removed from the middle of the file, or changed, shows.

With the rows' own seals (``row_mac``) this catches what the plain hash chain cannot: rows cut off
the end of the log (the log ends before the latest checkpoint), a rewritten row whose successors'
hashes were all recomputed (the hash at a checkpoint differs, and the seals no longer match), and a
row appended by someone without the key (its seal is missing or wrong).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from . import chain

FILE_NAME = "audit-checkpoints.jsonl"
FORMAT_VERSION = 1
GENESIS_SEAL = "0" * 64
SEALED_FIELDS = ("v", "seq", "row_hash", "mac_from", "at", "reason", "note", "key", "prev")


class CheckpointError(Exception):
    """A checkpoint cannot be written (no key configured, the directory is not writable)."""


def configured_key() -> bytes | None:
    """The HMAC key from the environment (``AUDIT_HMAC_KEY``), or None when none is configured."""
    raw = getattr(settings, "AUDIT_HMAC_KEY", "") or ""
    return raw.encode("utf-8") if raw else None


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def seal(key: bytes, entry: dict[str, Any]) -> str:
    payload = {name: entry.get(name) for name in SEALED_FIELDS}
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, b"audit-checkpoint\x00" + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    row_hash: str
    mac_from: int | None
    at: str
    reason: str
    note: str
    seal: str

    @classmethod
    def from_entry(cls, line: int, entry: dict[str, Any]) -> Checkpoint:
        return cls(
            line=line, seq=int(entry["seq"]), row_hash=str(entry["row_hash"]),
            mac_from=int(entry["mac_from"]) if entry.get("mac_from") is not None else None,
            at=str(entry.get("at", "")), reason=str(entry.get("reason", "")), note=str(entry.get("note", "")),
            seal=str(entry["seal"]),
        )

    def as_line(self) -> str:
        return json.dumps({"seq": self.seq, "row_hash": self.row_hash, "at": self.at, "reason": self.reason,
                           "note": self.note, "seal": self.seal}, ensure_ascii=False)


@dataclass
class FileReading:
    """The checkpoints of the file whose seals hold, and what is wrong with the file."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exists: bool = False

    @property
    def latest(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda c: (c.seq, c.line), default=None)

    @property
    def seals(self) -> set[str]:
        return {c.seal for c in self.checkpoints}


class CheckpointFile:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or checkpoint_dir()
        self.path = self.directory / FILE_NAME

    @contextlib.contextmanager
    def _locked(self) -> Iterator[IO[bytes]]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CheckpointError(f"cannot open the checkpoint file {self.path}: {exc}") from exc
        with os.fdopen(descriptor, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _last_entry(handle: IO[bytes]) -> dict[str, Any] | None:
        handle.seek(0)
        last = None
        for raw in handle:
            if raw.strip():
                last = raw
        if last is None:
            return None
        try:
            entry = json.loads(last)
        except ValueError:
            return None
        return entry if isinstance(entry, dict) else None

    def append(self, *, key: bytes, seq: int, row_hash: str, mac_from: int | None, reason: str, note: str = "",
               at: dt.datetime) -> Checkpoint:
        """Seal the head ``seq``/``row_hash`` and append it; the new line names the seal of the last one."""
        with self._locked() as handle:
            previous = self._last_entry(handle)
            entry: dict[str, Any] = {
                "v": FORMAT_VERSION, "seq": seq, "row_hash": row_hash, "mac_from": mac_from,
                "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"), "reason": reason, "note": note[:200],
                "key": chain.key_id(key), "prev": str(previous.get("seal", GENESIS_SEAL)) if previous else GENESIS_SEAL,
            }
            entry["seal"] = seal(key, entry)
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            line = sum(1 for _ in self.path.open("rb"))
        return Checkpoint.from_entry(line, entry)

    def read(self, key: bytes) -> FileReading:
        """Every line checked: its seal under ``key``, and its link to the line before it."""
        reading = FileReading()
        try:
            raw_lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return reading
        except OSError as exc:
            reading.problems.append(f"チェックポイントファイルを読めません: {exc}")
            return reading
        reading.exists = True
        expected_prev = GENESIS_SEAL
        own_key = chain.key_id(key)
        last_seq = -1
        for number, raw in enumerate(raw_lines, start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
                checkpoint = Checkpoint.from_entry(number, entry)
            except (ValueError, KeyError, TypeError):
                reading.problems.append(f"チェックポイントファイル {number} 行目を読めません")
                continue
            if entry.get("key") != own_key:
                reading.problems.append(f"チェックポイントファイル {number} 行目は別の鍵で封印されています")
                continue
            if not hmac.compare_digest(seal(key, entry), checkpoint.seal):
                reading.problems.append(f"チェックポイントファイル {number} 行目の封印が一致しません（書き換え）")
                continue
            if entry.get("prev") != expected_prev:
                reading.problems.append(f"チェックポイントファイル {number} 行目の前に、あるはずの行がありません（削除・書き換え）")
            if checkpoint.seq < last_seq:
                reading.problems.append(f"チェックポイントファイル {number} 行目の連番が前の行より小さくなっています")
            expected_prev = checkpoint.seal
            last_seq = max(last_seq, checkpoint.seq)
            reading.checkpoints.append(checkpoint)
        return reading

    def write_copy(self, target: Path, checkpoint: Checkpoint) -> None:
        """A copy of one checkpoint beside a file that leaves the host with it (a backup)."""
        target.write_text(checkpoint.as_line() + "\n", encoding="utf-8")
