"""Shared bits of the benchmarks: figures with median and spread, the machine, output.

Each bench script measures a few figures, repeats every measurement several times and reports
the MEDIAN (the machines are shared and noisy; a mean would follow the outliers) with the
spread (min-max). `--json PATH` writes the figures for `run_all.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    """One measured figure per run: a throughput (higher is better, `target` its floor) or a
    latency (lower is better, `ceiling` its most)."""

    name: str
    unit: str
    runs: list[float]
    target: float | None = None  # the minimum acceptable median, if there is one
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    ceiling: float | None = None  # the maximum acceptable median, if there is one

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def low(self) -> float:
        return min(self.runs)

    @property
    def high(self) -> float:
        return max(self.runs)

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent."""
        return 100.0 * (self.high - self.low) / self.median if self.median else 0.0

    @property
    def passed(self) -> bool | None:
        if self.target is None and self.ceiling is None:
            return None
        return (self.target is None or self.median >= self.target) and (
            self.ceiling is None or self.median <= self.ceiling
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "spread_pct": self.spread_pct,
            "passed": self.passed,
        }


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model and Python version of this machine."""
    return {
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line(info: dict[str, Any] | None = None) -> str:
    m = info or machine()
    return f"{m['cores']} cores, {m['ram_gib']} GiB RAM, {m['cpu_model']}, Python {m['python']}"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    p.add_argument("--runs", type=int, default=None, help="repetitions per figure (the median is reported)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return p


def console() -> Console:
    # Without a terminal (a subprocess, a CI log) Rich would wrap the table at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 140)


def fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def _bound(f: Figure) -> str:
    bounds = ([f">= {fmt(f.target)}"] if f.target is not None else []) + (
        [f"<= {fmt(f.ceiling)}"] if f.ceiling is not None else []
    )
    return ", ".join(bounds)


def table(figures: Sequence[Figure], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("figure")
    t.add_column("median", justify="right")
    t.add_column("unit")
    t.add_column("min-max", justify="right")
    t.add_column("spread", justify="right")
    t.add_column("runs", justify="right")
    t.add_column("target", justify="right")
    t.add_column("result")
    for f in figures:
        verdict = {None: "", True: "[green]pass[/green]", False: "[red]FAIL[/red]"}[f.passed]
        t.add_row(
            f.name,
            fmt(f.median),
            f.unit,
            f"{fmt(f.low)}-{fmt(f.high)}",
            f"{f.spread_pct:.0f} %",
            str(len(f.runs)),
            _bound(f),
            verdict,
        )
    return t


def report(figures: Sequence[Figure], title: str, json_path: Path | None, notes: Sequence[str] = ()) -> None:
    """Print the figures (and notes) and write them as JSON when asked."""
    out = console()
    out.print(table(figures, title))
    out.print(f"machine: {machine_line()}")
    for note in notes:
        out.print(f"note: {note}")
    for f in figures:
        # one plain line per figure: easy to grep from a log
        print(f"FIGURE {f.name} = {f.median:.2f} {f.unit} (min {f.low:.2f}, max {f.high:.2f}, runs {len(f.runs)})")
    if json_path is not None:
        payload = {
            "title": title,
            "machine": machine(),
            "notes": list(notes),
            "figures": [f.as_dict() for f in figures],
        }
        json_path.write_text(json.dumps(payload, indent=2))
