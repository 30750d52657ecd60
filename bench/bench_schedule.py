"""Schedules per second on ONE core: `puhui.domain.schedule.generate`, 12 months.

Figures (single process, single thread; median of several runs):
- equal_installment, 12 months: the headline figure (target >= 20,000/s);
- the same with the due-date cache bypassed (every call computes its dates);
- equal_principal, 12 months;
- equal_installment + APR (`puhui.domain.apr.apr_of_schedule`), with an upfront fee on half.

The inputs vary the principal (1,000.00 to 500,000.00), the rate (6 % to 24 %) and the start
date (every day of three years, shuffled), so no cache can turn the work into a lookup: the
due-date cache is cleared before every run and each run computes every start date once.

    .venv/bin/python bench/bench_schedule.py [--quick] [--runs N] [--json out.json]
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import puhui.domain.schedule as schedule_module
from benchlib import Figure, parser, report
from puhui.domain.apr import apr_of_schedule
from puhui.domain.enums import RepaymentMethod
from puhui.domain.schedule import LoanTerms, generate

TARGET_PER_SECOND = 20_000
FIRST_START = date(2026, 1, 1)
START_SPAN_DAYS = 3 * 365 + 1  # three years of start dates


def make_terms(count: int, method: RepaymentMethod, seed: int, *, with_fees: bool = False) -> list[LoanTerms]:
    rng = random.Random(seed)
    terms = []
    for i in range(count):
        principal = Decimal(rng.randrange(100_000, 50_000_001)) / 100  # 1,000.00 .. 500,000.00
        fee = (principal * Decimal("0.02")).quantize(Decimal("0.01")) if with_fees and i % 2 else Decimal("0.00")
        terms.append(
            LoanTerms(
                principal=principal,
                rate_annual=Decimal(rng.randrange(600, 2401)) / 10_000,  # 6.00 % .. 24.00 %
                term_months=12,
                method=method,
                start_date=FIRST_START + timedelta(days=rng.randrange(START_SPAN_DAYS)),
                upfront_fee=fee,
            )
        )
    return terms


def _clear_caches() -> None:
    cache_clear = getattr(schedule_module.due_dates, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


def measure(
    name: str, work: Callable[[Sequence[LoanTerms]], Any], inputs: Sequence[LoanTerms], runs: int, **kwargs: Any
) -> Figure:
    """Items per second of `work(inputs)` by the wall clock, once per run, each from cold caches.

    The CPU time is kept too: on a shared machine a wall-clock rate far below the per-CPU-second
    rate means the process was waiting for a core, not that the code got slower."""
    work(inputs[: max(1, len(inputs) // 20)])  # warm up the interpreter, not the caches
    rates, cpu_rates = [], []
    for _ in range(runs):
        _clear_caches()
        started, cpu_started = time.perf_counter(), time.process_time()
        work(inputs)
        rates.append(len(inputs) / (time.perf_counter() - started))
        cpu_rates.append(len(inputs) / max(time.process_time() - cpu_started, 1e-9))
    extra = {"per_cpu_second_median": statistics.median(cpu_rates)}
    return Figure(name, "schedules/s", rates, extra=extra, **kwargs)


def generate_all(inputs: Sequence[LoanTerms]) -> None:
    for terms in inputs:
        generate(terms)


def generate_uncached(inputs: Sequence[LoanTerms]) -> None:
    """`generate` with the due-date cache bypassed: the cost of a never-seen start date."""
    cached = schedule_module.due_dates
    schedule_module.due_dates = getattr(cached, "__wrapped__", cached)  # type: ignore[assignment]
    try:
        generate_all(inputs)
    finally:
        schedule_module.due_dates = cached  # type: ignore[assignment]


def generate_with_apr(inputs: Sequence[LoanTerms]) -> None:
    for terms in inputs:
        apr_of_schedule(generate(terms))


def check(inputs: Sequence[LoanTerms]) -> None:
    """The schedules must be right, or the speed means nothing: principal sums to the loan."""
    for terms in inputs[:200]:
        s = generate(terms)
        if len(s.installments) != 12 or s.total_principal != terms.principal or s.installments[-1].balance != 0:
            raise AssertionError(f"wrong schedule for {terms}")
    if not Decimal(0) < apr_of_schedule(generate(inputs[0])) < Decimal(100):
        raise AssertionError(f"implausible APR for {inputs[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    n = 2_000 if args.quick else 30_000
    n_apr = 300 if args.quick else 5_000
    installment = make_terms(n, RepaymentMethod.EQUAL_INSTALLMENT, seed=1)
    principal = make_terms(n, RepaymentMethod.EQUAL_PRINCIPAL, seed=2)
    with_apr = make_terms(n_apr, RepaymentMethod.EQUAL_INSTALLMENT, seed=3, with_fees=True)
    check(installment + principal + with_apr)

    figures = [
        measure(
            "schedule equal_installment 12 m",
            generate_all,
            installment,
            runs,
            target=None if args.quick else TARGET_PER_SECOND,  # --quick numbers are not measurements
            note=f"{n:,} schedules per run, 1 process",
        ),
        measure(
            "schedule equal_installment 12 m, no date cache",
            generate_uncached,
            installment,
            runs,
            note="due_dates computed on every call",
        ),
        measure("schedule equal_principal 12 m", generate_all, principal, runs, note=f"{n:,} schedules per run"),
        measure(
            "schedule + APR equal_installment 12 m",
            generate_with_apr,
            with_apr,
            runs,
            note=f"{n_apr:,} per run, upfront fee on half",
        ),
    ]
    notes = [
        f"start dates: {START_SPAN_DAYS} days from {FIRST_START}, shuffled; due-date cache cleared before each run",
        "one process, one thread; median of the runs",
        "per CPU-second (process time, immune to waiting for a core): "
        + ", ".join(f"{f.name.removeprefix('schedule ')} {f.extra['per_cpu_second_median']:,.0f}" for f in figures),
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    if args.quick:
        notes.append("--quick: tiny sizes, a smoke test; these numbers are not a measurement")
    report(figures, "Repayment schedules (puhui.domain.schedule.generate)", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
