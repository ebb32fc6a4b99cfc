"""The cut-off of a billing month: the 5th of the next month at 23:59 JST, moved past weekends and holidays."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import calendar
from billing.calendar import JST


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2025-02", "2025-03-05 23:59"),  # a Wednesday
        ("2025-03", "2025-04-07 23:59"),  # the 5th is a Saturday
        ("2025-04", "2025-05-07 23:59"),  # 5 May Children's Day, 6 May substitute holiday
        ("2024-12", "2025-01-06 23:59"),  # the 5th is a Sunday
        ("2024-08", "2024-09-05 23:59"),
        ("2025-08", "2025-09-05 23:59"),
        ("2026-04", "2026-05-07 23:59"),  # 3–6 May: Constitution Day, Greenery Day, Children's Day, substitute
    ],
)
def test_cutoff_is_the_fifth_or_the_next_business_day(period: str, expected: str) -> None:
    cutoff = calendar.cutoff_for(calendar.parse_period(period))
    assert cutoff == dt.datetime.fromisoformat(expected).replace(tzinfo=JST)


def test_cutoff_day_and_time_come_from_settings(settings: object) -> None:
    settings.BILLING_CUTOFF_DAY = 2  # type: ignore[attr-defined]
    settings.BILLING_CUTOFF_TIME = "17:30"  # type: ignore[attr-defined]
    # 2 and 3 January are bank holidays (a Thursday and a Friday here), then a weekend.
    assert calendar.cutoff_for(dt.date(2024, 12, 1)) == dt.datetime(2025, 1, 6, 17, 30, tzinfo=JST)
    settings.BILLING_CUTOFF_DAY = 10  # type: ignore[attr-defined]
    assert calendar.cutoff_for(dt.date(2025, 7, 1)) == dt.datetime(2025, 8, 12, 17, 30, tzinfo=JST)  # 11 Aug Mountain Day


def test_national_holidays_come_from_the_holiday_library() -> None:
    assert not calendar.is_business_day(dt.date(2025, 2, 11))  # 建国記念の日
    assert not calendar.is_business_day(dt.date(2025, 2, 24))  # 振替休日
    assert not calendar.is_business_day(dt.date(2025, 9, 15))  # 敬老の日
    assert calendar.is_business_day(dt.date(2025, 2, 12))


@given(st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 1)))
def test_every_cutoff_is_a_business_day_shortly_after_the_nominal_day(day: dt.date) -> None:
    period = calendar.month_start(day)
    cutoff = calendar.cutoff_for(period)
    nominal = calendar.nominal_cutoff_day(period)
    assert calendar.is_business_day(cutoff.date())
    assert nominal <= cutoff.date() <= nominal + dt.timedelta(days=7)
    assert all(not calendar.is_business_day(nominal + dt.timedelta(days=n)) for n in range((cutoff.date() - nominal).days))
    assert cutoff.date().month == calendar.next_month(period).month


def test_periods_parse_and_print() -> None:
    assert calendar.parse_period("2025-02") == dt.date(2025, 2, 1)
    assert calendar.period_label(dt.date(2025, 2, 1)) == "2025-02"
    for bad in ("2025-13", "25-02", "2025/02", "x"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            calendar.parse_period(bad)


def test_the_latest_due_month() -> None:
    assert calendar.latest_due_period(dt.datetime(2025, 3, 5, 23, 58, tzinfo=JST)) == dt.date(2025, 1, 1)
    assert calendar.latest_due_period(dt.datetime(2025, 3, 5, 23, 59, tzinfo=JST)) == dt.date(2025, 2, 1)
