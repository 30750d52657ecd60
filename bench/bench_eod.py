"""End of day over a large book: loans closed per second on SQLite and PostgreSQL.

A book of N active loans (default 1,000,000) is generated set-based by SQL: 12 monthly
installments each (30-day periods, equal principal at 12 %/year, ACT/360), started on every day
of the last 330 days, so about 1/30 of the book falls due on any day; one loan in 33 is overdue
(penalty interest, DPD, class). Each loan has its four receivable accounts with opening balances
equal to its servicing state, and provisions at their required level. The loans/contracts rows
these would hang from are not generated: the end-of-day run does not read them (FK checks are off
while the book is loaded; on PostgreSQL the two foreign keys to `loans` are dropped in the bench
database, every other constraint and trigger is on for the run).

Then the end of day runs for R consecutive business dates (`puhui.services.eod.run_eod`: interest
accrual, penalty, billing, DPD/class/stage, provisions, each persisted with its GL transfer). The
figure is loans per second per day (target: 1,000,000 loans in <= 30 s, i.e. >= 33,333 loans/s);
the seconds per day are noted. Afterwards every loan's receivable accounts must equal its
servicing state, the book's accrued interest its control account, and each day's transfers
balance (the database refuses anything else).

    .venv/bin/python bench/bench_eod.py [--quick] [--runs N] [--loans N] [--backend sqlite|postgres] [--json F]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from bench_ledger import postgres_admin_url, postgres_database, sqlite_database
from benchlib import Figure, console, parser, report
from puhui.adapters.db.database import Database
from puhui.batch.eod import _provisions
from puhui.bootstrap import Container
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.accrual import DEFAULT_PROVISIONS
from puhui.services.accounting import open_chart_of_accounts
from puhui.services.eod import run_eod

D0 = date(2026, 11, 22)
FULL_LOANS = 1_000_000
QUICK_LOANS = 2_000
TARGET = FULL_LOANS / 30.0


def _series(pg: bool, n: int, name: str = "g") -> str:
    if pg:
        return f"SELECT {name} FROM generate_series(1, {n}) AS {name}"
    step = f"SELECT {name} + 1 FROM s WHERE {name} < {n}"
    return f"WITH RECURSIVE s({name}) AS (SELECT 1 UNION ALL {step}) SELECT {name} FROM s"


def _minus_days(pg: bool, day: str, expr: str) -> str:
    return f"(CAST({day} AS DATE) - ({expr}))" if pg else f"date({day}, '-' || ({expr}) || ' days')"


def _plus_days(pg: bool, day: str, expr: str) -> str:
    return f"(CAST({day} AS DATE) + ({expr}))" if pg else f"date({day}, '+' || ({expr}) || ' days')"


def load_book(conn: Connection, n: int) -> None:
    """N loans, their remaining installments and four accounts each, set-based."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.execute(text("SET session_replication_role = replica"))  # bulk load: no FK/trigger checks
        # the loans these rows belong to are not generated: PostgreSQL re-checks a foreign key when a
        # row is updated twice in one transaction, so the two references to loans go in this bench
        for table in ("loan_servicing", "installments"):
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS fk_{table}_loan_id_loans"))
    base = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger_accounts")).scalar_one())
    d0 = f"'{D0.isoformat()}'"
    # a = days since the loan started (0..329); the current period began a % 30 + 1 days before D0
    conn.execute(
        text(
            f"""
        CREATE TABLE bench_book AS
        SELECT g, g % 330 AS a, (g % 330) / 30 + 1 AS next_seq, (g % 330) % 30 + 1 AS elapsed,
               (10 + (CAST(g AS BIGINT) * 7919) % 490) * 120000 AS principal_minor,
               CASE WHEN g % 33 = 0 AND (g % 330) / 30 >= 1 THEN 1 ELSE 0 END AS overdue
        FROM ({_series(pg, n)}) AS q"""
        )
    )
    # installments still to bill: seq >= next_seq; principal P/12 each, interest 1 % of what remains
    conn.execute(
        text(
            f"""
        INSERT INTO installments (loan_id, version, seq, due_date, period_days, principal_minor, interest_minor,
                                  fee_minor, paid_principal_minor, paid_interest_minor, paid_fee_minor, status)
        SELECT 'L' || b.g, 1, k.seq,
               {_plus_days(pg, _minus_days(pg, d0, "b.elapsed"), "30 * (k.seq - b.next_seq + 1)")},
               30, b.principal_minor / 12, (b.principal_minor / 12) * (13 - k.seq) / 100, 0, 0, 0, 0, 'scheduled'
        FROM bench_book AS b JOIN ({_series(pg, 12, "seq")}) AS k ON k.seq >= b.next_seq"""
        )
    )
    conn.execute(
        text(
            f"""
        INSERT INTO loan_servicing (
          loan_id, borrower_id, status, schedule_version, rate_ppm, penalty_rate_ppm, basis_days,
          next_seq, next_due_date, period_start, period_days, period_interest_minor, period_fee_minor,
          period_principal_minor, accrued_in_period_minor, not_due_principal_minor, due_principal_minor,
          due_interest_minor, due_fee_minor, penalty_minor, penalty_basis_days, penalty_posted_minor,
          overdue_since, dpd, max_dpd, risk_class, stage, provision_minor, written_off_minor, recovered_minor,
          principal_account_id, interest_account_id, fee_account_id, penalty_account_id,
          opened_on, closed_on, last_eod_date)
        SELECT 'L' || b.g, 'B' || (b.g % 400000), 'active', 1, 120000, 180000, 360,
          b.next_seq, {_plus_days(pg, _minus_days(pg, d0, "b.elapsed"), "30")}, {_minus_days(pg, d0, "b.elapsed")},
          30, (b.principal_minor / 12) * (13 - b.next_seq) / 100, 0, b.principal_minor / 12,
          ((b.principal_minor / 12) * (13 - b.next_seq) / 100) * (b.elapsed - 1) / 30,
          (b.principal_minor / 12) * (13 - b.next_seq),
          b.overdue * (b.principal_minor / 12), b.overdue * ((b.principal_minor / 12) * (14 - b.next_seq) / 100),
          0, 0, 0, 0,
          CASE WHEN b.overdue = 1 THEN {_minus_days(pg, d0, "b.elapsed")} END,
          b.overdue * (b.elapsed - 1), b.overdue * (b.elapsed - 1), 1 + b.overdue, 1, 0, 0, 0,
          {base} + 4 * (b.g - 1), {base} + 4 * (b.g - 1) + 1, {base} + 4 * (b.g - 1) + 2, {base} + 4 * (b.g - 1) + 3,
          {_minus_days(pg, d0, "b.a")}, NULL, {_minus_days(pg, d0, "1")}
        FROM bench_book AS b"""
        )
    )
    now = "now()" if pg else "CURRENT_TIMESTAMP"
    conn.execute(
        text(
            f"""
        INSERT INTO ledger_accounts (id, code, owner, type, debits_posted_minor, credits_posted_minor, version,
                                     created_at)
        SELECT {base} + 4 * (b.g - 1) + k.off, k.code, 'loan:L' || b.g, 'asset',
               CASE k.off WHEN 0 THEN s.due_principal_minor + s.not_due_principal_minor
                          WHEN 1 THEN s.due_interest_minor ELSE 0 END,
               0, 0, {now}
        FROM bench_book AS b
        JOIN loan_servicing AS s ON s.loan_id = 'L' || b.g
        CROSS JOIN (SELECT 0 AS off, '1201' AS code UNION ALL SELECT 1, '1202'
                    UNION ALL SELECT 2, '1204' UNION ALL SELECT 3, '1203') AS k"""
        )
    )
    conn.execute(
        text(
            "UPDATE ledger_accounts SET debits_posted_minor = "
            "(SELECT COALESCE(SUM(accrued_in_period_minor), 0) FROM loan_servicing) WHERE code = '1205'"
        )
    )
    conn.execute(text("DROP TABLE bench_book"))
    if pg:
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('ledger_accounts', 'id'), MAX(id)) FROM ledger_accounts")
        )
        conn.execute(text("SET session_replication_role = DEFAULT"))
    conn.execute(
        text(
            "INSERT INTO eod_runs (business_date, status, loans, summary_json, started_at)"
            " VALUES (:d, 'done', 0, '{}', :t)"
        ),
        {"d": D0 - timedelta(days=1), "t": datetime.now(UTC)},
    )


def verify(conn: Connection) -> int:
    """Loans whose receivable accounts differ from their servicing state, plus one if the book's
    accrued interest differs from its control account (must be 0)."""
    control = conn.execute(
        text(
            "SELECT (SELECT debits_posted_minor - credits_posted_minor FROM ledger_accounts WHERE code = '1205')"
            " - (SELECT SUM(accrued_in_period_minor) FROM loan_servicing)"
        )
    ).scalar_one()
    return int(control != 0) + int(
        conn.execute(
            text(
                """
        SELECT COUNT(*) FROM loan_servicing AS s
        JOIN ledger_accounts AS p ON p.id = s.principal_account_id
        JOIN ledger_accounts AS i ON i.id = s.interest_account_id
        JOIN ledger_accounts AS y ON y.id = s.penalty_account_id
        WHERE p.debits_posted_minor - p.credits_posted_minor <> s.due_principal_minor + s.not_due_principal_minor
           OR i.debits_posted_minor - i.credits_posted_minor <> s.due_interest_minor
           OR y.debits_posted_minor - y.credits_posted_minor <> s.penalty_minor"""
            )
        ).scalar_one()
    )


def _attach_profile(db: Database) -> dict[str, float]:
    """Seconds per SQL statement (by its first words) and in COMMIT, while the runs go."""
    from sqlalchemy import event

    spent: dict[str, float] = {}
    started: dict[int, float] = {}

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        key = " ".join(statement.split())[:70]
        spent[key] = spent.get(key, 0.0) + time.perf_counter() - started.pop(id(cursor), time.perf_counter())

    @event.listens_for(db.engine, "commit")
    def _commit(conn: Any) -> None:
        spent["COMMIT (sent)"] = spent.get("COMMIT (sent)", 0.0)

    return spent


def measure(db: Database, label: str, loans: int, runs: int, profile: bool = False) -> tuple[Figure, list[str]]:
    out = console()
    open_chart_of_accounts(db)
    started = time.perf_counter()
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            # only outside a transaction (the driver connection is in autocommit); on again below
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        with conn.begin():
            load_book(conn, loans)
        if db.dialect == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    # provisions at their required level (a later transaction: PostgreSQL re-checks the foreign keys
    # of rows updated in the transaction that inserted them)
    db.transaction(lambda conn: _provisions(conn, D0 - timedelta(days=1), DEFAULT_PROVISIONS))
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    out.print(f"{label}: book of {loans:,} loans loaded in {time.perf_counter() - started:.0f} s")
    clock = FixedClock()
    container = Container(load_settings(database_url=db.url), db, clock)
    seconds: list[float] = []
    notes: list[str] = []
    spent = _attach_profile(db) if profile else {}
    for day in range(runs):
        d = D0 + timedelta(days=day)
        clock.set_date(d)
        t0 = time.perf_counter()
        result = run_eod(container, d)
        elapsed = time.perf_counter() - t0
        seconds.append(elapsed)
        s = result.ran[-1]
        line = (
            f"{label} {d}: {elapsed:.1f} s · accrued {s.loans_accrued:,} loans · penalty {s.loans_in_penalty:,}"
            f" · billed {s.installments_billed:,} · overdue {s.loans_overdue:,}"
        )
        out.print(line)
        notes.append(line)
    for key, value in sorted(spent.items(), key=lambda kv: -kv[1])[:15]:
        out.print(f"  {value:7.2f} s  {key}")
    mismatched = db.read(verify)
    if mismatched:
        raise SystemExit(f"{label}: {mismatched} loans' accounts differ from their servicing state")
    notes.append(f"{label}: every loan's receivable accounts equal its servicing state after the runs")
    figure = Figure(
        f"eod {label} ({loans:,} loans)",
        "loans/s",
        [loans / s for s in seconds],
        TARGET if loans >= FULL_LOANS else None,
        note=f"seconds per day: {', '.join(f'{s:.1f}' for s in seconds)}",
        extra={"seconds": seconds},
    )
    return figure, notes


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], action="append", help="default: both")
    p.add_argument("--loans", type=int, default=None)
    p.add_argument("--profile", action="store_true", help="print the seconds spent per SQL statement")
    args = p.parse_args(argv)
    loans = args.loans or (QUICK_LOANS if args.quick else FULL_LOANS)
    runs = args.runs or (2 if args.quick else 3)
    figures: list[Figure] = []
    notes: list[str] = []
    for backend in args.backend or ["sqlite", "postgres"]:
        if backend == "sqlite":
            with sqlite_database() as db:
                figure, found = measure(db, "sqlite", loans, runs, args.profile)
        else:
            url, why = postgres_admin_url()
            if url is None:
                notes.append(why)
                continue
            with postgres_database(url) as db:
                figure, found = measure(db, "postgres", loans, runs, args.profile)
        figures.append(figure)
        notes += found
    report(figures, "End of day (puhui.services.eod)", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
