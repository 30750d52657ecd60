"""Calendar rules: due dates by whole months from the start date, clipped to the month end."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def add_months(start: date, months: int) -> date:
    """start + months, clipped to the month end (Jan 31 + 1 -> Feb 28/29, + 2 -> Mar 31)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(start.day, days_in_month(year, month)))


@lru_cache(maxsize=4096)
def due_dates(start: date, term_months: int) -> tuple[date, ...]:
    """The due date of every installment, each computed from the start date (never chained)."""
    return tuple(add_months(start, k) for k in range(1, term_months + 1))
