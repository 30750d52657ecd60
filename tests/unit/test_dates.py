"""Due dates: start + k months, clipped to the month end, always computed from the start date."""

from __future__ import annotations

import calendar
import itertools
from datetime import date

import pytest

from puhui.domain.dates import add_months, days_in_month, due_dates


def _expected_due(start: date, k: int) -> date:
    """Independent reference: month arithmetic by divmod, month length from the stdlib calendar."""
    year, month0 = divmod(start.year * 12 + start.month - 1 + k, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


def test_jan_31_runs_feb_28_then_back_to_mar_31() -> None:
    assert due_dates(date(2026, 1, 31), 4) == (
        date(2026, 2, 28),
        date(2026, 3, 31),  # not Mar 28: never chained from the clipped Feb date
        date(2026, 4, 30),
        date(2026, 5, 31),
    )


def test_leap_year_february_has_29_days() -> None:
    assert due_dates(date(2028, 1, 31), 2) == (date(2028, 2, 29), date(2028, 3, 31))
    assert due_dates(date(2027, 11, 30), 4) == (
        date(2027, 12, 30),
        date(2028, 1, 30),
        date(2028, 2, 29),
        date(2028, 3, 30),
    )


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 1, 29), [date(2026, 2, 28), date(2026, 3, 29), date(2026, 4, 29)]),
        (date(2026, 1, 30), [date(2026, 2, 28), date(2026, 3, 30), date(2026, 4, 30)]),
        (date(2026, 1, 31), [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]),
        (date(2028, 1, 29), [date(2028, 2, 29), date(2028, 3, 29), date(2028, 4, 29)]),
        (date(2026, 8, 31), [date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 30)]),
        (date(2026, 12, 31), [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]),
    ],
)
def test_start_dates_on_the_29th_30th_31st(start: date, expected: list[date]) -> None:
    assert list(due_dates(start, 3)) == expected


def test_the_original_day_returns_after_a_short_month_for_a_whole_year() -> None:
    dates = due_dates(date(2026, 1, 31), 12)
    assert [d.day for d in dates] == [28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]
    assert dates[-1] == date(2027, 1, 31)


@pytest.mark.parametrize("day", [1, 15, 28, 29, 30, 31])
def test_due_dates_match_the_calendar_reference_over_five_years(day: int) -> None:
    for year in (2026, 2027, 2028):
        for month in range(1, 13):
            if day > calendar.monthrange(year, month)[1]:
                continue
            start = date(year, month, day)
            dates = due_dates(start, 60)
            assert dates == tuple(_expected_due(start, k) for k in range(1, 61))
            assert all(a < b for a, b in itertools.pairwise(dates))


def test_add_months_crosses_years() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 3, 31), 0) == date(2026, 3, 31)
    assert add_months(date(2026, 1, 15), 120) == date(2036, 1, 15)


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2026, 2, 28), (2028, 2, 29), (2000, 2, 29), (1900, 2, 28), (2100, 2, 28), (2026, 4, 30), (2026, 12, 31)],
)
def test_days_in_month_follows_the_gregorian_calendar(year: int, month: int, days: int) -> None:
    assert days_in_month(year, month) == days == calendar.monthrange(year, month)[1]


def test_term_gives_one_due_date_per_month() -> None:
    assert len(due_dates(date(2026, 5, 20), 36)) == 36
    assert due_dates(date(2026, 5, 20), 1) == (date(2026, 6, 20),)
