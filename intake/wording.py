"""Findings as the people who read them expect them: in Japanese, once each, with what to do.

The rule engine stores each finding's message as the rule's message followed by a detail in
parentheses, and the detail is written for the software (item codes, the claim's field names, the
XML parser's English). Documents and pages an institution or a clerk reads show instead:

- the rule's Japanese message, and the detail translated (item codes → item names, requirement
  groups → the names of their items, settlement fields → the names on the 決済情報 form); a detail
  that still carries words of the software is left out rather than shown half-translated;
- the 別表9 返戻理由 with its label and the rule's 対処方法 from the catalogue;
- each defect once (the same rule on the same record with the same text is one row);
- nothing about the agency's own configuration (e.g. "XMLスキーマが設定されていない"), which the
  institution can do nothing about: ``shown_to_institutions`` leaves those findings out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from kenshin import labels
from kenshin.codes import ReturnReason
from kenshin.items import item_master

from . import checks, selectors

# Findings about how this agency is set up, not about what the institution sent.
AGENCY_CONFIGURATION_CODES = frozenset(selectors.CONFIGURATION_WARNING_CODES)

# Names of the settlement's fields (kenshin.rules.copay_differences, kenshin.copay.settlement_consistent,
# kenshin.consistency's element groups) as the 決済情報 form names them.
FIELD_NAMES = {
    "claim_type": "請求区分",
    "commission_type": "委託料単価区分",
    "unit_price_basic": "基本的な健診の単価",
    "unit_price_details": "詳細な健診の単価",
    "unit_price_others": "追加健診項目の単価",
    "payment_basic": "基本的な健診の窓口負担額",
    "payment_detail": "詳細な健診の窓口負担額",
    "payment_other": "追加健診項目の窓口負担額",
    "unit_amount": "単価合計",
    "payment_amount": "窓口負担額合計",
    "claim_amount": "請求額",
    "charges": "窓口負担の区分・額・率",
    "unitAmount": "単価合計",
    "paymentAmount": "窓口負担額合計",
    "claimAmount": "請求額",
    "chargeType": "窓口負担の区分",
    "unitPrice": "単価",
    "payment": "窓口負担額",
    "calculatedAmount": "算定金額",
    "pointCountCompleted": "実施ポイント",
}
# Words that are part of Japanese clerks' vocabulary and may stay in a detail.
ALLOWED_WORDS = frozenset({"XML", "ZIP", "OID", "BMI", "eGFR", "UTF", "XSD", "CSV", "HbA1c", "HDL", "LDL", "GOT", "GPT"})
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z_]+[0-9]*")
_ITEM_CODE = re.compile(r"\b[0-9A-Z]{17}\b")
_LINE = re.compile(r"^(\d+行目)")


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in checks.catalogue()}


def rule_of(code: str) -> dict[str, Any]:
    """The catalogue's entry for a finding code (message, hint, 返戻理由); empty for an unknown code."""
    return _catalogue().get(code, {})


def reason_label(code: str) -> str:
    """別表9 label of a 返戻理由コード ("" for none or an unknown code)."""
    try:
        return ReturnReason(code).label
    except ValueError:
        return ""


@lru_cache(maxsize=1)
def _group_names() -> dict[str, str]:
    master = item_master()
    return {
        group: "・".join(dict.fromkeys(name for code in codes if (item := master.get(code)) and (name := item.name)))
        for group, codes in master.one_of_groups().items()
    }


def _item_name(token: str) -> str | None:
    item = item_master().get(token)
    if item is not None:
        return item.name
    group = _group_names().get(token)
    return f"{group}（いずれか）" if group else None


def _translate_token(token: str) -> str | None:
    token = token.strip()
    if not token:
        return None
    if token in FIELD_NAMES:
        return FIELD_NAMES[token]
    name = _item_name(token)
    if name is not None:
        return name
    return _replace_words(token)


def _replace_words(text: str) -> str:
    text = _ITEM_CODE.sub(lambda m: _item_name(m.group(0)) or m.group(0), text)
    return _LATIN_WORD.sub(lambda m: FIELD_NAMES.get(m.group(0), m.group(0)), text)


def _readable(text: str) -> bool:
    return all(word in ALLOWED_WORDS for word in _LATIN_WORD.findall(text))


def translate_detail(code: str, detail: str) -> str:
    """The detail of a finding in Japanese, or "" when it cannot be said without the software's words."""
    if not detail:
        return ""
    if code in ("XML_MALFORMED", "XML_SCHEMA_INVALID"):
        line = _LINE.match(detail)
        return line.group(1) if line else ""
    if ", " in detail or code.startswith(("ITM_", "REC_PRICE", "REC_COPAY", "ELG_COPAY")):
        parts = [_translate_token(token) for token in detail.split(",")]
        text = "、".join(dict.fromkeys(part for part in parts if part))
    else:
        text = _replace_words(detail)
    if code == "CLM_CLAIM_TYPE_INCONSISTENT":
        text = re.sub(r"請求区分 (\d)", lambda m: "請求区分 " + labels.coded(labels.CLAIM_TYPE, m.group(1)), text)
    return text if _readable(text) else ""


def split_message(code: str, message: str) -> tuple[str, str]:
    """(the rule's message, the detail the finding added) of a stored message."""
    base = rule_of(code).get("message") or ""
    if base and message.startswith(base):
        rest = message[len(base):]
        if rest.startswith("（") and rest.endswith("）"):
            return base, rest[1:-1]
        return base, rest.strip()
    return message, ""


def finding_text(code: str, message: str) -> str:
    """The message of a finding as a document shows it: the rule's text and its translated detail."""
    base, detail = split_message(code, message)
    if not _readable(base):
        base = rule_of(code).get("message") or base
    shown = translate_detail(code, detail)
    return f"{base}（{shown}）" if shown else base


def shown_to_institutions(findings: Iterable[Any]) -> list[Any]:
    """Findings an institution reads: without the agency's configuration, each defect once."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for finding in findings:
        if finding.code in AGENCY_CONFIGURATION_CODES:
            continue
        text = finding_text(finding.code, finding.message)
        key = (finding.record_id, finding.code, text)
        if key in seen:
            continue
        seen.add(key)
        kept.append(finding)
    return kept


def describe(finding: Any) -> Any:
    """Attach what a page shows of a finding: ``text``, ``hint``, ``reason_label``, ``severity_label``."""
    finding.text = finding_text(finding.code, finding.message)
    finding.hint = rule_of(finding.code).get("hint") or ""
    finding.reason_label = reason_label(finding.return_reason)
    return finding
