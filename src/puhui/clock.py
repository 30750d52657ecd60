"""The business date. Jobs and tests control time through a Clock, never `date.today()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def business_date(self) -> date: ...


class SystemClock:
    """Wall-clock time; the business date is the calendar date in China (UTC+8)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def business_date(self) -> date:
        return self.now().astimezone(CHINA_TZ).date()


@dataclass
class FixedClock:
    """A clock that stands still until told to move: for tests and for catch-up batch runs."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 1, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def business_date(self) -> date:
        return self.current.astimezone(CHINA_TZ).date()

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta

    def set_date(self, day: date) -> None:
        self.current = datetime(day.year, day.month, day.day, 1, 0, tzinfo=CHINA_TZ)
