"""Claim arithmetic of the 特定健診 決済情報: copays per component, totals and 請求区分.

All amounts are integer yen. Rates are integers worth percent × 1000, exactly as the six-digit
``rate`` field of the claim (``030000`` = 30.000 %). Rounding is half up, on integers only.

The arithmetic follows the producers (JMA ORCA 日医特定健診, ``JKessai.java``). Per component k in
(基本, 詳細, 追加) with price T, the part S of 他の検診による負担 still to apply (all of it for 基本)
and the insurer cap U (0 = none), with B = T − S:

* 別表6 code 1 負担なし without a cap: copay 0, and S is used up here (nothing carries on);
* otherwise, when B ≤ 0: copay 0 and the rest S − T carries to the next component;
* otherwise code 2 定額 A: copay min(A, B); code 3 定率 r: copay round_half_up(B × r / 100000);
  code 1 with a cap or code 4 保険者負担上限額: copay 0 before the cap; nothing carries on.

With U > 0, when B − copay > U the copay becomes B − U and the component is reported with code 4
(amount U). A code-1 rule with a cap is always reported as code 4.

Then unitAmount = Σ T, paymentAmount = Σ copay and claimAmount = unitAmount − paymentAmount −
paymentByOtherProgram. When that is 0 or less, claimAmount is 0 and paymentAmount becomes
max(0, unitAmount − paymentByOtherProgram) while the component copays stay as computed (as ORCA
writes them). 人間ドック (請求区分 5) runs the same logic on the dock price.

Who says what: the contract states the prices (``terms_from_contract``); the person's 窓口負担 comes
from the 受診券 — the ticket data the insurer uploaded, or the ``checkupCard`` of the claim itself
(``rule_from_charge``, ``dock_rule_from_charge``). Computing a claim::

    terms = terms_from_contract(contract)                     # prices
    terms = replace(terms, basic_copay=CopayRule(...), ...)   # the 受診券's copay
    computation = compute_claim(terms, detail_items=[DetailItem.ANEMIA], other_items=[])
    computation.charges, computation.settlement                # ready for a `records.Claim`
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kenshin.codes import RATE_SCALE, ClaimType, CommissionType, CopayCode, DetailItem
from kenshin.records import (
    Charges,
    ChargeType,
    DetailPrice,
    DockCharge,
    OtherPrice,
    Settlement,
)


def round_half_up(numerator: int, denominator: int, *, ties_down: bool = False) -> int:
    """numerator / denominator rounded half up, for non-negative integers.

    ``ties_down`` rounds an exact half down instead: a producer that multiplies by the rate in
    binary floating point (ORCA: ``(T − S) × (rate / 100000.0)``) lands just below some halves
    (1450 × 29 % gives 420.49999…), so a receiver accepts either result for an exact half.
    """
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up takes a non-negative numerator and a positive denominator")
    if ties_down:
        return (2 * numerator + denominator - 1) // (2 * denominator)
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class CopayRule:
    """How much the person pays at the counter for one component (別表6).

    code: 1 負担なし / 2 定額 (``amount`` yen) / 3 定率 (``rate`` = percent × 1000) /
    4 保険者負担上限額 (``cap`` yen). ``cap`` may accompany codes 1–3 too; 0 means no cap.
    """

    code: CopayCode
    amount: int = 0
    rate: int = 0
    cap: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", CopayCode(self.code))
        for name in ("amount", "rate", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"CopayRule.{name} must be a non-negative int, got {value!r}")
        if self.rate > RATE_SCALE:
            raise ValueError(f"CopayRule.rate is percent × 1000 and cannot exceed {RATE_SCALE}")
        if self.code is CopayCode.INSURER_CAP and self.cap == 0:
            raise ValueError("a code-4 rule (保険者負担上限額) needs a cap")

    @classmethod
    def from_fields(
        cls,
        code: str | int | None,
        amount: int | None = None,
        rate: int | None = None,
        cap: int | None = None,
    ) -> CopayRule:
        """Build from nullable model fields (None → 0; a missing code means 負担なし)."""
        return cls(
            CopayCode(str(code)) if code not in (None, "") else CopayCode.NONE,
            amount or 0,
            rate or 0,
            cap or 0,
        )


NO_COPAY = CopayRule(CopayCode.NONE)


def rule_from_charge(charge: ChargeType | None) -> CopayRule:
    """The copay rule a reported chargeType states (the 受診券 as the claim's ``checkupCard`` carries it).

    Code 4 with an amount is the insurer's cap; a rule reported as 4 because its cap was reached
    computes the same copay as the cap alone. Raises ValueError for a code outside 別表6 or a
    code-4 charge without an amount; a missing charge means 負担なし.
    """
    if charge is None:
        return NO_COPAY
    code = CopayCode(charge.code)
    if code is CopayCode.INSURER_CAP:
        return CopayRule(code, cap=charge.amount or 0)
    return CopayRule(code, amount=charge.amount or 0, rate=charge.rate or 0)


def dock_rule_from_charge(dock: DockCharge | None) -> CopayRule:
    """The copay rule of chargeTypeHumanDryDock: copayment (code 1–3) and maxInsuranceLimit (code 4)."""
    if dock is None:
        return NO_COPAY
    cap = dock.max_insurance_limit or 0
    if dock.copayment is None:
        return CopayRule(CopayCode.INSURER_CAP, cap=cap) if cap else NO_COPAY
    base = rule_from_charge(dock.copayment)
    if base.code is CopayCode.INSURER_CAP:
        return base
    return CopayRule(base.code, amount=base.amount, rate=base.rate, cap=cap)


@dataclass(frozen=True)
class ComponentCopay:
    price: int
    copay: int
    reported: ChargeType
    other_program_left: int
    """What is left of 他の検診による負担 for the next component."""


def component_copay(rule: CopayRule, price: int, other_program_left: int = 0, *, ties_down: bool = False) -> ComponentCopay:
    """The copay of one component, how it is reported in chargeType, and what of 他の検診による負担
    carries on to the next component (see the module docstring)."""
    if price < 0 or other_program_left < 0:
        raise ValueError("prices and 他の検診による負担 are non-negative")
    base = price - other_program_left
    carried = 0
    copay = 0
    capped = False
    if rule.code is CopayCode.NONE and not rule.cap:
        pass  # 負担なし without a cap absorbs whatever is left of 他の検診による負担
    elif base <= 0:
        carried = -base
    else:
        if rule.code is CopayCode.FIXED:
            copay = min(rule.amount, base)
        elif rule.code is CopayCode.RATE:
            copay = round_half_up(base * rule.rate, RATE_SCALE, ties_down=ties_down)
        capped = rule.cap > 0 and base - copay > rule.cap
        if capped:
            copay = base - rule.cap
    if capped or rule.code is CopayCode.INSURER_CAP or (rule.code is CopayCode.NONE and rule.cap):
        reported = ChargeType(CopayCode.INSURER_CAP.value, amount=rule.cap)
    elif rule.code is CopayCode.FIXED:
        reported = ChargeType(rule.code.value, amount=rule.amount)
    elif rule.code is CopayCode.RATE:
        reported = ChargeType(rule.code.value, rate=rule.rate)
    else:
        reported = ChargeType(rule.code.value)
    return ComponentCopay(price, copay, reported, carried)


@dataclass(frozen=True)
class ContractTerms:
    """The prices of a contract between an insurer and an institution, with the copay rules to
    apply (those of the person's 受診券; the contract itself states prices only).

    ``detail_prices`` maps 別表8 items to their price; ``other_prices`` maps 17-digit item
    codes of additional items (追加健診項目) to theirs; ``dock_price`` is the 人間ドック price (None:
    the contract does not cover docks). Each component has its own copay rule.
    """

    commission_type: CommissionType
    basic_price: int
    basic_copay: CopayRule = NO_COPAY
    detail_prices: Mapping[DetailItem, int] = field(default_factory=dict)
    detail_copay: CopayRule = NO_COPAY
    other_prices: Mapping[str, int] = field(default_factory=dict)
    other_copay: CopayRule = NO_COPAY
    dock_price: int | None = None
    dock_copay: CopayRule = NO_COPAY

    def __post_init__(self) -> None:
        object.__setattr__(self, "commission_type", CommissionType(self.commission_type))
        object.__setattr__(
            self,
            "detail_prices",
            {DetailItem(key): value for key, value in self.detail_prices.items()},
        )


@dataclass(frozen=True)
class ClaimComputation:
    charges: Charges
    settlement: Settlement


def claim_type_for(*, basic: bool, detail: bool, other: bool, dock: bool = False) -> ClaimType:
    """請求区分 from the components present."""
    if dock:
        if basic or detail:
            raise ValueError("a 人間ドック claim has no basic or detailed component")
        return ClaimType.HUMAN_DOCK
    if not basic:
        raise ValueError("請求区分 1–4 always include the basic checkup")
    if detail and other:
        return ClaimType.BASIC_DETAIL_OTHER
    if detail:
        return ClaimType.BASIC_DETAIL
    if other:
        return ClaimType.BASIC_OTHER
    return ClaimType.BASIC


def _totals(components: list[ComponentCopay], paid_by_other_program: int) -> tuple[int, int, int]:
    unit_amount = sum(component.price for component in components)
    payment_amount = sum(component.copay for component in components)
    claim_amount = unit_amount - payment_amount - paid_by_other_program
    if claim_amount <= 0:
        return unit_amount, max(0, unit_amount - paid_by_other_program), 0
    return unit_amount, payment_amount, claim_amount


def compute_claim(
    terms: ContractTerms,
    *,
    detail_items: Iterable[DetailItem | str] = (),
    other_items: Iterable[str] = (),
    paid_by_other_program: int = 0,
    ties_down: bool = False,
) -> ClaimComputation:
    """Compute a 請求区分 1–4 claim for the detailed and additional items actually performed.

    Raises ValueError when an item performed is not priced by the contract. ``ties_down``: see
    `round_half_up`.
    """
    details = sorted({DetailItem(item) for item in detail_items}, key=lambda item: item.value)
    others = list(dict.fromkeys(other_items))
    missing = [item.value for item in details if item not in terms.detail_prices]
    missing += [code for code in others if code not in terms.other_prices]
    if missing:
        raise ValueError(f"items not priced by the contract: {', '.join(missing)}")
    detail_lines = tuple(DetailPrice(item.value, terms.detail_prices[item]) for item in details)
    other_lines = tuple(OtherPrice(terms.other_prices[code], code) for code in others)

    basic = component_copay(terms.basic_copay, terms.basic_price, paid_by_other_program, ties_down=ties_down)
    left = basic.other_program_left
    components = [basic]
    detail = other = None
    if detail_lines:
        price = sum(line.amount for line in detail_lines)
        detail = component_copay(terms.detail_copay, price, left, ties_down=ties_down)
        left = detail.other_program_left
        components.append(detail)
    if other_lines:
        price = sum(line.amount for line in other_lines)
        other = component_copay(terms.other_copay, price, left, ties_down=ties_down)
        components.append(other)
    unit_amount, payment_amount, claim_amount = _totals(components, paid_by_other_program)
    claim_type = claim_type_for(basic=True, detail=detail is not None, other=other is not None)
    return ClaimComputation(
        charges=Charges(
            basic=basic.reported,
            detail=detail.reported if detail else None,
            other=other.reported if other else None,
        ),
        settlement=Settlement(
            claim_type=claim_type.value,
            commission_type=terms.commission_type.value,
            unit_price_basic=terms.basic_price,
            unit_price_details=detail_lines,
            unit_price_others=other_lines,
            payment_basic=basic.copay,
            payment_detail=detail.copay if detail else None,
            payment_other=other.copay if other else None,
            unit_amount=unit_amount,
            payment_amount=payment_amount,
            payment_by_other_program=paid_by_other_program or None,
            claim_amount=claim_amount,
        ),
    )


def compute_dock_claim(
    *,
    commission_type: CommissionType | str,
    price: int,
    copay: CopayRule = NO_COPAY,
    paid_by_other_program: int = 0,
    ties_down: bool = False,
) -> ClaimComputation:
    """Compute a 人間ドック claim (請求区分 5): one price, reported as unitPriceOther."""
    component = component_copay(copay, price, paid_by_other_program, ties_down=ties_down)
    unit_amount, payment_amount, claim_amount = _totals([component], paid_by_other_program)
    if copay.code is CopayCode.INSURER_CAP:
        copayment = None
    elif copay.code is CopayCode.FIXED:
        copayment = ChargeType(copay.code.value, amount=copay.amount)
    elif copay.code is CopayCode.RATE:
        copayment = ChargeType(copay.code.value, rate=copay.rate)
    else:
        copayment = ChargeType(copay.code.value)
    return ClaimComputation(
        charges=Charges(dock=DockCharge(copayment, copay.cap or None)),
        settlement=Settlement(
            claim_type=ClaimType.HUMAN_DOCK.value,
            commission_type=CommissionType(commission_type).value,
            unit_price_basic=None,
            unit_price_details=(),
            unit_price_others=(OtherPrice(price),),
            payment_basic=None,
            payment_detail=None,
            payment_other=component.copay,
            unit_amount=unit_amount,
            payment_amount=payment_amount,
            payment_by_other_program=paid_by_other_program or None,
            claim_amount=claim_amount,
        ),
    )


def settlement_consistent(settlement: Settlement) -> list[str]:
    """Internal arithmetic of a settlement as written: which sums do not hold (empty = all do).

    When the claim comes to 0 (他の検診による負担 and the copays cover every price), paymentAmount
    is max(0, unitAmount − paymentByOtherProgram) and may be less than the component copays.
    """
    problems: list[str] = []
    prices = (settlement.unit_price_basic or 0) + sum(line.amount for line in settlement.unit_price_details)
    prices += sum(line.amount for line in settlement.unit_price_others)
    if prices != settlement.unit_amount:
        problems.append(f"unitAmount {settlement.unit_amount} ≠ 単価の合計 {prices}")
    payments = sum(
        amount or 0 for amount in (settlement.payment_basic, settlement.payment_detail, settlement.payment_other)
    )
    other_program = settlement.payment_by_other_program or 0
    clamped = settlement.claim_amount == 0 and settlement.payment_amount == max(0, settlement.unit_amount - other_program)
    if payments != settlement.payment_amount and not (clamped and settlement.payment_amount < payments):
        problems.append(f"paymentAmount {settlement.payment_amount} ≠ 窓口負担の合計 {payments}")
    expected = max(0, settlement.unit_amount - settlement.payment_amount - other_program)
    if expected != settlement.claim_amount:
        problems.append(f"claimAmount {settlement.claim_amount} ≠ {expected}")
    return problems


DETAIL_PRICE_FIELDS = {
    DetailItem.ANEMIA: "anemia_price",
    DetailItem.ECG: "ecg_price",
    DetailItem.FUNDUS: "fundus_price",
    DetailItem.CREATININE: "creatinine_price",
}


def terms_from_contract(contract: Any, other_prices: Mapping[str, int] | None = None) -> ContractTerms:
    """The prices of an object shaped like ``agency.models.Contract``, with no copay (the copay
    comes from the 受診券).

    Reads ``commission_type``, ``basic_price``, ``anemia_price`` / ``ecg_price`` /
    ``fundus_price`` / ``creatinine_price`` and ``dock_price`` (None when absent). Other-item
    prices come from ``other_prices`` or else from ``contract.other_items.all()`` (rows with
    ``item_code`` and ``price``). A detailed item priced 0 is still billable at 0.
    """
    if other_prices is None:
        other_prices = {row.item_code: row.price for row in contract.other_items.all()}
    return ContractTerms(
        commission_type=CommissionType(str(contract.commission_type)),
        basic_price=contract.basic_price,
        detail_prices={item: getattr(contract, name) for item, name in DETAIL_PRICE_FIELDS.items()},
        other_prices=dict(other_prices),
        dock_price=getattr(contract, "dock_price", None),
    )


# --- 特定保健指導 決済情報 (gc08) ---------------------------------------------------------------------------
#
# A guidance claim bills ``paymentRate`` % of the 利用券's unit price at one 実施時点 (分割請求: the 開始時
# part and the 実績評価時 part add up to 100 %); calculatedAmount = round_half_up(unitPrice × rate / 100).
# The person's whole 窓口負担 is the 利用券's rule (別表6, with its 保険者負担上限額) on the unit price,
# as for a checkup component. 別表14 says when it is taken: 1 初回指導時全額徴収 — the 開始時 part takes
# it (at most its calculatedAmount) and a later part only what the first could not take; 2 それ以外 —
# each part takes its own share round_half_up(負担 × rate / 100). claimAmount = calculatedAmount − payment.
# The split of the copay between the parts is this project's reading of gc08 (别表14), not confirmed
# against the 第4期 決済情報 specification (README, "特定保健指導").


@dataclass(frozen=True)
class GuidanceComputation:
    calculated_amount: int
    payment_amount: int
    claim_amount: int
    copay_total: int


def guidance_copay_rule(copayment: ChargeType | None, max_insurance_limit: int | None) -> CopayRule:
    """The 利用券's copay rule from the claim's healthGuidanceCard (copayment + maxInsuranceLimit)."""
    base = rule_from_charge(copayment)
    if not max_insurance_limit or base.code is CopayCode.INSURER_CAP:
        return base
    return CopayRule(base.code, amount=base.amount, rate=base.rate, cap=max_insurance_limit)


def compute_guidance_claim(
    *,
    unit_price: int,
    payment_rate: int,
    rule: CopayRule,
    payment_status: str,
    first_part: bool,
) -> GuidanceComputation:
    """The amounts of one part of a guidance claim (see above). ``first_part``: the 開始時 part, or the
    only part when nothing is split (rate 100)."""
    if unit_price < 0 or not 0 <= payment_rate <= 100:
        raise ValueError("a guidance claim has a non-negative price and a rate of 0–100 %")
    calculated = round_half_up(unit_price * payment_rate, 100)
    total = component_copay(rule, unit_price).copay
    if payment_status == "1":
        if first_part or payment_rate == 100:
            payment = min(total, calculated)
        else:
            earlier = round_half_up(unit_price * (100 - payment_rate), 100)
            payment = min(calculated, max(0, total - min(total, earlier)))
    else:
        payment = min(calculated, round_half_up(total * payment_rate, 100))
    return GuidanceComputation(calculated, payment, calculated - payment, total)


def guidance_claim_differences(claim: Any, *, first_part: bool | None = None) -> list[str]:
    """What of a `records.GuidanceClaim` differs from the recomputation, as ``field stated ≠ computed``.
    ``first_part`` defaults to the claim's timing (開始時 = the first part). Raises ValueError for
    copay codes outside 別表6."""
    first = claim.guidance_timing == "1" if first_part is None else first_part
    computed = compute_guidance_claim(
        unit_price=claim.unit_price,
        payment_rate=claim.payment_rate,
        rule=guidance_copay_rule(claim.copayment, claim.max_insurance_limit),
        payment_status=claim.payment_status,
        first_part=first,
    )
    differences = []
    for label, stated, expected in (
        ("calculatedAmount", claim.calculated_amount, computed.calculated_amount),
        ("payment", claim.payment_amount, computed.payment_amount),
        ("claimAmount", claim.claim_amount, computed.claim_amount),
    ):
        if stated != expected:
            differences.append(f"{label} {stated} ≠ {expected}")
    return differences
