"""bench/bench_models.py still runs: --quick (German credit, one split) exits 0 and reports its figures.

A smoke test, not a measurement: the AUCs of one split say little, so only their sanity is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_models.py"


def test_model_bench_runs_quick_and_prints_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FIGURE German credit: Puhui AUC" in done.stdout
    assert "Lessmann" in done.stdout
    figures = json.loads(out.read_text())["figures"]
    assert {f["name"] for f in figures} >= {
        "German credit: Puhui AUC",
        "German credit: logistic regression AUC",
        "German credit: LightGBM default AUC",
    }
    assert all(0.5 < f["median"] <= 1.0 and len(f["runs"]) == 1 for f in figures)
