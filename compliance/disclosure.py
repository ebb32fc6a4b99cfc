"""The public disclosure (事業運営上開示すべき重要事項の概要): the agency profile plus live figures.

前年度の取扱件数 counts accepted records whose checkup date falls in the previous fiscal year
(April to March; a record without a checkup date counts by the date it was checked). The figure per
day divides the year's count by the calendar days of that fiscal year (365, or 366 when it contains
29 February), rounded half up.

最終更新日 is the latest of: the last change of the agency profile, the start of the current fiscal
year (when 前年度 moves on), the last acceptance of a record counted in the figure, and the last
change of the guideline-compliance answer (when every item became 実施済; or, while some item is
実施予定, the earliest moment a still-planned item became so).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from agency.models import AgencyProfile
from intake.models import Record, RecordStatus

from . import selectors
from .models import ControlItem, ItemStatus


@dataclass(frozen=True)
class FiscalYear:
    start: dt.date  # 1 April
    end: dt.date  # the next 1 April (exclusive)

    @property
    def label(self) -> str:
        return f"{self.start.year}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def fiscal_year_of(day: dt.date) -> FiscalYear:
    year = day.year if day.month >= 4 else day.year - 1
    return FiscalYear(dt.date(year, 4, 1), dt.date(year + 1, 4, 1))


def previous_fiscal_year(today: dt.date) -> FiscalYear:
    current = fiscal_year_of(today)
    return fiscal_year_of(current.start - dt.timedelta(days=1))


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass(frozen=True)
class Volume:
    fiscal_year: FiscalYear
    yearly: int
    per_day: int
    last_change: dt.datetime | None


def handled_volume(*, today: dt.date | None = None) -> Volume:
    fiscal_year = previous_fiscal_year(today or timezone.localdate())
    counted = Record.objects.filter(status=RecordStatus.ACCEPTED).filter(
        Q(checkup_date__gte=fiscal_year.start, checkup_date__lt=fiscal_year.end)
        | Q(checkup_date__isnull=True, checked_at__gte=_midnight(fiscal_year.start), checked_at__lt=_midnight(fiscal_year.end))
    )
    figures = counted.aggregate(n=Count("pk"), last=Max("checked_at"))
    yearly = figures["n"]
    per_day = int((Decimal(yearly) / Decimal(fiscal_year.days)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return Volume(fiscal_year, yearly, per_day, figures["last"])


def _compliance_changed_at(compliant: bool) -> dt.datetime | None:
    rows = ControlItem.objects.all()
    if compliant:
        return rows.aggregate(m=Max("status_since"))["m"]
    return rows.filter(status=ItemStatus.PLANNED).aggregate(m=Min("status_since"))["m"]


def _marks(profile: AgencyProfile | None) -> dict[str, list[tuple[str, bool]]]:
    """Each single-choice question of the form as (label, chosen) pairs, for □/■."""
    if profile is None:
        return {}
    questions = {
        "classification": (AgencyProfile.Classification, profile.classification),
        "system_ownership": (AgencyProfile.SystemOwnership, profile.system_ownership),
        "system_operation": (AgencyProfile.SystemOperation, profile.system_operation),
        "system_facility": (AgencyProfile.SystemFacility, profile.system_facility),
    }
    return {name: [(str(label), value == chosen) for value, label in choices.choices] for name, (choices, chosen) in questions.items()}


def disclosure_context(*, today: dt.date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    profile = AgencyProfile.objects.order_by("pk").first()
    volume = handled_volume(today=today)
    summary = selectors.summary(selectors.item_states())
    moments = [
        profile.updated_at if profile else None,
        _midnight(fiscal_year_of(today).start),
        volume.last_change,
        _compliance_changed_at(summary.compliant),
    ]
    last_updated = max(m for m in moments if m is not None)
    return {
        "profile": profile,
        "marks": _marks(profile),
        "volume": volume,
        "summary": summary,
        "last_updated": timezone.localtime(last_updated).date(),
    }
