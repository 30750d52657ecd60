"""The bench table's verdicts: a throughput below its floor and a latency above its ceiling both
FAIL, and run_all keeps both bounds when it gathers the scripts' figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from rich.console import Console  # noqa: E402

from benchlib import Figure, table  # noqa: E402


def _rendered(figure: Figure) -> str:
    out = Console(width=200, record=True)
    out.print(table([figure], "t"))
    return out.export_text()


@pytest.mark.parametrize(
    ("runs", "passed"),
    [([12.0, 11.0, 30.0], True), ([21.0, 25.0, 9.0], False)],  # the median decides, not one run
)
def test_a_latency_passes_only_when_its_median_is_under_the_ceiling(runs: list[float], passed: bool) -> None:
    figure = Figure("p50", "ms", runs, ceiling=20.0)
    assert figure.passed is passed
    text = _rendered(figure)
    assert "<= 20.00" in text
    assert ("pass" if passed else "FAIL") in text


def test_a_throughput_keeps_its_floor_and_a_figure_without_bounds_has_no_verdict() -> None:
    assert Figure("rps", "decisions/s", [150.0, 210.0, 180.0], target=190.0).passed is False
    assert Figure("rps", "decisions/s", [195.0, 210.0, 200.0], target=190.0).passed is True
    assert Figure("rps", "decisions/s", [1.0]).passed is None


def test_run_all_carries_the_ceiling_of_a_scripts_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import run_all

    payload = {"notes": [], "figures": [Figure("p99", "ms", [140.0], ceiling=100.0).as_dict()]}

    def fake_run(argv: list[str], check: bool) -> object:
        Path(argv[argv.index("--json") + 1]).write_text(json.dumps(payload))
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(run_all.subprocess, "run", fake_run)
    figures, _, _ = run_all.run_bench("bench_decision.py", [])
    assert figures[0].ceiling == 100.0
    assert figures[0].passed is False
