"""Billing months, the monthly cut-off and Japanese business days.

The cut-off of billing month M is ``BILLING_CUTOFF_DAY`` (default the 5th) of month M+1 at
``BILLING_CUTOFF_TIME`` (default 23:59) Japan time. When that day is not a business day (a
Saturday, a Sunday, a national holiday from the maintained ``holidays`` package, or a bank holiday
of the year end: 31 December, 2 and 3 January) the cut-off moves to the next business day, at the
same time. A record counts for a month when it was accepted at or before that moment.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

JST = ZoneInfo("Asia/Tokyo")
BANK_HOLIDAYS = frozenset({(12, 31), (1, 2), (1, 3)})  # 銀行休業日 besides weekends and national holidays
_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@functools.lru_cache(maxsize=64)
def _japan_holidays(year: int) -> holidays.HolidayBase:
    return holidays.Japan(years=year)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _japan_holidays(day.year) and (day.month, day.day) not in BANK_HOLIDAYS


def next_business_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(period: dt.date, months: int) -> dt.date:
    index = period.year * 12 + (period.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def next_month(period: dt.date) -> dt.date:
    return add_months(period, 1)


def previous_month(period: dt.date) -> dt.date:
    return add_months(period, -1)


def parse_period(text: str) -> dt.date:
    """``"2025-02"`` → 2025-02-01; ``ValueError`` for anything else."""
    match = _PERIOD_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return dt.date(year, month, 1)


def period_label(period: dt.date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def month_bounds(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of the month and of the next month, Japan time (aware datetimes)."""
    start = dt.datetime.combine(period, dt.time(0, 0), tzinfo=JST)
    end = dt.datetime.combine(next_month(period), dt.time(0, 0), tzinfo=JST)
    return start, end


def cutoff_time() -> dt.time:
    match = _TIME_RE.match(str(settings.BILLING_CUTOFF_TIME))
    if match is None:
        raise ValueError(f"BILLING_CUTOFF_TIME is not HH:MM: {settings.BILLING_CUTOFF_TIME!r}")
    return dt.time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def nominal_cutoff_day(period: dt.date) -> dt.date:
    """The configured day of the following month (clamped to its last day)."""
    following = next_month(period)
    last_day = (next_month(following) - dt.timedelta(days=1)).day
    day = int(settings.BILLING_CUTOFF_DAY)
    if not 1 <= day <= 28:
        raise ValueError(f"BILLING_CUTOFF_DAY must be between 1 and 28: {day}")
    return following.replace(day=min(day, last_day))


def cutoff_for(period: dt.date) -> dt.datetime:
    """The cut-off moment of billing month ``period`` (aware, Japan time)."""
    day = next_business_day(nominal_cutoff_day(period))
    return dt.datetime.combine(day, cutoff_time(), tzinfo=JST)


def service_month(checkup_date: dt.date | None, accepted_at: dt.datetime | None) -> dt.date | None:
    """The month a record belongs to: its checkup month (実施年月), else the month it was accepted."""
    if checkup_date is not None:
        return month_start(checkup_date)
    if accepted_at is not None:
        return month_start(accepted_at.astimezone(JST).date())
    return None


def latest_due_period(now: dt.datetime) -> dt.date | None:
    """The latest month whose cut-off has passed at ``now`` (the month before last, or last month)."""
    this_month = month_start(now.astimezone(JST).date())
    for back in (1, 2):
        period = add_months(this_month, -back)
        if cutoff_for(period) <= now:
            return period
    return None
