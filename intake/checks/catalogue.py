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

from .hints import READER_HINTS

RULE_SET_VERSION = "2026.12-2"

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
