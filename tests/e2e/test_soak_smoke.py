"""The soak's short version (`make soak` runs ten minutes): `bench/soak.py --quick` on PostgreSQL —
the realistic mix against `puhui serve` for 15 s with zero failed requests, the server's memory
within 10 % of its settled size, and the trial balance and the reconciliation clean afterwards.
Nothing here looks at speed; RELIABILITY.md holds the ten-minute figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _require_postgres

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_short_soak_answers_everything_and_leaves_the_ledger_clean(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    env = {**os.environ, "PUHUI_BENCH_POSTGRES_URL": _require_postgres()}
    done = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 errors" in done.stdout and "reconciliation: no rows" in done.stdout
    (figure,) = json.loads(out.read_text())["figures"]
    assert figure["median"] > 0 and figure["extra"]["requests"][0] > 100
    assert figure["extra"]["memory_growth_pct"] < 10
