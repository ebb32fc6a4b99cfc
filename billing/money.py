"""Money: integer yen everywhere, one rounding helper, and the consumption tax of a tax-included total.

Amounts are ``int`` yen (never float). Fractions appear in one place only, the tax contained in a
tax-included total, and are rounded by ``round_yen`` alone.

The tax of an invoice is computed once per tax rate, from the tax-included total of the lines at
that rate (適格請求書: 税率ごとに区分した合計額から算出, 1円未満切捨て):

    tax = floor(total × rate / (100 + rate))          (10 %: floor(total × 10 / 110))

Rounding is toward zero, so the tax of a credit note is exactly the negated tax of the invoice it
cancels.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from django.utils.translation import gettext_lazy as _

Yen = int

STANDARD_RATE = 10  # 標準税率 (percent)
REDUCED_RATE = 8  # 軽減税率 (percent), not used by the agency's fees but accepted by the helpers

# Stated on every invoice (the rounding of the tax amount is part of a qualified invoice).
ROUNDING_NOTE = _("消費税額は税率ごとに区分した税込合計額から算出し、1円未満の端数は切り捨てています。")


def round_yen(value: Decimal | Fraction | int) -> Yen:
    """The one rounding helper: a yen amount with the fraction cut off (toward zero, 切捨て)."""
    if isinstance(value, bool):
        raise TypeError("a yen amount is not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return int(value)  # exact; int() of a Fraction truncates toward zero
    if isinstance(value, Decimal):
        return int(value.to_integral_value(rounding=ROUND_DOWN))
    raise TypeError(f"not a money amount: {type(value).__name__}")


def tax_included(total: Yen, rate: int = STANDARD_RATE) -> Yen:
    """The consumption tax contained in a tax-included ``total`` at ``rate`` percent, rounded down."""
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError("totals are integer yen")
    if rate not in (STANDARD_RATE, REDUCED_RATE):
        raise ValueError(f"unknown consumption tax rate: {rate}")
    return round_yen(Fraction(total * rate, 100 + rate))


def net_of_tax(total: Yen, rate: int = STANDARD_RATE) -> Yen:
    """The amount excluding tax (税抜) of a tax-included total: total − its tax."""
    return total - tax_included(total, rate)


def format_yen(amount: Yen) -> str:
    """``1,234,567`` with a leading minus for negative amounts (credit notes)."""
    return f"{amount:,}" if amount >= 0 else f"-{-amount:,}"
