"""Credit-decision latency: in-process and over HTTP, on SQLite and PostgreSQL.

The book: BORROWERS borrowers of the three kinds onboarded as in the app (`seeding.onboard`:
registration, consents, fourteen months of account movements shared), so every decision reads
real alternative data. Then:
- in process, for random borrowers: (a) `decide_with_risk` on gathered inputs (model + policy, no
  I/O), (b) the features of one borrower from its stored rows (`build_features`), and (c) the whole
  use case `decisions.pre_approve` (consent, data, features, model, policy, quote, stored decision)
  — p50 and p99 over CALLS calls each;
- over HTTP: `puhui serve --workers W` (`--workers`, default 2: one per core) on 127.0.0.1 and locust
  (`bench/locust_api.py` DecisionUser, FastHttpUser, 16 users) posting `POST /v1/risk/decisions` for
  random borrowers, in two loads: 200 decisions/s offered (each user paced at 12.5/s), where the latency targets are
  read, and saturation (no think time), the most the machine carries. Every answer must be a 201.

Targets (the risk-control issue): over HTTP p50 <= 20 ms, p99 <= 100 ms, >= 200 decisions/s; in
process p99 <= 5 ms. Locust shares the 2 cores with the server workers and PostgreSQL.

    .venv/bin/python bench/bench_decision.py [--quick] [--runs N] [--seconds S] [--workers W]
        [--backend sqlite|postgres] [--json F]
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench_http import _locust, _server
from bench_ledger import postgres_admin_url, postgres_database, sqlite_database
from benchlib import Figure, console, parser, report
from puhui.adapters.db.database import Database
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import SystemClock
from puhui.config import load_settings
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import id_number_check_char, uscc_check_char
from puhui.services import auth, decisions, seeding
from puhui.services.risk_data import consented_frames

TOKEN_TTL_MINUTES = 24 * 60
KINDS = (
    (BorrowerKind.INDIVIDUAL, "PH-FLAT", "10000.00"),
    (BorrowerKind.INDIVIDUAL_BUSINESS, "PH-EI", "50000.00"),
    (BorrowerKind.ENTERPRISE, "PH-EP", "200000.00"),
)
TARGET_P50_MS, TARGET_P99_MS, TARGET_RPS, TARGET_IN_PROCESS_P99_MS = 20.0, 100.0, 200.0, 5.0
USERS = 16


def _id_number(kind: BorrowerKind, n: int) -> str:
    if kind is BorrowerKind.ENTERPRISE:
        first17 = f"91330106MA{n % 10**7:07d}"
        return first17 + uscc_check_char(first17)
    first17 = f"33010619850612{n % 1000:03d}"
    return first17 + id_number_check_char(first17)


def _book(db: Database, borrowers: int) -> tuple[Container, list[dict[str, Any]]]:
    settings = load_settings(database_url=db.url, env="demo", token_ttl_minutes=TOKEN_TTL_MINUTES)
    container = Container(settings, db, SystemClock())
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    people = []
    for n in range(borrowers):
        kind, product, amount = KINDS[n % len(KINDS)]
        extra: dict[str, Any] = {}
        if kind is not BorrowerKind.INDIVIDUAL:
            extra = {"industry": Sector.RETAIL, "staff_count": 8, "annual_revenue": Decimal("2400000")}
        who = seeding.onboard(container, kind, f"压测{n}", _id_number(kind, n + 1), f"136{n:08d}", **extra)
        token = auth.issue_token(container, who.principal).access_token
        people.append(
            {"id": who.borrower_id, "token": token, "product": product, "amount": amount, "principal": who.principal}
        )
    return container, people


def _quantiles_ms(samples_s: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    return 1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _time(calls: int, one: Callable[[], object]) -> tuple[float, float]:
    for _ in range(min(20, calls)):  # warm up: the model, tables and statement caches
        one()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        one()
        samples.append(time.perf_counter() - t0)
    return _quantiles_ms(samples)


def in_process(container: Container, people: list[dict[str, Any]], calls: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    engine = decisions.risk_engine(container)
    gathered = []
    for p in people[:30]:
        borrower = container.db.read(lambda c, p=p: decisions.borrower_row(c, p["id"]))
        req = container.db.read(
            lambda c, b=borrower, p=p: decisions.request_for(c, container, b, p["product"], Decimal(p["amount"]), 12)
        )
        inputs = container.db.read(lambda c, b=borrower, r=req: decisions.gather(c, container, b, r, ()))
        gathered.append(inputs)
    stored = [container.db.read(lambda c, p=p: consented_frames(c, p["id"])) for p in people[:30]]
    today = container.clock.business_date()

    def decide() -> object:
        return decisions.decide_with_risk(rng.choice(gathered), engine.model, engine.rules)

    def features() -> object:
        i = rng.randrange(len(stored))
        return decisions.features_of(people[i]["id"], stored[i], today)

    def use_case() -> object:
        p = rng.choice(people)
        return decisions.pre_approve(container, p["id"], p["product"], Decimal(p["amount"]), 12, p["principal"])

    return {
        "model + policy (no I/O)": _time(calls, decide),
        "features of one borrower": _time(calls, features),
        "pre_approve use case (with the database)": _time(max(calls // 4, 20), use_case),
    }


def measure(
    db: Database, label: str, borrowers: int, runs: int, seconds: int, calls: int, workers: int = 2
) -> tuple[list[Figure], list[str]]:
    out = console()
    t0 = time.perf_counter()
    container, people = _book(db, borrowers)
    if not db.is_sqlite:  # the steady state autovacuum keeps: statistics and the visibility map
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    out.print(f"{label}: {borrowers} borrowers onboarded with their data in {time.perf_counter() - t0:.1f} s")
    notes: list[str] = []
    in_process_ms = in_process(container, people, calls)
    for name, (p50, p99) in in_process_ms.items():
        line = f"{label} in process, {name}: p50 {p50:.2f} ms · p99 {p99:.2f} ms"
        out.print(line)
        notes.append(line)
    offered: list[dict[str, float]] = []
    saturated: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="puhui-bench-decision-") as tmp:
        workdir = Path(tmp)
        data_file = workdir / "data.json"
        public = [{k: v for k, v in p.items() if k != "principal"} for p in people]
        data_file.write_text(json.dumps({"borrowers": public}))
        with _server(db, workdir, workers=workers, business_date_source="system") as base:
            for run in range(runs):  # the two loads interleaved, so drift hits both alike
                for load, into, rate in (
                    ("200/s offered", offered, TARGET_RPS / USERS),
                    ("saturation", saturated, None),
                ):
                    r = _locust(base, "DecisionUser", USERS, seconds, data_file, workdir, rate)
                    into.append(r)
                    line = (
                        f"{label} HTTP {load}, run {run + 1}: {r['rps']:,.0f} decisions/s · p50 {r['p50_ms']:.0f} ms"
                        f" · p99 {r['p99_ms']:.0f} ms · {r['requests']:,.0f} requests"
                    )
                    out.print(line)
                    notes.append(line)
    figures = [
        _figure(label, "at 200/s offered", offered, workers),
        *_latency_figures(label, offered),
        _figure(label, "saturated", saturated, workers),
    ]
    model_p99 = in_process_ms["model + policy (no I/O)"][1]
    figures.append(
        Figure(f"decision in process {label}, model + policy p99", "ms", [model_p99], ceiling=TARGET_IN_PROCESS_P99_MS)
    )
    return figures, notes


def _figure(label: str, load: str, results: list[dict[str, float]], workers: int) -> Figure:
    p50 = statistics.median(r["p50_ms"] for r in results)
    p99 = statistics.median(r["p99_ms"] for r in results)
    return Figure(
        f"decisions over HTTP {label}, {load}",
        "decisions/s",
        [r["rps"] for r in results],
        TARGET_RPS * 0.95 if "offered" in load else None,  # the offered load is carried (5 % for ramp-up)
        note=f"{USERS} users, {workers} workers · p50 {p50:.0f} ms · p99 {p99:.0f} ms",
        extra={"p50_ms": [r["p50_ms"] for r in results], "p99_ms": [r["p99_ms"] for r in results]},
    )


def _latency_figures(label: str, offered: list[dict[str, float]]) -> list[Figure]:
    """The latency targets, read at the offered load (at saturation the queue sets the latency)."""
    return [
        Figure(
            f"decision latency HTTP {label} at 200/s, p50", "ms", [r["p50_ms"] for r in offered], ceiling=TARGET_P50_MS
        ),
        Figure(
            f"decision latency HTTP {label} at 200/s, p99", "ms", [r["p99_ms"] for r in offered], ceiling=TARGET_P99_MS
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], action="append", help="default: both")
    p.add_argument("--seconds", type=int, default=None)
    p.add_argument("--borrowers", type=int, default=None)
    p.add_argument("--workers", type=int, default=2, help="server worker processes (default 2, one per core)")
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    seconds = args.seconds or (3 if args.quick else 20)
    borrowers = args.borrowers or (6 if args.quick else 90)
    calls = 50 if args.quick else 1000
    figures: list[Figure] = []
    notes: list[str] = [f"{datetime.now(UTC):%Y-%m-%d}: {runs} HTTP runs x {seconds} s; {calls} in-process calls"]
    for backend in args.backend or ["sqlite", "postgres"]:
        if backend == "sqlite":
            with sqlite_database() as db:
                found, more = measure(db, "sqlite", borrowers, runs, seconds, calls, args.workers)
        else:
            url, why = postgres_admin_url()
            if url is None:
                notes.append(why)
                continue
            with postgres_database(url) as db:
                found, more = measure(db, "postgres", borrowers, runs, seconds, calls, args.workers)
        figures += found
        notes += more
    notes += [f"{f.name}: {f.note}" for f in figures if f.note]
    report(figures, "Credit decisions (features, model, fraud checks, policy)", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
