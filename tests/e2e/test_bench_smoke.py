"""The benchmarks still run: each script with --quick, on SQLite only, exits 0 and prints figures.

A smoke test, not a measurement: nothing here looks at speed (the machines are shared and
noisy; BENCHMARKS.md holds the measured figures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


# bench_models.py has its own smoke test (tests/e2e/test_model_bench.py); run_all is checked as an
# orchestrator on the two fastest benches, each of which is also run on its own here
SCRIPTS = {
    "bench_schedule.py": [],
    "bench_ledger.py": [],
    "bench_eod.py": [],
    "bench_http.py": [],
    "bench_decision.py": [],
    "bench_sim_lift.py": [],
    "run_all.py": ["--only", "bench_schedule.py,bench_eod.py"],
}


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_bench_script_runs_quick_and_prints_figures(script: str, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = {**os.environ, "PUHUI_BENCH_SKIP_POSTGRES": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *SCRIPTS[script], "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FIGURE " in done.stdout
    figures = json.loads(out.read_text())["figures"]
    assert figures, "no figure reported"
    assert all(f["median"] > 0 and f["runs"] for f in figures)
    assert not any("postgres" in f["name"] for f in figures)
