"""Run every benchmark and print one table of figures with the machine they ran on.

Each bench runs in its own process (so one bench's caches and connections never help
another) and hands its figures back as JSON. `make bench` runs this.

    .venv/bin/python bench/run_all.py [--quick] [--runs N] [--json all.json] [--strict]

--quick   tiny sizes: a smoke test, not a measurement
--strict  exit 1 when a figure misses its target (the default only reports it)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from benchlib import Figure, console, machine, machine_line, parser, table

HERE = Path(__file__).resolve().parent
BENCHES = (
    "bench_schedule.py",
    "bench_ledger.py",
    "bench_eod.py",
    "bench_http.py",
    "bench_models.py",
    "bench_sim_lift.py",
    "bench_decision.py",
)


def run_bench(script: str, extra: Sequence[str]) -> tuple[list[Figure], list[str], float]:
    """Run one bench script; its figures, its notes and how long it took."""
    with tempfile.TemporaryDirectory(prefix="puhui-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / script), *extra, "--json", str(out)], check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"{script} failed with exit code {done.returncode}")
        payload = json.loads(out.read_text())
    fields = ("name", "unit", "runs", "target", "note", "extra", "ceiling")
    figures = [Figure(**{k: f[k] for k in fields}) for f in payload["figures"]]
    return figures, payload["notes"], elapsed


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    p.add_argument("--only", default="", help="comma-separated bench scripts to run (default: all)")
    args = p.parse_args(argv)
    chosen = [b for b in BENCHES if not args.only or b in args.only.split(",")]
    extra = [*(["--quick"] if args.quick else []), *(["--runs", str(args.runs)] if args.runs else [])]
    figures: list[Figure] = []
    notes: list[str] = []
    for script in chosen:
        found, script_notes, elapsed = run_bench(script, extra)
        figures += found
        notes += [f"{script}: {n}" for n in script_notes] + [f"{script}: took {elapsed:.0f} s"]

    out = console()
    out.rule("All figures")
    out.print(table(figures, f"Puhui benchmarks ({'QUICK, not a measurement' if args.quick else 'median of runs'})"))
    out.print(f"machine: {machine_line()}")
    out.print("the machines are shared and noisy: compare medians, and mind the spread")
    for note in notes:
        out.print(f"note: {note}", highlight=False)
    missed = [f.name for f in figures if f.passed is False]
    if missed:
        out.print(f"[red]missed target:[/red] {', '.join(missed)}")
    if args.json is not None:
        payload = {
            "date": date.today().isoformat(),
            "machine": machine(),
            "notes": notes,
            "figures": [f.as_dict() for f in figures],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
