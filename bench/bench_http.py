"""Requests per second and latency (p50, p99) of the HTTP API under load, on SQLite and PostgreSQL.

`puhui serve` runs as its own process on 127.0.0.1 (one uvicorn worker, as `make run` starts it);
locust (headless, `bench/locust_api.py`, FastHttpUser, no think time) drives it from another
process on the same machine, one request type at a time:
- quotes: `POST /v1/quotes`, a schedule and an APR (no database write);
- applications: `POST /v1/applications` by signed-in borrowers with consent (decision, offer and
  schedule stored);
- repayments: `POST /v1/loans/{id}/repayments` by operations with a fresh Idempotency-Key, over
  loans whose first installment is due (allocation, ledger transfer, installment updates).
The book: BORROWERS individuals, each with one PH-FLAT loan paid out a month before the business
date and the month's end of day closed, so every loan has an installment due. Every response must
be the expected 2xx (a failed request fails the bench) and afterwards the trial balance balances.

Locust shares the 2 cores with the server, so these are figures for one small machine doing both.

    .venv/bin/python bench/bench_http.py [--quick] [--runs N] [--seconds S] [--users U]
                                         [--backend sqlite|postgres] [--json out.json]
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench_ledger import postgres_admin_url, postgres_database, sqlite_database
from benchlib import Figure, console, parser, report
from puhui.adapters.db.database import Database
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock, SystemClock
from puhui.config import load_settings
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import id_number_check_char
from puhui.services import auth, seeding
from puhui.services.accounting import get_trial_balance
from puhui.services.eod import run_eod

HERE = Path(__file__).resolve().parent
KINDS = {"quotes": "QuoteUser", "applications": "ApplicationUser", "repayments": "RepaymentUser"}
TOKEN_TTL_MINUTES = 24 * 60


def _resident_id(serial: int) -> str:
    born = date(1980, 1, 1) + timedelta(days=serial // 1000)
    first17 = f"330106{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + id_number_check_char(first17)


def _book(db: Database, borrowers: int) -> dict[str, Any]:
    """Borrowers with a loan each, paid out 31 days ago; the month closed; tokens for locust."""
    settings = load_settings(database_url=db.url, env="demo", token_ttl_minutes=TOKEN_TTL_MINUTES)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=31)
    clock = FixedClock(datetime(start.year, start.month, start.day, 2, tzinfo=UTC))
    container = Container(settings, db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    people: list[seeding.Onboarded] = []
    loans: list[str] = []
    for n in range(borrowers):
        mobile = f"137{n:08d}"
        who = seeding.onboard(container, BorrowerKind.INDIVIDUAL, f"压测{n}", _resident_id(n + 1), mobile)
        people.append(who)
        loans.append(seeding.book_active_loan(container, who, "PH-FLAT", Decimal("12000.00"), 12))
    day = start
    while day < today:
        clock.set_date(day)
        run_eod(container, day)
        day += timedelta(days=1)
    live = Container(settings, db, SystemClock())
    ops = auth.token_by_password(live, "ops", "demo").access_token
    tokens = [{"id": p.borrower_id, "token": auth.issue_token(live, p.principal).access_token} for p in people]
    return {"borrowers": tokens, "loans": loans, "ops_token": ops, "business_date": today.isoformat()}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(
    db: Database, workdir: Path, workers: int = 1, business_date_source: str = "eod", access_log: bool = True
) -> Iterator[str]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PUHUI_")},
        "PUHUI_ENV": "demo",
        "PUHUI_BUSINESS_DATE_SOURCE": business_date_source,
        "PUHUI_TOKEN_TTL_MINUTES": str(TOKEN_TTL_MINUTES),
    }
    log = (workdir / "server.log").open("wb")
    argv = [sys.executable, "-m", "puhui.cli", "serve", "--db", db.url, "--port", str(port), "--workers", str(workers)]
    if not access_log:
        argv.append("--no-access-log")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start:\n" + (workdir / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _locust(
    base: str,
    user_class: str,
    users: int,
    seconds: int,
    data_file: Path,
    workdir: Path,
    rate_per_user: float | None = None,
) -> dict[str, float]:
    prefix = workdir / f"{user_class}-{time.monotonic_ns()}"
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locust_api.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        base,
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
        user_class,
    ]
    env = {**os.environ, "PUHUI_BENCH_LOCUST_DATA": str(data_file)}
    if rate_per_user is not None:
        env["PUHUI_BENCH_RATE_PER_USER"] = str(rate_per_user)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust produced no statistics:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    with stats.open() as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    failures = int(row["Failure Count"])
    if failures:
        failed = Path(f"{prefix}_failures.csv").read_text()[-2000:]
        raise SystemExit(f"{user_class}: {failures} of {row['Request Count']} requests failed:\n{failed}")
    return {
        "requests": float(row["Request Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
    }


def measure(db: Database, label: str, borrowers: int, runs: int, seconds: int, users: int) -> list[Figure]:
    out = console()
    with tempfile.TemporaryDirectory(prefix="puhui-bench-http-") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        book = _book(db, borrowers)
        out.print(f"{label}: {borrowers} borrowers and loans booked in {time.perf_counter() - t0:.1f} s")
        data_file = workdir / "data.json"
        data_file.write_text(json.dumps(book))
        results: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
        with _server(db, workdir) as base:
            for run in range(runs):
                for kind, user_class in KINDS.items():  # interleaved, so drift hits every kind alike
                    r = _locust(base, user_class, users, seconds, data_file, workdir)
                    results[kind].append(r)
                    out.print(
                        f"{label} {kind} run {run + 1}: {r['rps']:,.0f} req/s · p50 {r['p50_ms']:.0f} ms"
                        f" · p99 {r['p99_ms']:.0f} ms · {r['requests']:,.0f} requests"
                    )
        if not get_trial_balance(db).balanced:
            raise SystemExit(f"{label}: the trial balance does not balance after the load")
    figures = []
    for kind, rs in results.items():
        p50 = sorted(r["p50_ms"] for r in rs)[len(rs) // 2]
        p99 = sorted(r["p99_ms"] for r in rs)[len(rs) // 2]
        figures.append(
            Figure(
                f"http {kind} {label}",
                "req/s",
                [r["rps"] for r in rs],
                note=f"{users} users · p50 {p50:.0f} ms · p99 {p99:.0f} ms (medians of the runs)",
                extra={"p50_ms": [r["p50_ms"] for r in rs], "p99_ms": [r["p99_ms"] for r in rs]},
            )
        )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], action="append", help="default: both")
    p.add_argument("--seconds", type=int, default=None, help="length of each locust run")
    p.add_argument("--users", type=int, default=8, help="concurrent locust users (closed loop)")
    p.add_argument("--borrowers", type=int, default=None)
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    seconds = args.seconds or (3 if args.quick else 20)
    borrowers = args.borrowers or (10 if args.quick else 200)
    figures: list[Figure] = []
    notes: list[str] = [f"{date.today()}: {runs} runs x {seconds} s per request type, {args.users} users"]
    for backend in args.backend or ["sqlite", "postgres"]:
        if backend == "sqlite":
            with sqlite_database() as db:
                figures += measure(db, "sqlite", borrowers, runs, seconds, args.users)
        else:
            url, why = postgres_admin_url()
            if url is None:
                notes.append(why)
                continue
            with postgres_database(url) as db:
                figures += measure(db, "postgres", borrowers, runs, seconds, args.users)
    notes += [f"{f.name}: {f.note}" for f in figures]
    report(figures, "HTTP API under load (locust against puhui serve)", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
