"""The soak: a realistic mix under steady load for ten minutes, on PostgreSQL, with zero errors, no
memory creep and the ledger balanced afterwards (the reliability issue, item 8; RELIABILITY.md).

`puhui serve --workers 2` on 127.0.0.1 over a book of borrowers with a loan each (as
`bench_http.py` books it), and locust (`bench/locust_api.py` MixUser: quotes, pre-approvals,
applications, repayments, loan reads and portal pages, each user paced) on the same two cores.
Every SAMPLE_S seconds the resident memory of the server's processes is read from /proc; the
growth is the last fifth of the run against the fifth after the warm-up (the first fifth), medians
of each, so one garbage-collection peak does not decide it. Afterwards: every request answered
as expected (a failure fails the soak), the trial balance balances and the reconciliation query
(ledger against loan balances) returns no rows.

    .venv/bin/python bench/soak.py [--seconds 600] [--users 16] [--rate 4] [--borrowers 100]
                                   [--backend postgres|sqlite] [--json out.json]

`make soak` runs the ten minutes; `make test` runs a 20-second version (tests/e2e/test_soak_smoke.py).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench_http import _book, _locust, _server
from bench_ledger import postgres_admin_url, postgres_database, sqlite_database
from benchlib import Figure, console, parser, report
from puhui.adapters.db.database import Database
from puhui.services.accounting import get_trial_balance, unreconciled_accounts

SAMPLE_S = 5.0
MAX_GROWTH_PCT = 10.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _server_pids(db_url: str) -> list[str]:
    """The `puhui serve` process for this database and its uvicorn workers."""

    def cmdline(pid: str) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def parent(pid: str) -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            return ""

    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    mains = {p for p in pids if "puhui.cli serve" in cmdline(p) and db_url in cmdline(p)}
    return sorted(mains | {p for p in pids if parent(p) in mains})


def _rss_mb(pids: Sequence[str]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            total_kb += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
    return total_kb / 1024


def growth_pct(samples: Sequence[float]) -> float:
    """Memory growth: the median of the last fifth of the samples against the median of the second
    fifth (after the warm-up), in percent."""
    fifth = max(1, len(samples) // 5)
    settled = statistics.median(samples[fifth : 2 * fifth] or samples[:1])
    last = statistics.median(samples[-fifth:])
    return 100.0 * (last - settled) / settled if settled else 0.0


def soak(db: Database, label: str, seconds: int, users: int, rate: float, borrowers: int) -> tuple[Figure, list[str]]:
    out = console()
    with tempfile.TemporaryDirectory(prefix="puhui-soak-") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        book = _book(db, borrowers)
        out.print(f"{label}: {borrowers} borrowers and loans booked in {time.perf_counter() - t0:.1f} s")
        data_file = workdir / "data.json"
        data_file.write_text(json.dumps(book))
        samples: list[float] = []
        with _server(db, workdir, workers=2, business_date_source="system") as base:
            pids = _server_pids(db.url)
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(SAMPLE_S):
                    samples.append(_rss_mb(pids))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                result = _locust(base, "MixUser", users, seconds, data_file, workdir, rate)
            finally:
                stop.set()
                sampler.join()
    balanced = get_trial_balance(db).balanced
    breaks = unreconciled_accounts(db)
    if not balanced or breaks:
        raise SystemExit(f"{label}: after the soak the trial balance balanced={balanced}, breaks={breaks}")
    grown = growth_pct(samples) if samples else 0.0
    if grown >= MAX_GROWTH_PCT:
        raise SystemExit(f"{label}: server memory grew {grown:.1f} % (limit {MAX_GROWTH_PCT:.0f} %): {samples}")
    notes = [
        f"{label}: {seconds} s, {users} users x {rate}/s offered, {result['requests']:,.0f} requests, 0 errors,"
        f" p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms",
        f"{label}: server memory {samples[0] if samples else 0:.0f} -> {samples[-1] if samples else 0:.0f} MB"
        f" over {len(samples)} samples, growth {grown:+.1f} % (limit {MAX_GROWTH_PCT:.0f} %);"
        " trial balance balanced, reconciliation: no rows",
    ]
    figure = Figure(
        f"soak {label}",
        "req/s",
        [result["rps"]],
        note=f"p50 {result['p50_ms']:.0f} ms · p99 {result['p99_ms']:.0f} ms · memory growth {grown:+.1f} %",
        extra={
            "p50_ms": [result["p50_ms"]],
            "p99_ms": [result["p99_ms"]],
            "requests": [result["requests"]],
            "memory_mb": samples,
            "memory_growth_pct": grown,
        },
    )
    return figure, notes


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--seconds", type=int, default=None, help="default 600 (--quick: 15)")
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--rate", type=float, default=4.0, help="requests a second per user")
    p.add_argument("--borrowers", type=int, default=None, help="default 100 (--quick: 10)")
    args = p.parse_args(argv)
    seconds = args.seconds or (15 if args.quick else 600)
    borrowers = args.borrowers or (10 if args.quick else 100)
    if args.backend == "sqlite":
        with sqlite_database() as db:
            figure, notes = soak(db, "sqlite", seconds, args.users, args.rate, borrowers)
    else:
        url, why = postgres_admin_url()
        if url is None:
            raise SystemExit(f"the soak runs on PostgreSQL: {why}")
        with postgres_database(url) as db:
            figure, notes = soak(db, "postgres", seconds, args.users, args.rate, borrowers)
    report([figure], "Soak: a realistic mix under steady load", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
