"""Ledger transfers per second through `puhui.services.accounting` on SQLite and PostgreSQL.

Figures, per backend (median of several runs; single and batched runs alternate):
- single: one transfer per transaction (`post_transfer`);
- batched: 1,000 transfers per transaction (`post_transfers`);
- batched/single: the ratio of the two, run by run.
Targets on PostgreSQL: >= 400/s single, >= 5,000/s batched.

The transfers are what a lender posts: disbursements (debit principal receivable of loan:N,
credit bank cash) and repayments of 3 or 4 entries (debit bank cash; credit interest, principal
and sometimes fee receivable of loan:N), over a few thousand loans; one in ten is the
disbursement of a new loan, so new accounts keep being opened. Bank cash is in every transfer:
one hot row, as in real life. After the runs the trial balance must balance, every account
must agree with its entries and a replayed batch must come back as EXISTS.

SQLite is a file database in a temporary directory. PostgreSQL gets a fresh database
`puhui_bench_<random>` on the server at PUHUI_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; PUHUI_BENCH_SKIP_POSTGRES=1
skips it, and so does an unreachable default server (an unreachable explicit URL is an error).

    .venv/bin/python bench/bench_ledger.py [--quick] [--runs N] [--backend sqlite|postgres]
                                           [--profile] [--json out.json]

`--profile` counts the SQL statements per transaction and the time spent in each (SQLAlchemy
cursor events; this adds a little overhead, so its throughput is not the figure to quote).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rich.table import Table
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from benchlib import Figure, console, parser, report
from puhui.adapters.db import ledger_repository
from puhui.adapters.db.database import Database
from puhui.adapters.db.engine import make_engine, normalise_url
from puhui.domain.ledger import AccountCode, AccountKey, Transfer, TransferCode, credit, debit, make_transfer
from puhui.services.accounting import (
    PostStatus,
    get_trial_balance,
    open_chart_of_accounts,
    post_transfer,
    post_transfers,
    unreconciled_accounts,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {("postgresql", "single"): 400.0, ("postgresql", "batched"): 5_000.0}
BUSINESS_DATE = date(2026, 11, 22)
CASH = AccountKey(AccountCode.BANK_CASH)


@dataclass(frozen=True)
class Sizes:
    loans: int  # loans disbursed before the timed runs
    single: int  # transfers per single run
    batch: int  # transfers per transaction in a batched run
    batches: int  # transactions per batched run
    runs: int


FULL = Sizes(loans=3_000, single=500, batch=1_000, batches=5, runs=5)
QUICK = Sizes(loans=50, single=20, batch=50, batches=2, runs=2)


class Workload:
    """A seeded stream of realistic transfers: new disbursements and repayments of loans."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.loans = 0
        self.count = 0

    def _next_id(self, kind: str) -> str:
        self.count += 1
        return f"bench-{kind}-{self.count:09d}"

    def disbursement(self) -> Transfer:
        self.loans += 1
        amount = self.rng.randrange(1_000_00, 500_000_01)
        loan = AccountKey(AccountCode.PRINCIPAL_RECEIVABLE, f"loan:{self.loans}")
        return make_transfer(
            self._next_id("disb"), TransferCode.DISBURSEMENT, [debit(loan, amount), credit(CASH, amount)], BUSINESS_DATE
        )

    def repayment(self) -> Transfer:
        owner = f"loan:{self.rng.randrange(1, self.loans + 1)}"
        parts = {
            AccountCode.INTEREST_RECEIVABLE: self.rng.randrange(10_00, 300_00),
            AccountCode.PRINCIPAL_RECEIVABLE: self.rng.randrange(50_00, 2_000_00),
        }
        if self.rng.random() < 0.25:  # a quarter of repayments also settle a fee: 4 entries
            parts[AccountCode.FEE_RECEIVABLE] = self.rng.randrange(1_00, 50_00)
        entries = [debit(CASH, sum(parts.values()))]
        entries += [credit(AccountKey(code, owner), amount) for code, amount in parts.items()]
        return make_transfer(self._next_id("rep"), TransferCode.REPAYMENT, entries, BUSINESS_DATE)

    def take(self, count: int) -> list[Transfer]:
        return [self.disbursement() if self.rng.random() < 0.1 else self.repayment() for _ in range(count)]


# --- databases -----------------------------------------------------------------------------


def postgres_admin_url() -> tuple[str | None, str]:
    """The server URL to use, or None and why it is skipped."""
    if os.environ.get("PUHUI_BENCH_SKIP_POSTGRES", "").lower() in ("1", "true", "yes"):
        return None, "PostgreSQL skipped (PUHUI_BENCH_SKIP_POSTGRES)"
    explicit = os.environ.get("PUHUI_BENCH_POSTGRES_URL")
    url = normalise_url(explicit or DEFAULT_POSTGRES_URL)
    engine = make_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if explicit:
            raise SystemExit(f"PUHUI_BENCH_POSTGRES_URL does not answer: {exc}") from exc
        return None, f"PostgreSQL skipped: nothing answers at {make_url(url).render_as_string()}"
    finally:
        engine.dispose()
    return url, ""


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="puhui-bench-") as tmp:
        db = Database(f"sqlite:///{tmp}/ledger.db")
        try:
            db.migrate()
            yield db
        finally:
            db.dispose()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[Database]:
    """A fresh, migrated database on the server, dropped afterwards."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
    name = f"puhui_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db: Database | None = None
    try:
        db = Database(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
        db.migrate()
        yield db
    finally:
        if db is not None:
            db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- statement profile ---------------------------------------------------------------------


@dataclass
class StatementProfile:
    """Cursor executions and their time, per statement, while `active`."""

    active: bool = False
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    commits: int = 0

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()
        self.commits = 0

    def _before(self, conn: Any, _cursor: Any, _statement: str, _params: Any, _ctx: Any, _many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
        if self.active:
            key = " ".join(statement.split())[:72] + (" [executemany]" if many else "")
            self.calls[key] += 1
            self.seconds[key] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    def _commit(self, _conn: Any) -> None:
        if self.active:
            self.commits += 1

    def table(self, title: str, transfers: int) -> Table:
        t = Table(title=f"{title}: SQL per transaction ({self.commits} transactions, {transfers} transfers)")
        t.add_column("statement")
        t.add_column("calls per txn", justify="right")
        t.add_column("ms per call", justify="right")
        t.add_column("ms per txn", justify="right")
        t.add_column("ms per transfer", justify="right")
        txns = max(self.commits, 1)
        for key in sorted(self.seconds, key=lambda k: -self.seconds[k]):
            ms = 1000 * self.seconds[key]
            per_call = ms / self.calls[key]
            t.add_row(
                key,
                f"{self.calls[key] / txns:.2f}",
                f"{per_call:.3f}",
                f"{ms / txns:.3f}",
                f"{ms / max(transfers, 1):.3f}",
            )
        return t


# --- measurement ---------------------------------------------------------------------------


def _rate(post: Callable[[], int]) -> float:
    started = time.perf_counter()
    posted = post()
    return posted / (time.perf_counter() - started)


def post_single(db: Database, transfers: Sequence[Transfer]) -> int:
    for t in transfers:
        if post_transfer(db, t).status is not PostStatus.CREATED:
            raise AssertionError(f"{t.id} was not created")
    return len(transfers)


def post_batched(db: Database, transfers: Sequence[Transfer], batch: int) -> int:
    for start in range(0, len(transfers), batch):
        results = post_transfers(db, transfers[start : start + batch])
        if any(r.status is not PostStatus.CREATED for r in results):
            raise AssertionError("a fresh transfer was not created")
    return len(transfers)


def verify(db: Database, expected_transfers: int, replay: Sequence[Transfer]) -> None:
    """Balanced, reconciled, complete, idempotent: otherwise the speed means nothing."""
    _require(get_trial_balance(db).balanced, "the trial balance is not balanced")
    _require(unreconciled_accounts(db) == {}, "account totals disagree with their entries")
    stored = db.read(ledger_repository.count_transfers)
    _require(stored == expected_transfers, f"{stored} transfers stored, {expected_transfers} posted")
    replayed = post_transfers(db, replay)
    _require(all(r.status is PostStatus.EXISTS for r in replayed), "a replayed transfer was not EXISTS")


def _require(condition: bool, failure: str) -> None:
    # not `assert`: the checks must also hold under python -O
    if not condition:
        raise AssertionError(failure)


def measure(db: Database, label: str, sizes: Sizes, *, profile: bool, quick: bool) -> list[Figure]:
    targets = {} if quick else TARGETS  # --quick numbers are not measurements
    workload = Workload(seed=7)
    open_chart_of_accounts(db)
    for _ in range(0, sizes.loans, sizes.batch):
        post_transfers(db, [workload.disbursement() for _ in range(min(sizes.batch, sizes.loans - workload.loans))])
    posted = workload.loans
    stats = {"single": StatementProfile(), "batched": StatementProfile()}
    if profile:
        for s in stats.values():
            s.attach(db.engine)
    single: list[float] = []
    batched: list[float] = []
    last_batch: list[Transfer] = []
    counts = {"single": 0, "batched": 0}
    for _ in range(sizes.runs):
        transfers = workload.take(sizes.single)
        stats["single"].active = True
        single.append(_rate(lambda transfers=transfers: post_single(db, transfers)))
        stats["single"].active = False
        transfers = workload.take(sizes.batch * sizes.batches)
        stats["batched"].active = True
        batched.append(_rate(lambda transfers=transfers: post_batched(db, transfers, sizes.batch)))
        stats["batched"].active = False
        posted += sizes.single + len(transfers)
        counts["single"] += sizes.single
        counts["batched"] += len(transfers)
        last_batch = transfers[: sizes.batch]
    verify(db, posted, last_batch)
    if profile:
        for mode, s in stats.items():
            console().print(s.table(f"{label} {mode}", counts[mode]))
    dialect = db.dialect
    entries = sum(len(t.entries) for t in last_batch) / max(len(last_batch), 1)
    extra = {"loans": workload.loans, "transfers": posted, "entries_per_transfer": round(entries, 2)}
    return [
        Figure(
            f"ledger {label} single (1/txn)",
            "transfers/s",
            single,
            target=targets.get((dialect, "single")),
            note=f"{sizes.single} transfers per run",
            extra=extra,
        ),
        Figure(
            f"ledger {label} batched ({sizes.batch:,}/txn)",
            "transfers/s",
            batched,
            target=targets.get((dialect, "batched")),
            note=f"{sizes.batches} x {sizes.batch:,} transfers per run",
            extra=extra,
        ),
        Figure(
            f"ledger {label} batched/single",
            "x",
            [b / s for b, s in zip(batched, single, strict=True)],
            note="ratio run by run",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], action="append", help="default: both")
    p.add_argument("--profile", action="store_true", help="count SQL statements and their time per transaction")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = Sizes(sizes.loans, sizes.single, sizes.batch, sizes.batches, args.runs)
    backends = args.backend or ["sqlite", "postgres"]
    figures: list[Figure] = []
    notes = [
        f"{sizes.loans:,} loans before the runs; 1 in 10 transfers opens a new loan; repayments have 3-4 entries",
        "after the runs: trial balance balanced, accounts reconciled with entries, replayed batch EXISTS",
    ]
    if "sqlite" in backends:
        with sqlite_database() as db:
            figures += measure(db, "sqlite", sizes, profile=args.profile, quick=args.quick)
        notes.append("SQLite: file in a temp dir, WAL, synchronous=FULL")
    if "postgres" in backends:
        url, why = postgres_admin_url()
        if url is None:
            notes.append(why)
        else:
            with postgres_database(url) as db:
                version = db.read(lambda conn: conn.execute(text("SHOW server_version")).scalar_one())
                figures += measure(db, "postgres", sizes, profile=args.profile, quick=args.quick)
            notes.append(f"PostgreSQL {version} on {make_url(url).host}, fresh database, dropped afterwards")
    if args.quick:
        notes.append("--quick: tiny sizes, a smoke test; these numbers are not a measurement")
    report(figures, "Ledger posting (puhui.services.accounting)", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
