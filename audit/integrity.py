"""Verifying the audit log as a whole: the hash chain, the rows' keyed seals and the checkpoints.

``verify`` walks the rows once, in ``seq`` order, and reports every problem it finds (up to a
limit), each with the kind of tampering it points to:

- ``deleted``    a sequence number is missing (a row was removed from the middle);
- ``rewritten``  a row's content no longer matches its hash, the link to its predecessor is broken,
                 or the row held at a checkpoint has another hash now (a row changed, and perhaps
                 every later hash recomputed);
- ``forged``     a row's seal is missing or wrong (written by someone without the key, or rewritten);
- ``truncated``  the log ends before the head recorded by a checkpoint (rows cut off the end);
- ``checkpoint`` the checkpoint file itself was changed, or lost a checkpoint the log says was written.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import chain
from .checkpoints import Checkpoint, FileReading

MAX_PROBLEMS = 50
CHECKPOINT_ACTION = "audit.checkpoint"


@dataclass(frozen=True)
class Problem:
    kind: str
    seq: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "message": self.message}


@dataclass
class Report:
    events: int = 0
    head_seq: int = 0
    head_hash: str = chain.GENESIS_HASH
    sealed: bool = False
    checkpoint: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0), default=None)

    def add(self, kind: str, seq: int | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, seq, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact, "events": self.events, "head_seq": self.head_seq, "head_hash": self.head_hash,
            "sealed": self.sealed,
            "checkpoint": None if self.checkpoint is None else {
                "seq": self.checkpoint.seq, "at": self.checkpoint.at, "reason": self.checkpoint.reason},
            "problems": [p.as_dict() for p in self.problems], "warnings": self.warnings,
        }


def verify(rows: Iterable[Mapping[str, Any]], *, key: bytes | None, checkpoints: FileReading | None = None) -> Report:
    """Check ``rows`` (dicts with ``seq``, ``prev_hash``, ``row_hash``, ``row_mac`` and the chained
    fields, in ``seq`` order) against their chain, their seals under ``key`` and ``checkpoints``."""
    report = Report(sealed=key is not None)
    reading = checkpoints or FileReading()
    for text in reading.problems:
        report.add("checkpoint", None, text)
    at_checkpoint: dict[int, Checkpoint] = {}
    for checkpoint in reading.checkpoints:
        at_checkpoint.setdefault(checkpoint.seq, checkpoint)
        if at_checkpoint[checkpoint.seq].row_hash != checkpoint.row_hash:
            report.add("checkpoint", checkpoint.seq,
                       f"チェックポイントファイル {checkpoint.line} 行目が同じ連番に別のハッシュを記録しています")
    latest = reading.latest
    report.checkpoint = latest
    mac_from = min((c.mac_from for c in reading.checkpoints if c.mac_from is not None), default=None)
    seen_sealed = False
    recorded_seals: list[tuple[int, int]] = []  # (seq of the checkpoint event, seq it sealed)

    expected_prev = chain.GENESIS_HASH
    expected_seq = 1
    head_seq, head_hash = 0, chain.GENESIS_HASH
    row_hash, row_mac, compare = chain.row_hash, chain.row_mac, hmac.compare_digest  # looked up once: once per row adds up
    for row in rows:
        seq = int(row["seq"])
        stored_prev, stored_hash = row["prev_hash"], row["row_hash"]
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}〜{seq - 1}"
            report.add("deleted", expected_seq, f"連番 {missing} の行がありません（削除）")
        elif stored_prev != expected_prev:
            report.add("rewritten", seq, f"連番 {seq} の直前ハッシュが前の行と一致しません（書き換え）")
        if row_hash(stored_prev, row) != stored_hash:
            report.add("rewritten", seq, f"連番 {seq} の内容がハッシュと一致しません（書き換え）")
        if key is not None:
            mac = row.get("row_mac") or ""
            if mac:
                seen_sealed = True
                if not compare(mac, row_mac(key, stored_hash)):
                    report.add("forged", seq, f"連番 {seq} の封印（HMAC）が一致しません（鍵を持たない者による書き込み・書き換え）")
            elif seen_sealed or (mac_from is not None and seq >= mac_from):
                report.add("forged", seq, f"連番 {seq} に封印（HMAC）がありません（鍵を持たない者による書き込み）")
        if at_checkpoint:
            sealed_here = at_checkpoint.get(seq)
            if sealed_here is not None and sealed_here.row_hash != stored_hash:
                report.add("rewritten", seq, f"連番 {seq} のハッシュが {sealed_here.at} のチェックポイントと異なります（書き換え後の再計算）")
        if row.get("action") == CHECKPOINT_ACTION:
            detail = row.get("detail") or {}
            sealed = detail.get("sealed_seq") if isinstance(detail, Mapping) else None
            recorded_seals.append((seq, int(sealed) if isinstance(sealed, int) else seq))
        expected_prev = stored_hash
        expected_seq = seq + 1
        head_seq, head_hash = seq, stored_hash
        report.events += 1
    report.head_seq, report.head_hash = head_seq, head_hash

    if latest is not None and report.head_seq < latest.seq:
        cut = latest.seq - report.head_seq
        report.add("truncated", report.head_seq + 1,
                   f"ログは連番 {report.head_seq} で終わっていますが、{latest.at} のチェックポイントは連番 {latest.seq} まで記録しています"
                   f"（末尾の {cut} 行が削除）")
    # Checkpoints the log says were written must be in the file (only when the file was read: a
    # restored copy of the database is checked without it).
    if key is not None and checkpoints is not None and reading.exists:
        sealed_seqs = {c.seq for c in reading.checkpoints}
        for seq, sealed in recorded_seals:
            if sealed not in sealed_seqs:
                report.add("checkpoint", seq, f"連番 {seq} で書いたチェックポイントがファイルにありません（ファイルの削除・切り詰め）")
    elif key is not None and checkpoints is not None and recorded_seals:
        report.add("checkpoint", recorded_seals[-1][0], "ログにはチェックポイントの記録がありますが、チェックポイントファイルがありません")

    if key is None:
        report.warnings.append("AUDIT_HMAC_KEY が設定されていないため、封印とチェックポイントを検証できません")
    elif checkpoints is not None and latest is None:
        report.warnings.append("チェックポイントがまだありません（末尾の削除は検出できません）")
    return report
