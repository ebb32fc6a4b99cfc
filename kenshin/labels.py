"""What each coded value means: one table per code system, for every page and document that shows a code.

- Answer codes of the coded checkup items (CD/CO), by the answer's code system (OID):
  ``data/answer_codes.csv``, authored from the 第4期 item tables' notes (one row per OID and code).
- The 別表 codes of the settlement: 性別, 請求区分 (別表7), 窓口負担 (別表6), 委託料単価区分
  (別表15), 詳細な健診の項目 (別表8); the enums are in ``codes``, their meanings here.

``coded(label_table, code)`` shows a code as people read it: "基本的な健診（1）"; an unknown code
stays as it was written.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

from .codes import SERVICE_EVENT_TYPES, ClaimType, CommissionType, CopayCode, DetailItem

ANSWER_CODES_PATH: Final = Path(__file__).with_name("data") / "answer_codes.csv"

SEX: Final[Mapping[str, str]] = MappingProxyType({"1": "男", "2": "女"})
CLAIM_TYPE: Final[Mapping[str, str]] = MappingProxyType({
    ClaimType.BASIC: "基本的な健診",
    ClaimType.BASIC_DETAIL: "基本＋詳細",
    ClaimType.BASIC_OTHER: "基本＋追加",
    ClaimType.BASIC_DETAIL_OTHER: "基本＋詳細＋追加",
    ClaimType.HUMAN_DOCK: "人間ドック",
})
COPAY: Final[Mapping[str, str]] = MappingProxyType({
    CopayCode.NONE: "負担なし",
    CopayCode.FIXED: "定額負担",
    CopayCode.RATE: "定率負担",
    CopayCode.INSURER_CAP: "保険者負担上限額",
})
COMMISSION: Final[Mapping[str, str]] = MappingProxyType({
    CommissionType.INDIVIDUAL: "個別健診",
    CommissionType.GROUP: "集団健診",
})
DETAIL_ITEM: Final[Mapping[str, str]] = MappingProxyType({
    DetailItem.ANEMIA: "貧血検査",
    DetailItem.ECG: "心電図検査",
    DetailItem.FUNDUS: "眼底検査",
    DetailItem.CREATININE: "血清クレアチニン検査",
})
SERVICE_EVENT: Final[Mapping[str, str]] = SERVICE_EVENT_TYPES


def coded(table: Mapping[str, str], code: str | None) -> str:
    """"label（code）" when the code is known, else the code as written ("" for none)."""
    if not code:
        return ""
    label = table.get(code)
    return f"{label}（{code}）" if label else code


@lru_cache(maxsize=1)
def answer_codes() -> Mapping[str, Mapping[str, str]]:
    """Answer code system (OID) → code → meaning."""
    table: dict[str, dict[str, str]] = {}
    with ANSWER_CODES_PATH.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            oid, code, label = row["answer_oid"].strip(), row["code"].strip(), row["label"].strip()
            if not (oid and code and label):
                raise ValueError(f"{ANSWER_CODES_PATH.name} line {line}: answer_oid, code and label are required")
            if code in table.setdefault(oid, {}):
                raise ValueError(f"{ANSWER_CODES_PATH.name} line {line}: {oid} {code} is listed twice")
            table[oid][code] = label
    return MappingProxyType({oid: MappingProxyType(codes) for oid, codes in table.items()})


def answer_label(oid: str | None, code: str | None) -> str:
    """The meaning of an answer code in its code system ("" when unknown)."""
    if not oid or not code:
        return ""
    return answer_codes().get(oid, {}).get(code, "")


def answer_text(oid: str | None, code: str | None) -> str:
    """An answer as people read it: "はい（1）"; the bare code when its meaning is not known."""
    label = answer_label(oid, code)
    return f"{label}（{code}）" if label else (code or "")
