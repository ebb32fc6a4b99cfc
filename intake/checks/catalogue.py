"""The rule catalogue: every rule's stable code, level, severity, 返戻理由 (別表9), message, hint and source.

Rules are declared with ``rule(...)`` by the modules of this package; ``catalogue()`` lists them and
the format reader's own finding kinds for the catalogue page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kenshin import findings as standard_findings
from kenshin.codes import ReturnReason
from kenshin.findings import Finding, FindingKind, Severity

RULE_SET_VERSION = "2026.12-1"

ERROR, WARNING = Severity.ERROR, Severity.WARNING
R = ReturnReason
ARCHIVE_PREFIXES = ("ARC_", "IDX_", "SUM_", "AGY_")


@dataclass(frozen=True)
class Rule:
    kind: FindingKind
    level: int
    hint: str

    @property
    def source(self) -> str:
        return self.kind.source

    @property
    def code(self) -> str:
        return self.kind.code

    def at(self, *, file: str | None = None, xpath: str | None = None, detail: str | None = None) -> Finding:
        return self.kind.at(file=file, xpath=xpath, detail=detail)


_RULES: dict[str, Rule] = {}


def rule(code: str, level: int, severity: Severity, reason: ReturnReason, message: str, hint: str, *, source: str) -> Rule:
    """Declare a rule (its code must be new) and list it in the catalogue with the source it rests on."""
    if not source:
        raise ValueError(f"rule {code} names no source")
    found = Rule(FindingKind(code, severity, message, reason, source), level, hint)
    if code in _RULES:
        raise ValueError(f"duplicate rule {code}")
    _RULES[code] = found
    return found


# How to fix what the format reader reports, for the findings added with the rules of this rule set.
READER_HINTS = {
    "ID_INSURER_LENGTH": "保険者番号は8桁で入力してください（国保の6桁の番号は先頭に00を付けます）。",
    "ID_INSTITUTION_LENGTH": "健診機関番号は10桁で入力してください。",
    "ID_AGENCY_LENGTH": "代行機関番号は8桁で入力してください。",
    "DOC_CODE_INVALID": "報告区分・プログラム種別・性別・セクション・券面種別・単価区分・窓口負担区分はコード表の値で記録してください。",
    "DOC_NOT_SPECIFIC_CHECKUP": "特定健診として請求する健診は報告区分10・プログラム種別010で作成してください。事業者健診等の結果は特定健診として請求できません。",
    "DOC_TICKET_INSURER_MISMATCH": "受診券の保険者番号と被保険者証の保険者番号を確認してください。",
    "DOC_INSTITUTION_DIFFERS": "他の機関の健診を代わりに送付する場合は問題ありません。誤りの場合は作成機関・実施機関の機関番号を確認してください。",
    "ARC_MEMBER_INSTITUTION_DIFFERS": "他の機関の健診を代わりに送付する場合は問題ありません。誤りの場合はファイル名の機関番号を確認してください。",
    "XML_KIND_PREFIX_MISMATCH": "特定健診は h（決済 c）、特定保健指導は g（決済 p）の接頭辞でファイルを作成してください。",
    "XML_FIELD_MISSING": "表示された要素・属性をすべて記録してください（一度の再提出で直せるよう、ファイル内のすべての不備を表示しています）。",
    "XML_SCHEMA_INVALID": "第4期のXMLスキーマに従ってファイルを作成してください（ファイル内のすべての不備を表示しています）。",
    "ARC_MIXED_SERVICE": "特定健診と特定保健指導は別のアーカイブ（実施区分1・2）で送付してください。",
}


def is_archive_code(code: str) -> bool:
    """Codes of findings that concern the archive as a whole."""
    return code.startswith(ARCHIVE_PREFIXES)


def catalogue() -> list[dict[str, Any]]:
    """Every rule and reader finding: code, level, severity, 返戻理由, message, hint and source."""
    rows = [
        {"code": r.code, "level": r.level, "severity": str(r.kind.severity), "return_reason": str(r.kind.reason),
         "message": r.kind.message, "hint": r.hint, "source": r.source}
        for r in _RULES.values()
    ]
    for kind in standard_findings.FINDING_KINDS.values():
        rows.append({
            "code": kind.code, "level": 0 if is_archive_code(kind.code) else 1, "severity": str(kind.severity),
            "return_reason": str(kind.reason), "message": kind.message, "hint": READER_HINTS.get(kind.code, ""),
            "source": kind.source,
        })
    return sorted(rows, key=lambda row: (row["level"], row["code"]))
