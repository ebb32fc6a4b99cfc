"""Pure helpers for the intake business rules that sit on top of the reader.

The reader checks structure and format; these functions answer the questions that need the
agency's judgement or data (eligibility, tickets, contracts, required items, value ranges and
relations between values). They take records and plain values and never touch the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from kenshin.codes import ClaimType, DetailItem
from kenshin.copay import (
    ClaimComputation,
    ContractTerms,
    CopayRule,
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


def age_on(birth_date: date, on: date) -> int:
    """Age in completed years on a date."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def fiscal_year_end(on: date) -> date:
    """31 March closing the fiscal year (年度) that contains ``on``."""
    return date(on.year + 1 if on.month >= 4 else on.year, 3, 31)


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
    answered 1; an item written as ``author`` counts when its parent carries an author name.
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
    missing += [name for name, present in groups.items() if not present]
    return missing


def detail_items_performed(document: CheckupDocument, master: ItemMaster) -> set[DetailItem]:
    """The 詳細な健診 (別表8) whose result items appear in the document."""
    performed: set[DetailItem] = set()
    for observation in document.observations():
        item = master.get(observation.code) if observation.code else None
        if item is not None and item.detail_item and item.series_relation == "COMP" and _performed(observation):
            performed.add(DetailItem(item.detail_item))
    return performed


def expected_settlement(claim: Claim, terms: ContractTerms, dock_copay: CopayRule | None = None) -> ClaimComputation:
    """The claim as the contract says it should be, for the items the claim bills."""
    settlement = claim.settlement
    other = settlement.payment_by_other_program or 0
    if settlement.claim_type == ClaimType.HUMAN_DOCK.value:
        price = sum(line.amount for line in settlement.unit_price_others)
        return compute_dock_claim(
            commission_type=terms.commission_type,
            price=price,
            copay=dock_copay or terms.basic_copay,
            paid_by_other_program=other,
        )
    return compute_claim(
        terms,
        detail_items=[line.code for line in settlement.unit_price_details],
        other_items=[line.item_code for line in settlement.unit_price_others if line.item_code],
        paid_by_other_program=other,
    )


def copay_differences(claim: Claim, terms: ContractTerms) -> list[str]:
    """Fields of the claim that differ from the recomputation under the contract's terms."""
    try:
        expected = expected_settlement(claim, terms)
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
