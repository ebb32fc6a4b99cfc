"""Claim arithmetic (SPEC §5.1): worked examples, the rules per 別表6 code, and invariants."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenshin.codes import ClaimType, CommissionType, CopayCode, DetailItem
from kenshin.copay import (
    NO_COPAY,
    ContractTerms,
    CopayRule,
    component_copay,
    compute_claim,
    compute_dock_claim,
    dock_rule_from_charge,
    round_half_up,
    rule_from_charge,
    settlement_consistent,
    terms_from_contract,
)
from kenshin.records import ChargeType, DockCharge, OtherPrice


@pytest.fixture
def worked_terms() -> ContractTerms:
    return ContractTerms(
        commission_type=CommissionType.INDIVIDUAL,
        basic_price=8000,
        basic_copay=CopayRule(CopayCode.RATE, rate=30_000),
        detail_prices={DetailItem.ANEMIA: 1000},
        detail_copay=CopayRule(CopayCode.FIXED, amount=500),
    )


def test_worked_example_basic_and_anemia(worked_terms: ContractTerms) -> None:
    result = compute_claim(worked_terms, detail_items=[DetailItem.ANEMIA])
    settlement = result.settlement
    assert settlement.payment_basic == 2400
    assert settlement.payment_detail == 500
    assert settlement.claim_type == ClaimType.BASIC_DETAIL
    assert (settlement.unit_amount, settlement.payment_amount, settlement.claim_amount) == (9000, 2900, 6100)
    assert settlement.payment_by_other_program is None
    assert result.charges.basic == ChargeType("3", rate=30_000)
    assert result.charges.detail == ChargeType("2", amount=500)
    assert result.charges.other is None


def test_worked_example_human_dock_with_insurer_cap() -> None:
    result = compute_dock_claim(
        commission_type=CommissionType.INDIVIDUAL, price=40_000, copay=CopayRule(CopayCode.NONE, cap=20_000)
    )
    settlement = result.settlement
    assert settlement.claim_type == ClaimType.HUMAN_DOCK
    assert settlement.unit_price_others == (OtherPrice(40_000),)
    assert (settlement.payment_other, settlement.claim_amount) == (20_000, 20_000)
    assert result.charges.dock == DockCharge(ChargeType("1"), 20_000)


@pytest.mark.parametrize(
    ("rule", "price", "copay", "reported"),
    [
        (CopayRule(CopayCode.NONE), 8000, 0, ChargeType("1")),
        (CopayRule(CopayCode.FIXED, amount=1000), 8000, 1000, ChargeType("2", amount=1000)),
        (CopayRule(CopayCode.FIXED, amount=1000), 600, 600, ChargeType("2", amount=1000)),
        (CopayRule(CopayCode.RATE, rate=10_000), 8005, 801, ChargeType("3", rate=10_000)),
        (CopayRule(CopayCode.RATE, rate=10_000), 8004, 800, ChargeType("3", rate=10_000)),
        (CopayRule(CopayCode.RATE, rate=33_333), 1000, 333, ChargeType("3", rate=33_333)),
        (CopayRule(CopayCode.INSURER_CAP, cap=6000), 8000, 2000, ChargeType("4", amount=6000)),
        (CopayRule(CopayCode.INSURER_CAP, cap=9000), 8000, 0, ChargeType("4", amount=9000)),
        (CopayRule(CopayCode.NONE, cap=5000), 8000, 3000, ChargeType("4", amount=5000)),
        (CopayRule(CopayCode.FIXED, amount=1000, cap=5000), 8000, 3000, ChargeType("4", amount=5000)),
        (CopayRule(CopayCode.FIXED, amount=1000, cap=7500), 8000, 1000, ChargeType("2", amount=1000)),
        (CopayRule(CopayCode.RATE, rate=30_000, cap=5000), 8000, 3000, ChargeType("4", amount=5000)),
        (CopayRule(CopayCode.RATE, rate=30_000, cap=6000), 8000, 2400, ChargeType("3", rate=30_000)),
    ],
)
def test_component_copay_per_code(rule: CopayRule, price: int, copay: int, reported: ChargeType) -> None:
    result = component_copay(rule, price)
    assert (result.copay, result.reported) == (copay, reported)


def test_other_program_is_applied_to_basic_first_and_carried_forward() -> None:
    terms = ContractTerms(
        commission_type=CommissionType.GROUP,
        basic_price=3000,
        basic_copay=CopayRule(CopayCode.RATE, rate=10_000),
        detail_prices={DetailItem.ECG: 2000},
        detail_copay=CopayRule(CopayCode.RATE, rate=10_000),
    )
    settlement = compute_claim(terms, detail_items=["2"], paid_by_other_program=4000).settlement
    assert settlement.payment_basic == 0
    assert settlement.payment_detail == 100
    assert settlement.payment_by_other_program == 4000
    assert settlement.claim_amount == 5000 - 100 - 4000


def test_claim_amount_never_goes_below_zero() -> None:
    terms = ContractTerms(commission_type=CommissionType.INDIVIDUAL, basic_price=1000)
    settlement = compute_claim(terms, paid_by_other_program=1500).settlement
    assert (settlement.payment_amount, settlement.claim_amount) == (0, 0)


@pytest.mark.parametrize(
    ("details", "others", "claim_type"),
    [
        ((), (), ClaimType.BASIC),
        (("1",), (), ClaimType.BASIC_DETAIL),
        ((), ("3C020000002327101",), ClaimType.BASIC_OTHER),
        (("2", "4"), ("3C020000002327101",), ClaimType.BASIC_DETAIL_OTHER),
    ],
)
def test_claim_type_follows_the_components(
    details: tuple[str, ...], others: tuple[str, ...], claim_type: ClaimType
) -> None:
    terms = ContractTerms(
        commission_type=CommissionType.INDIVIDUAL,
        basic_price=9000,
        detail_prices=dict.fromkeys(DetailItem, 500),
        other_prices={"3C020000002327101": 400},
    )
    result = compute_claim(terms, detail_items=details, other_items=others)
    assert result.settlement.claim_type == claim_type
    assert (result.charges.detail is not None) == bool(details)
    assert (result.charges.other is not None) == bool(others)


def test_items_the_contract_does_not_price_are_refused() -> None:
    terms = ContractTerms(commission_type=CommissionType.INDIVIDUAL, basic_price=9000)
    with pytest.raises(ValueError, match="not priced"):
        compute_claim(terms, detail_items=[DetailItem.FUNDUS])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"code": CopayCode.RATE, "rate": 100_001},
        {"code": CopayCode.FIXED, "amount": -1},
        {"code": CopayCode.INSURER_CAP},
        {"code": CopayCode.RATE, "rate": 1.5},
    ],
)
def test_copay_rule_refuses_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"CopayRule|cap"):
        CopayRule(**kwargs)  # type: ignore[arg-type]


def test_round_half_up_on_integers() -> None:
    assert [round_half_up(n, 10) for n in (4, 5, 14, 15, 25)] == [0, 1, 1, 2, 3]


def test_terms_from_a_contract_shaped_object_are_prices_only() -> None:
    contract = SimpleNamespace(
        commission_type=2,
        basic_price=8000,
        anemia_price=1000,
        ecg_price=1500,
        fundus_price=1200,
        creatinine_price=0,
        dock_price=40_000,
        other_items=SimpleNamespace(all=lambda: [SimpleNamespace(item_code="3C020000002327101", price=400)]),
    )
    terms = terms_from_contract(contract)
    assert terms.commission_type is CommissionType.GROUP
    assert (terms.basic_copay, terms.detail_copay, terms.other_copay) == (NO_COPAY, NO_COPAY, NO_COPAY)
    assert terms.detail_prices[DetailItem.CREATININE] == 0
    assert terms.other_prices == {"3C020000002327101": 400}
    assert terms.dock_price == 40_000
    with_ticket = replace(terms, basic_copay=CopayRule(CopayCode.RATE, rate=30_000), detail_copay=CopayRule(CopayCode.FIXED, amount=500))
    assert compute_claim(with_ticket, detail_items=["1"]).settlement.claim_amount == 6100


@pytest.mark.parametrize(
    ("charge", "rule"),
    [
        (None, NO_COPAY),
        (ChargeType("1"), NO_COPAY),
        (ChargeType("2", amount=1000), CopayRule(CopayCode.FIXED, amount=1000)),
        (ChargeType("3", rate=30_000), CopayRule(CopayCode.RATE, rate=30_000)),
        (ChargeType("4", amount=5000), CopayRule(CopayCode.INSURER_CAP, cap=5000)),
    ],
)
def test_the_copay_rule_a_checkup_card_states(charge: ChargeType | None, rule: CopayRule) -> None:
    assert rule_from_charge(charge) == rule


def test_a_rule_reported_as_capped_computes_the_same_copay_from_its_report() -> None:
    rule = CopayRule(CopayCode.RATE, rate=30_000, cap=5000)
    result = component_copay(rule, 8000)
    assert result.reported == ChargeType("4", amount=5000)
    assert component_copay(rule_from_charge(result.reported), 8000).copay == result.copay == 3000


def test_the_dock_rule_comes_from_its_copayment_and_its_limit() -> None:
    assert dock_rule_from_charge(DockCharge(ChargeType("3", rate=10_000), 20_000)) == CopayRule(CopayCode.RATE, rate=10_000, cap=20_000)
    assert dock_rule_from_charge(DockCharge(None, 20_000)) == CopayRule(CopayCode.INSURER_CAP, cap=20_000)
    assert dock_rule_from_charge(None) == NO_COPAY


# --- 他の検診による負担, as the producers carry it (ORCA JKessai.java) ----------------------------------------


def _orca_component(price: int, amount: int, code: int, cap: int, other: int) -> tuple[int, int]:
    """JKessai.getModifiedMadoFutan, restated branch by branch: (copay, reported code). Negative copay
    means the rest of 他の検診による負担 to carry on. Rates are rounded half up on exact integers."""
    if code == 1:
        if cap == 0:
            return 0, 1
        if price > other:
            return (price - other - cap if price - other > cap else 0), 4
        return price - other, 4
    if code == 2:
        if price <= other:
            return price - other, 2
        if price - other <= amount:
            return price - other, 2
        if cap and price - other - amount > cap:
            return price - other - cap, 4
        return amount, 2
    rated = round_half_up((price - other) * amount, 100_000) if price > other else 0
    if price <= other:
        return price - other, 3
    if cap and price - other - rated > cap:
        return price - other - cap, 4
    return rated, 3


def _orca_claim(components: list[tuple[int, int, int, int]], other: int) -> tuple[list[int], int, int]:
    """JKessai.Kessai for 基本/詳細/追加: (copays, paymentAmount, claimAmount)."""
    left = other
    copays = []
    for position, (price, amount, code, cap) in enumerate(components):
        copay, _code = _orca_component(price, amount, code, cap, left)
        if copay >= 0:
            left = 0
        else:
            left = -copay if position < len(components) - 1 else 0
            copay = 0
        copays.append(copay)
    unit = sum(price for price, *_rest in components)
    payment = sum(copays)
    claim = unit - payment - other
    if claim <= 0:
        claim, payment = 0, max(0, unit - other)
    return copays, payment, claim


_orca_rules = st.one_of(
    st.tuples(st.just(1), st.just(0), st.sampled_from([0, 0, 500, 3000])),
    st.tuples(st.just(2), st.sampled_from([0, 300, 500, 1000, 1500]), st.sampled_from([0, 0, 500, 5000])),
    st.tuples(st.just(3), st.sampled_from([10_000, 20_000, 30_000, 29_000]), st.sampled_from([0, 0, 500, 5000])),
)


@given(
    basic=st.integers(0, 12_000),
    basic_rule=_orca_rules,
    detail=st.integers(0, 5_000),
    detail_rule=_orca_rules,
    other=st.integers(0, 5_000),
    other_rule=_orca_rules,
    paid_elsewhere=st.sampled_from([0, 0, 500, 1000, 3000, 8000, 20_000]),
)
def test_claims_match_the_producers_arithmetic(
    basic: int, basic_rule: tuple[int, int, int], detail: int, detail_rule: tuple[int, int, int],
    other: int, other_rule: tuple[int, int, int], paid_elsewhere: int,
) -> None:
    def rule(code: int, value: int, cap: int) -> CopayRule:
        if code == 2:
            return CopayRule(CopayCode.FIXED, amount=value, cap=cap)
        if code == 3:
            return CopayRule(CopayCode.RATE, rate=value, cap=cap)
        return CopayRule(CopayCode.NONE, cap=cap)

    terms = ContractTerms(
        commission_type=CommissionType.INDIVIDUAL,
        basic_price=basic, basic_copay=rule(*basic_rule),
        detail_prices={DetailItem.ECG: detail}, detail_copay=rule(*detail_rule),
        other_prices={"3C020000002327101": other}, other_copay=rule(*other_rule),
    )
    settlement = compute_claim(
        terms, detail_items=["2"], other_items=["3C020000002327101"], paid_by_other_program=paid_elsewhere
    ).settlement
    components = [(basic, basic_rule[1], basic_rule[0], basic_rule[2]), (detail, detail_rule[1], detail_rule[0], detail_rule[2]),
                  (other, other_rule[1], other_rule[0], other_rule[2])]
    copays, payment, claim = _orca_claim(components, paid_elsewhere)
    assert [settlement.payment_basic, settlement.payment_detail, settlement.payment_other] == copays
    assert (settlement.payment_amount, settlement.claim_amount) == (payment, claim)
    assert settlement_consistent(settlement) == []


def test_a_component_without_copay_absorbs_what_is_left_of_the_other_program() -> None:
    """基本 負担なし priced 1,000 with 他の検診による負担 1,500: nothing carries to 詳細 (ORCA); its fixed
    500 is paid, and since the claim would go negative the payment total is reduced to 0."""
    terms = ContractTerms(
        commission_type=CommissionType.INDIVIDUAL, basic_price=1000,
        detail_prices={DetailItem.ECG: 500}, detail_copay=CopayRule(CopayCode.FIXED, amount=500),
    )
    settlement = compute_claim(terms, detail_items=["2"], paid_by_other_program=1500).settlement
    assert (settlement.payment_basic, settlement.payment_detail) == (0, 500)
    assert (settlement.payment_amount, settlement.claim_amount) == (0, 0)
    assert settlement_consistent(settlement) == []


def test_an_exact_half_may_be_rounded_down_as_floating_point_producers_do() -> None:
    assert round_half_up(1450 * 29_000, 100_000) == 421
    assert round_half_up(1450 * 29_000, 100_000, ties_down=True) == 420
    assert round_half_up(1451 * 29_000, 100_000, ties_down=True) == round_half_up(1451 * 29_000, 100_000) == 421


_rules = st.one_of(
    st.builds(CopayRule, st.just(CopayCode.NONE), cap=st.integers(0, 20_000)),
    st.builds(CopayRule, st.just(CopayCode.FIXED), amount=st.integers(0, 20_000), cap=st.integers(0, 20_000)),
    st.builds(CopayRule, st.just(CopayCode.RATE), rate=st.integers(0, 100_000), cap=st.integers(0, 20_000)),
    st.builds(CopayRule, st.just(CopayCode.INSURER_CAP), cap=st.integers(1, 20_000)),
)


@given(
    basic=st.integers(0, 50_000),
    basic_rule=_rules,
    detail=st.integers(0, 10_000),
    detail_rule=_rules,
    other=st.integers(0, 10_000),
    other_rule=_rules,
    paid_elsewhere=st.integers(0, 30_000),
)
def test_claims_are_internally_consistent(
    basic: int,
    basic_rule: CopayRule,
    detail: int,
    detail_rule: CopayRule,
    other: int,
    other_rule: CopayRule,
    paid_elsewhere: int,
) -> None:
    terms = ContractTerms(
        commission_type=CommissionType.INDIVIDUAL,
        basic_price=basic,
        basic_copay=basic_rule,
        detail_prices={DetailItem.ECG: detail},
        detail_copay=detail_rule,
        other_prices={"3C020000002327101": other},
        other_copay=other_rule,
    )
    result = compute_claim(
        terms, detail_items=["2"], other_items=["3C020000002327101"], paid_by_other_program=paid_elsewhere
    )
    settlement = result.settlement
    assert settlement_consistent(settlement) == []
    for copay, price in (
        (settlement.payment_basic, basic),
        (settlement.payment_detail, detail),
        (settlement.payment_other, other),
    ):
        assert copay is not None
        assert 0 <= copay <= price
    assert settlement.unit_amount == basic + detail + other
    assert 0 <= settlement.claim_amount <= settlement.unit_amount
    if paid_elsewhere == 0:
        assert settlement.claim_amount + settlement.payment_amount == settlement.unit_amount
