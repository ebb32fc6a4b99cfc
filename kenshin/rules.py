"""Pure helpers for the intake business rules that sit on top of the reader.

The reader checks structure and format; these functions answer the questions that need the
agency's judgement or data (eligibility, tickets, contracts, required items, value ranges and
relations between values). They take records and plain values and never touch the database.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from kenshin.checkdigits import normalize_insurer_number
from kenshin.codes import ClaimType, DetailItem
from kenshin.copay import (
    ClaimComputation,
    ContractTerms,
    compute_claim,
    compute_dock_claim,
)
from kenshin.items import ItemMaster, Requirement
from kenshin.records import CheckupDocument, Claim, Observation

AGE_MIN = 40
AGE_MAX = 74
HEIGHT = "9N001000000000001"
WEIGHT = "9N006000000000001"
BMI = "9N011000000000001"
BLOOD_DRAW_TIMING = "9N141000000000011"
FASTING_CODE = "2"
NON_FASTING_CODES = frozenset({"3", "4"})
FASTING_ITEMS_PREFIXES = ("3F0150000", "3D0100000")
NON_FASTING_ITEMS_PREFIXES = ("3F0151299", "3D0101299")
NOT_TESTED_REASON = "9N512000000000011"  # 測定不可能・検査未実施の理由 (.24080: 1 生理中, 2 腎疾患等, 3 その他)
URINE_EXCUSED_REASONS = frozenset({"1", "2"})
URINE_GROUPS = frozenset({"urine_glucose", "urine_protein"})
DRINKING = "9N786000000000011"  # 飲酒 (.24040: … 7 やめた, 8 飲まない（飲めない）)
DRINKING_AMOUNT = "9N791000000000011"  # 飲酒日の1日当たりの飲酒量 (.24050)
NOT_DRINKING = frozenset({"8"})
MEDICATION_ITEMS = ("9N701000000000011", "9N706000000000011", "9N711000000000011")  # 服薬1〜3 (1 はい)
GUIDANCE_LEVEL = "9N506000000000011"  # 保健指導レベル (.3001: 1 積極的支援, 2 動機付け支援, 3 なし, 4 判定不能)
GUIDANCE_TARGET_LEVELS = frozenset({"1", "2"})
# Answer code systems whose code 2 is "none / no": 特記すべきこと (.2001), 所見 (.2002), はい・いいえ (.2003).
NO_ANSWER_SYSTEMS = frozenset({"1.2.392.200119.6.2001", "1.2.392.200119.6.2002", "1.2.392.200119.6.2003"})


def age_on(birth_date: date, on: date) -> int:
    """Age in completed years on a date."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def fiscal_year_end(on: date) -> date:
    """31 March closing the fiscal year (年度) that contains ``on``."""
    return date(on.year + 1 if on.month >= 4 else on.year, 3, 31)


def fiscal_year(on: date) -> int:
    """The fiscal year (年度, April to March) that contains ``on``, by the calendar year it starts in."""
    return on.year if on.month >= 4 else on.year - 1


def person_key(insurer_number: str, card_symbol: str | None, card_number: str, card_branch: str | None) -> str:
    """Who a checkup is for: 保険者番号 + 被保険者証等記号 + 番号 + 枝番, compared after NFKC (full-width
    digits as half-width) without spaces, so that two institutions writing the same card agree."""
    parts = (normalize_insurer_number(insurer_number), card_symbol or "", card_number, card_branch or "")
    return "|".join(unicodedata.normalize("NFKC", part).replace(" ", "") for part in parts)


def age_eligible(birth_date: date, checkup_date: date) -> bool:
    """特定健診 covers people aged 40 or more at the end of the fiscal year and under 75 on the day."""
    return age_on(birth_date, fiscal_year_end(checkup_date)) >= AGE_MIN and age_on(birth_date, checkup_date) <= AGE_MAX


def ticket_valid_on(expires_on: date | None, checkup_date: date) -> bool:
    """The 受診券 is still valid on the checkup date (no expiry means no limit)."""
    return expires_on is None or checkup_date <= expires_on


def contract_applies(valid_from: date, valid_to: date | None, on: date) -> bool:
    return valid_from <= on and (valid_to is None or on <= valid_to)


def duplicate_tickets(entries: Iterable[tuple[str, str | None, str | None]]) -> dict[tuple[str, str], list[str]]:
    """Ticket numbers used more than once: ``(key, insurer, ticket)`` → keys, per insurer."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, insurer, ticket in entries:
        if insurer and ticket:
            seen[(insurer, ticket)].append(key)
    return {ticket: keys for ticket, keys in seen.items() if len(keys) > 1}


def expected_bmi(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """体重 / (身長 m)², rounded half up to one decimal."""
    metres = height_cm / 100
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def bmi_inconsistent(document: CheckupDocument, tolerance: Decimal = Decimal("0.1")) -> bool:
    """BMI differs from the one computed from 身長 and 体重 by more than the tolerance."""
    results = document.results()
    quantities = [observation.quantity for code in (HEIGHT, WEIGHT, BMI) if (observation := results.get(code))]
    if len(quantities) != 3:
        return False
    height, weight, bmi = quantities
    if height is None or weight is None or bmi is None or height <= 0 or weight <= 0:
        return False
    return abs(expected_bmi(height, weight) - bmi) > tolerance


def _performed(observation: Observation) -> bool:
    return not observation.negation and (
        observation.value is not None
        or observation.answer_code is not None
        or observation.null_flavor is not None
        or observation.input_range_flag is not None
    )


def fasting_conflicts(document: CheckupDocument) -> list[str]:
    """Items whose fasting state contradicts 採血時間(食後): fasting items need code 2, the
    随時 items code 3 or 4."""
    results = document.results()
    timing = results.get(BLOOD_DRAW_TIMING)
    timing_code = timing.answer_code if timing is not None else None
    conflicts = []
    for code, observation in results.items():
        if not _performed(observation):
            continue
        if code.startswith(FASTING_ITEMS_PREFIXES) and timing_code != FASTING_CODE:
            conflicts.append(code)
        if code.startswith(NON_FASTING_ITEMS_PREFIXES) and timing_code not in NON_FASTING_CODES:
            conflicts.append(code)
    return conflicts


def input_range_violations(document: CheckupDocument, master: ItemMaster) -> list[str]:
    """PQ results outside the item's input range that are not flagged H/L accordingly."""
    violations = []
    for observation in document.observations():
        item = master.get(observation.code) if observation.code else None
        value = observation.quantity
        if item is None or value is None:
            continue
        flag = item.input_range_flag(value)
        if flag is not None and observation.input_range_flag != flag:
            violations.append(item.code)
    return violations


def missing_required_items(document: CheckupDocument, master: ItemMaster) -> list[str]:
    """Required items (and one-of groups, by name) that the document does not carry.

    An item that depends on another (具体的な既往歴 on 既往歴) is required only when the parent
    answered 1; an item written as ``author`` counts when its parent carries an author name; the
    urine tests count as done when they were not tested for an excusing reason (`urine_excused`).
    """
    results = document.results()
    performed = {code for code, observation in results.items() if _performed(observation)}
    authored = {code for code, observation in results.items() if observation.author_name}
    missing: list[str] = []
    groups: dict[str, bool] = {}
    for item in master.with_requirement(Requirement.REQUIRED):
        if item.one_of:
            groups[item.one_of] = groups.get(item.one_of, False) or item.code in performed
            continue
        if item.depends_on is not None:
            parent = results.get(item.depends_on)
            if parent is None or parent.answer_code != "1":
                continue
        if item.element == "author" and any(code in authored for code in master.author_parents(item.code)):
            continue
        if item.code not in performed:
            missing.append(item.code)
    if urine_excused(document):
        groups.update(dict.fromkeys(URINE_GROUPS & groups.keys(), True))
    missing += [name for name, present in groups.items() if not present]
    return missing


def urine_excused(document: CheckupDocument) -> bool:
    """Urine not tested for a reason that still makes the checkup a 特定健診: 生理中 (1) or 腎疾患等の
    基礎疾患による排尿障害 (2), recorded as 測定不可能・検査未実施の理由 (9N512, OID .24080)."""
    reason = document.results().get(NOT_TESTED_REASON)
    return reason is not None and not reason.negation and reason.answer_code in URINE_EXCUSED_REASONS


def detail_items_performed(document: CheckupDocument, master: ItemMaster) -> set[DetailItem]:
    """The 詳細な健診 (別表8) whose result items appear in the document."""
    performed: set[DetailItem] = set()
    for observation in document.observations():
        item = master.get(observation.code) if observation.code else None
        if item is not None and item.detail_item and item.series_relation == "COMP" and _performed(observation):
            performed.add(DetailItem(item.detail_item))
    return performed


def detail_reasons_missing(
    document: CheckupDocument, master: ItemMaster, performed: Iterable[DetailItem] | None = None
) -> set[DetailItem]:
    """詳細な健診 performed without their 実施理由 (the RSON text item of the item's group);
    ``performed`` limits the question to those items (default: every one the document shows)."""
    reasons = master.detail_groups()
    results = document.results()
    missing: set[DetailItem] = set()
    for item in detail_items_performed(document, master) if performed is None else performed:
        reason = results.get(reasons.get(item.value, ""))
        if reason is None or reason.negation or not (reason.value or "").strip():
            missing.add(item)
    return missing


def billed_detail_items(claim: Claim) -> set[DetailItem]:
    """The 詳細な健診 (別表8) a claim bills (codes outside the table are the format checks' concern)."""
    billed: set[DetailItem] = set()
    for line in claim.settlement.unit_price_details:
        try:
            billed.add(DetailItem(line.code))
        except ValueError:
            continue
    return billed


def questionnaire_inconsistencies(document: CheckupDocument, master: ItemMaster) -> list[tuple[str, str]]:
    """Answers that contradict each other: (item code, what is wrong), for warnings.

    * 飲酒量 (質問19, 飲酒日の1日当たりの飲酒量) answered although 飲酒 (質問18) is 8 飲まない（飲めない）;
    * an item that depends on another (依存対象項目 of the item table: 服薬の薬剤名・服薬理由, 具体的な
      既往歴, 心電図の所見 …) answered although its parent says 2 (なし・いいえ・所見なし).
    """
    results = document.results()
    found: list[tuple[str, str]] = []
    drinking, amount = results.get(DRINKING), results.get(DRINKING_AMOUNT)
    if drinking is not None and amount is not None and drinking.answer_code in NOT_DRINKING and _performed(amount):
        found.append((DRINKING_AMOUNT, f"飲酒 {drinking.answer_code}（飲まない）なのに飲酒量 {amount.answer_code}"))
    for code, observation in results.items():
        item = master.get(code)
        if item is None or item.depends_on is None or not _performed(observation):
            continue
        parent = results.get(item.depends_on)
        if parent is not None and parent.answer_oid in NO_ANSWER_SYSTEMS and parent.answer_code == "2":
            found.append((code, f"{master[item.depends_on].name}が「なし・いいえ」（2）なのに{item.name}の記載があります"))
    return found


def medicated_with_guidance_level(document: CheckupDocument) -> list[str]:
    """服薬中 (服薬1〜3 = 1) yet 保健指導レベル 積極的支援 (1) or 動機付け支援 (2): the medication items."""
    results = document.results()
    level = results.get(GUIDANCE_LEVEL)
    if level is None or level.answer_code not in GUIDANCE_TARGET_LEVELS:
        return []
    return [code for code in MEDICATION_ITEMS if (answer := results.get(code)) is not None and answer.answer_code == "1"]


def expected_settlement(claim: Claim, terms: ContractTerms, *, ties_down: bool = False) -> ClaimComputation:
    """The claim as the terms say it should be (the contract's prices, the 受診券's copay), for the
    items the claim bills. A 人間ドック is priced by ``terms.dock_price``; ValueError when an item
    (or the dock) is not priced."""
    settlement = claim.settlement
    other = settlement.payment_by_other_program or 0
    if settlement.claim_type == ClaimType.HUMAN_DOCK.value:
        if terms.dock_price is None:
            raise ValueError("人間ドック not priced by the contract")
        return compute_dock_claim(
            commission_type=terms.commission_type,
            price=terms.dock_price,
            copay=terms.dock_copay,
            paid_by_other_program=other,
            ties_down=ties_down,
        )
    return compute_claim(
        terms,
        detail_items=[line.code for line in settlement.unit_price_details],
        other_items=[line.item_code for line in settlement.unit_price_others if line.item_code],
        paid_by_other_program=other,
        ties_down=ties_down,
    )


def copay_differences(claim: Claim, terms: ContractTerms) -> list[str]:
    """Fields of the claim that differ from the recomputation under ``terms``.

    A rate applied to an exact half yen may come out rounded down by producers that compute in
    binary floating point; such a claim is accepted too (`kenshin.copay.round_half_up`).
    """
    differences = _differences(claim, terms, ties_down=False)
    if differences and not any(name.startswith("unit_price") or "not priced" in name for name in differences):
        tolerated = _differences(claim, terms, ties_down=True)
        if not tolerated:
            return []
    return differences


def _differences(claim: Claim, terms: ContractTerms, *, ties_down: bool) -> list[str]:
    try:
        expected = expected_settlement(claim, terms, ties_down=ties_down)
    except ValueError as exc:
        return [str(exc)]
    differences = []
    for field in (
        "claim_type",
        "commission_type",
        "unit_price_basic",
        "unit_price_details",
        "unit_price_others",
        "payment_basic",
        "payment_detail",
        "payment_other",
        "unit_amount",
        "payment_amount",
        "claim_amount",
    ):
        if getattr(claim.settlement, field) != getattr(expected.settlement, field):
            differences.append(field)
    if claim.charges != expected.charges:
        differences.append("charges")
    return differences
