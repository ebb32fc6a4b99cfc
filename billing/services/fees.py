"""The agency's fees to an insurer for one month (事務手数料), from the fee table and the insurer's terms.

* initial fee (初期費用): once, in the month the insurer's contract starts;
* fixed fee (固定費): per contract year, billed in the contract's anniversary month (the start
  month included), or every month when the insurer's terms say monthly;
* per checkup (従量料金): each 特定健診 delivered to the insurer by the end of the month and not
  charged before — once per person and 年度: a corrected record delivered after its returned
  (過誤) original is the same checkup and is not charged again (``closing.fee_items``). Results only
  and 事業者健診等 count only when the insurer's terms say so (``fee_other_checkups``);
* per guidance part (従量料金 特定保健指導): each 開始時 / 実績評価時 delivered, at the insurer's own
  ``fee_per_guidance`` — none by default (the fee table's 従量単価 is per 健診).

Amounts are the insurer's terms where set, otherwise the agency's fee table (``AgencyProfile``);
all consumption tax included, integer yen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from agency.models import AgencyProfile, Insurer

from .. import calendar
from ..models import FixedFeePeriod, InsurerBillingTerms, InvoiceLineKind
from .invoicing import LineSpec


@dataclass(frozen=True)
class FeeTerms:
    initial: int
    fixed: int
    per_checkup: int
    fixed_period: str
    per_guidance: int = 0
    other_checkups: bool = False


def fee_terms_for(insurer: Insurer, profile: AgencyProfile) -> FeeTerms:
    terms = InsurerBillingTerms.objects.filter(insurer=insurer).first()
    if terms is None:
        return FeeTerms(profile.fee_initial, profile.fee_fixed, profile.fee_per_checkup, FixedFeePeriod.YEARLY)
    return FeeTerms(
        initial=profile.fee_initial if terms.fee_initial is None else terms.fee_initial,
        fixed=profile.fee_fixed if terms.fee_fixed is None else terms.fee_fixed,
        per_checkup=profile.fee_per_checkup if terms.fee_per_checkup is None else terms.fee_per_checkup,
        fixed_period=terms.fixed_fee_period,
        per_guidance=terms.fee_per_guidance or 0,
        other_checkups=terms.fee_other_checkups,
    )


def _ym(day: dt.date) -> str:
    return _("%(year)d年%(month)d月") % {"year": day.year, "month": day.month}


def fixed_fee_due(contract_start: dt.date, period: dt.date, fixed_period: str) -> bool:
    start = calendar.month_start(contract_start)
    if period < start:
        return False
    if fixed_period == FixedFeePeriod.MONTHLY:
        return True
    return period.month == start.month


def fee_lines(*, insurer: Insurer, period: dt.date, delivered: int, terms: FeeTerms, guidance: int = 0) -> list[LineSpec]:
    """The fee lines of ``insurer`` for billing month ``period`` with ``delivered`` checkups and
    ``guidance`` guidance parts to charge."""
    start = calendar.month_start(insurer.contract_start)
    if period < start:
        return []
    lines: list[LineSpec] = []
    if period == start and terms.initial:
        lines.append(LineSpec(InvoiceLineKind.INITIAL, _("初期費用（契約開始 %(start)s）") % {"start": _ym(start)}, 1, terms.initial))
    if terms.fixed and fixed_fee_due(insurer.contract_start, period, terms.fixed_period):
        if terms.fixed_period == FixedFeePeriod.MONTHLY:
            description = _("固定費（%(month)s分）") % {"month": _ym(period)}
        else:
            last = calendar.add_months(period, 11)
            description = _("固定費（契約年度 %(first)s〜%(last)s分）") % {"first": _ym(period), "last": _ym(last)}
        lines.append(LineSpec(InvoiceLineKind.FIXED, description, 1, terms.fixed))
    if delivered and terms.per_checkup:
        lines.append(
            LineSpec(
                InvoiceLineKind.PER_CHECKUP,
                _("従量料金 特定健診データ送付（%(month)s末までの送付分）") % {"month": _ym(period)},
                delivered,
                terms.per_checkup,
            )
        )
    if guidance and terms.per_guidance:
        lines.append(
            LineSpec(
                InvoiceLineKind.PER_GUIDANCE,
                _("従量料金 特定保健指導データ送付（%(month)s末までの送付分）") % {"month": _ym(period)},
                guidance,
                terms.per_guidance,
            )
        )
    return lines
