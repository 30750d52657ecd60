"""End of day: idempotent per business date, catching up missed days in order.

Each business date runs in its own transaction (batch/eod.py does the work set-based) and is
recorded in `eod_runs`; a date already done is not run again. With the "eod" business-date source
(what the demo and the end-to-end tests use) the platform's business date is the day after the
last completed run, as in a core-banking close of business.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import eod_runs
from puhui.batch.eod import DaySummary, run_day
from puhui.bootstrap import Container
from puhui.clock import Clock
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.services.borrowers import Conflict

MAX_CATCH_UP_DAYS = 3660
# over HTTP a request closes at most a month of missed days: ten years would run for minutes, past
# any client's or proxy's timeout (found by the stateful Schemathesis run); the CLI catches up more
HTTP_CATCH_UP_DAYS = 31


@dataclass(frozen=True, slots=True)
class EodResult:
    business_date: date
    ran: list[DaySummary]
    already_done: bool


def last_completed(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(eod_runs.c.business_date)).where(eod_runs.c.status == "done")).scalar()
    if isinstance(value, str):  # SQLite aggregates hand back text
        return date.fromisoformat(value)
    return value


class EodCalendarClock:
    """Wall-clock time, but the business date is the day after the last completed end of day
    (the system date until the first run)."""

    def __init__(self, db: Database, wall: Clock) -> None:
        self.db = db
        self.wall = wall

    def now(self) -> datetime:
        return self.wall.now()

    def business_date(self) -> date:
        last = self.db.read(last_completed)
        return last + timedelta(days=1) if last else self.wall.business_date()


def run_eod(
    container: Container,
    business_date: date,
    progress: Callable[[date, DaySummary], None] | None = None,
    max_days: int = MAX_CATCH_UP_DAYS,
) -> EodResult:
    """Close `business_date`, first closing any day missed since the last run, in order (at most
    `max_days` of them)."""
    today = container.clock.business_date()
    if business_date > today:
        raise DomainValidationError(
            [FieldProblem("business_date", f"cannot close {business_date} before it starts; today is {today}")]
        )
    last = container.db.read(last_completed)
    if last is not None and business_date <= last:
        return EodResult(business_date, [], already_done=True)
    start = last + timedelta(days=1) if last else business_date
    if (business_date - start).days > max_days:
        message = (
            "more than ten years to catch up"
            if max_days >= MAX_CATCH_UP_DAYS
            else f"more than {max_days} days to catch up in one request (from {start}); close them with `puhui eod`"
        )
        raise DomainValidationError([FieldProblem("business_date", message)])
    ran: list[DaySummary] = []
    day = start
    while day <= business_date:
        summary = _run_one(container, day)
        ran.append(summary)
        if progress:
            progress(day, summary)
        day += timedelta(days=1)
    return EodResult(business_date, ran, already_done=False)


def _run_one(container: Container, day: date) -> DaySummary:
    started = datetime.now(UTC)

    def work(conn: Connection) -> DaySummary:
        conn.execute(
            eod_runs.insert().values(
                business_date=day, status="running", loans=0, summary_json="{}", started_at=started
            )
        )
        summary = run_day(conn, day)
        conn.execute(
            eod_runs.update()
            .where(eod_runs.c.business_date == day)
            .values(
                status="done",
                loans=summary.loans_accrued,
                summary_json=json.dumps(summary.as_dict()),
                finished_at=datetime.now(UTC),
            )
        )
        return summary

    try:
        return container.db.transaction(work)
    except IntegrityError as exc:
        if "eod_runs" not in str(exc):
            raise
        raise Conflict(f"the end of day for {day} is already running or done", "business_date") from None


def recent_runs(container: Container, limit: int = 30) -> list[dict[str, object]]:
    def work(conn: Connection) -> list[dict[str, object]]:
        rows = conn.execute(select(eod_runs).order_by(eod_runs.c.business_date.desc()).limit(limit)).all()
        return [
            {
                "business_date": r.business_date.isoformat() if isinstance(r.business_date, date) else r.business_date,
                "status": r.status,
                "summary": json.loads(r.summary_json),
                "started_at": r.started_at,
                "finished_at": r.finished_at,
            }
            for r in rows
        ]

    return container.db.read(work)
