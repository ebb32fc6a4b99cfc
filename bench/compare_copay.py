"""Compare the claim arithmetic with the producers' (ORCA 日医特定健診 ``JKessai.java``) on random claims.

    python bench/compare_copay.py [--cases 200000] [--seed 1]

The producers' arithmetic is restated here branch by branch (getModifiedMadoFutan and Kessai for
基本/詳細/追加, rates rounded half up on exact integers). Each case draws prices, a copay rule per
component (負担なし / 定額 / 定率, each with or without a 保険者負担上限額) and 他の検診による負担, and
prints how many claims `kenshin.copay.compute_claim` computes differently, and how many of the
producers' claims 事務点検 would return (`kenshin.rules.copay_differences`, `kenshin.copay.settlement_consistent`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kenshin.codes import CommissionType, CopayCode, DetailItem
from kenshin.copay import ContractTerms, CopayRule, compute_claim, round_half_up, settlement_consistent
from kenshin.records import Charges, Claim, Settlement, Subject
from kenshin.rules import copay_differences

OTHER_ITEM = "3C020000002327101"


def _component(price: int, value: int, code: int, cap: int, other: int) -> int:
    """ORCA getModifiedMadoFutan: the copay (negative: what is left of 他の検診による負担)."""
    if code == 1:
        if cap == 0:
            return 0
        return (price - other - cap if price - other > cap else 0) if price > other else price - other
    if price <= other:
        return price - other
    if code == 2:
        if price - other <= value:
            return price - other
        return price - other - cap if cap and price - other - value > cap else value
    rated = round_half_up((price - other) * value, 100_000)
    return price - other - cap if cap and price - other - rated > cap else rated


def _producers(components: list[tuple[int, int, int, int]], other: int) -> tuple[list[int], int, int]:
    left, copays = other, []
    for position, (price, value, code, cap) in enumerate(components):
        copay = _component(price, value, code, cap, left)
        left = 0 if copay >= 0 or position == len(components) - 1 else -copay
        copays.append(max(copay, 0))
    unit = sum(price for price, *_rest in components)
    payment, claim = sum(copays), unit - sum(copays) - other
    if claim <= 0:
        claim, payment = 0, max(0, unit - other)
    return copays, payment, claim


def _rule(code: int, value: int, cap: int) -> CopayRule:
    if code == 2:
        return CopayRule(CopayCode.FIXED, amount=value, cap=cap)
    if code == 3:
        return CopayRule(CopayCode.RATE, rate=value, cap=cap)
    return CopayRule(CopayCode.NONE, cap=cap)


def _draw(rng: random.Random) -> tuple[int, int, int]:
    code = rng.choice((1, 2, 3))
    value = {1: 0, 2: rng.choice((300, 500, 1000, 1500)), 3: rng.choice((10_000, 20_000, 30_000))}[code]
    cap = rng.choice((0, 0, 0, rng.choice((500, 1000, 5000, 6000))))
    return code, value, cap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    subject = Subject("00000000", None, "1", None, "ｹﾝｼﾝ ﾀﾛｳ", "1", dt.date(1970, 1, 1), "100-0001", "")
    differ = returned = with_other = 0
    for _ in range(args.cases):
        prices = (rng.randrange(5000, 12001, 10), rng.randrange(0, 3001, 10), rng.randrange(0, 2001, 10))
        rules = [_draw(rng) for _ in prices]
        other = rng.choice((0, 0, 0, rng.randrange(100, 15001, 100)))
        with_other += other > 0
        terms = ContractTerms(
            commission_type=CommissionType.INDIVIDUAL,
            basic_price=prices[0], basic_copay=_rule(*rules[0]),
            detail_prices={DetailItem.ECG: prices[1]}, detail_copay=_rule(*rules[1]),
            other_prices={OTHER_ITEM: prices[2]}, other_copay=_rule(*rules[2]),
        )
        ours = compute_claim(terms, detail_items=["2"], other_items=[OTHER_ITEM], paid_by_other_program=other)
        copays, payment, claim = _producers([(p, r[1], r[0], r[2]) for p, r in zip(prices, rules, strict=True)], other)
        s = ours.settlement
        if [s.payment_basic, s.payment_detail, s.payment_other, s.payment_amount, s.claim_amount] != [*copays, payment, claim]:
            differ += 1
        produced = Settlement(
            s.claim_type, s.commission_type, s.unit_price_basic, s.unit_price_details, s.unit_price_others,
            copays[0], copays[1], copays[2], s.unit_amount, payment, other or None, claim,
        )
        claim_file = Claim("2813300114", subject, "24100000001", None, ours.charges or Charges(), produced)
        returned += bool(copay_differences(claim_file, terms) or settlement_consistent(produced))
    print(f"cases: {args.cases:,} (with 他の検診による負担: {with_other:,})")
    print(f"claims computed differently from the producers: {differ:,}")
    print(f"producers' claims that 事務点検 would return (REC_COPAY_MISMATCH or CLM_AMOUNT_INCONSISTENT): {returned:,}")


if __name__ == "__main__":
    main()
