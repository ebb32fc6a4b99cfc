"""The 別添 checklist (every item of the form, verbatim) and what evidences each item in the portal.

The item texts come from ``data/checklist.json``, built from the form by ``data/build_checklist.py``.
``CONTROLS`` says, per item, which probes measure it and whether a person must also attest to it
(organisational measures always need an attestation; purely technical ones are evidenced by probes).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "data" / "checklist.json"


@dataclass(frozen=True)
class Item:
    code: str
    section: str
    section_title: str
    no: int
    text: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...]
    notes: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Checklist:
    title: str
    preamble: tuple[str, ...]
    instructions: tuple[str, ...]
    sections: tuple[Section, ...]
    disclosure_notes: tuple[tuple[int, str], ...] = field(default=())

    @functools.cached_property
    def items(self) -> dict[str, Item]:
        return {item.code: item for section in self.sections for item in section.items}


@functools.cache
def checklist() -> Checklist:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    sections = tuple(
        Section(
            key=s["key"],
            title=s["title"],
            items=tuple(Item(i["code"], s["key"], s["title"], i["no"], i["text"]) for i in s["items"]),
            notes=tuple((n["no"], n["text"]) for n in s["notes"]),
        )
        for s in data["sections"]
    )
    return Checklist(
        title=data["title"],
        preamble=tuple(data["preamble"]),
        instructions=tuple(data["instructions"]),
        sections=sections,
        disclosure_notes=tuple((n["no"], n["text"]) for n in data["disclosure_notes"]),
    )


@dataclass(frozen=True)
class Control:
    """How one item is evidenced: probes that must pass, and whether a person must attest."""

    probes: tuple[str, ...] = ()
    attestation: bool = True


# Attestations are reviewed at this interval (days) unless an item sets its own.
DEFAULT_REVIEW_DAYS = {
    "organisational": 365,
    "physical": 182,
    "technical": 365,
    "human_staff": 365,
    "human_contractor": 365,
    "disposal": 365,
    "maintenance": 365,
    "takeout": 90,
    "emergency": 365,
    "exchange": 365,
}

_ATTEST = Control()

CONTROLS: dict[str, Control] = {
    # 技術的安全対策
    "technical-01": Control(("totp_coverage", "lockout"), attestation=False),
    "technical-02": Control(("argon2_first", "password_validators")),
    "technical-03": Control(("totp_coverage",)),
    "technical-04": Control(("idle_timeout",)),
    "technical-07": Control(("audit_chain", "audit_review"), attestation=False),
    "technical-08": Control(("audit_guards", "audit_chain"), attestation=False),
    "technical-09": Control(("clock",), attestation=False),
    "technical-10": Control(("upload_hardening",)),
    "technical-11": Control(("upload_hardening",)),
    "technical-12": Control(("argon2_first",), attestation=False),
    # 本人確認のうえの再登録: the ledger must stay append-only; the procedure itself is attested
    "technical-13": Control(("audit_guards",)),
    "technical-14": Control(("argon2_first",)),
    "technical-15": Control(("password_validators", "totp_coverage"), attestation=False),
    "technical-16": Control(("password_validators",), attestation=False),
    # 人的安全対策(委託): 保守作業の作業者・作業内容・作業結果の確認
    "human_contractor-02": Control(("maintenance_windows", "access_reviews")),
    # 情報の破棄
    "disposal-01": Control(("retention_policies",)),
    # 改造と保守
    "maintenance-02": Control(("maintenance_windows", "access_reviews")),
    "maintenance-03": Control(("maintenance_windows",)),
    "maintenance-05": Control(("maintenance_windows",)),
    "maintenance-08": Control(("access_reviews",)),
    # 非常時
    "emergency-04": Control(("emergency_accounts",)),
    "emergency-05": Control(("emergency_accounts", "access_reviews"), attestation=False),
    "emergency-06": Control(("emergency_accounts",), attestation=False),
    "emergency-08": Control(("backup_age", "restore_drill")),
    # 外部と交換
    "exchange-01": Control(("tls_config", "tls_served")),
    "exchange-02": Control(("tls_config", "tls_served", "totp_coverage"), attestation=False),
    "exchange-12": Control(("tls_config", "tls_served"), attestation=False),
}


def control_for(code: str) -> Control:
    return CONTROLS.get(code, _ATTEST)
