"""What alternative data adds: held-out AUC of `puhui model train` on simulated borrowers with the
application and bureau fields alone, and with the cash-flow, repayment, invoice, utility, network and
device features as well (both tables written by `puhui simulate`).

For each simulation seed: `puhui simulate --borrowers N`, one stratified 70/30 split of its borrowers
(the same rows for both tables), `puhui model train` + `puhui model score` on each table (as
subprocesses, as an operator runs them). Figures: the AUC of each and the lift (full minus
application-only), medians over the seeds.

    .venv/bin/python bench/bench_sim_lift.py [--quick] [--runs N] [--borrowers N] [--json F]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchlib import Figure, console, parser, report

FIRST_SEED = 101
TARGET = "default_12m"


def _puhui(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "puhui.cli", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"puhui {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _held_out_auc(table: pd.DataFrame, test_ids: set[str], work: Path, labels: Path) -> tuple[float, str]:
    from sklearn.metrics import roc_auc_score

    is_test = table["borrower_id"].isin(test_ids)
    train_csv, test_csv, model, scores = work / "train.csv", work / "test.csv", work / "model", work / "scores.csv"
    table[~is_test].to_csv(train_csv, index=False)
    table[is_test].to_csv(test_csv, index=False)
    _puhui(
        "model", "train", "--data", str(train_csv), "--target", TARGET, "--out", str(model),
        "--exclude", "borrower_id", "--labels", str(labels), "--seed", "7",
    )  # fmt: skip
    _puhui("model", "score", "--model", str(model), "--data", str(test_csv), "--out", str(scores))
    pd_test = pd.read_csv(scores)["pd"].to_numpy()
    kind = json.loads((model / "model.json").read_text())["kind"]
    return float(roc_auc_score(table[is_test][TARGET].to_numpy(), pd_test)), str(kind)


def run_seed(seed: int, borrowers: int) -> dict[str, float | str]:
    from sklearn.model_selection import train_test_split

    with tempfile.TemporaryDirectory(prefix="puhui-bench-lift-") as tmp:
        out = Path(tmp) / "sim"
        _puhui("simulate", "--borrowers", str(borrowers), "--out", str(out), "--seed", str(seed))
        full = pd.read_csv(out / "training.csv", dtype={"borrower_id": str})
        application = pd.read_csv(out / "training_application_only.csv", dtype={"borrower_id": str})
        _, test = train_test_split(full["borrower_id"], test_size=0.3, stratify=full[TARGET], random_state=seed)
        test_ids = set(test)
        labels = out / "feature_labels.json"
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "f").mkdir()
        auc_app, kind_app = _held_out_auc(application, test_ids, Path(tmp) / "a", labels)
        auc_full, kind_full = _held_out_auc(full, test_ids, Path(tmp) / "f", labels)
        return {
            "seed": seed,
            "application": auc_app,
            "full": auc_full,
            "lift": auc_full - auc_app,
            "bad_rate": float(np.mean(full[TARGET])),
            "kinds": f"{kind_app} / {kind_full}",
        }


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--borrowers", type=int, default=None)
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    borrowers = args.borrowers or (400 if args.quick else 3000)
    out = console()
    started = time.perf_counter()
    results = []
    for seed in range(FIRST_SEED, FIRST_SEED + runs):
        r = run_seed(seed, borrowers)
        results.append(r)
        out.print(
            f"seed {seed}: application only {r['application']:.4f} · full {r['full']:.4f} · lift {r['lift']:+.4f}"
            f" · bad rate {r['bad_rate']:.1%} · chose {r['kinds']}"
        )
    figures = [
        Figure(f"simulated, {name} AUC", "AUC", [float(r[key]) for r in results])
        for name, key in (("application fields only", "application"), ("with alternative data", "full"))
    ]
    figures.append(Figure("simulated, AUC lift from alternative data", "AUC", [float(r["lift"]) for r in results]))
    notes = [
        f"{borrowers:,} simulated borrowers per seed, seeds {FIRST_SEED}-{FIRST_SEED + runs - 1}, 70/30 split;"
        f" {time.perf_counter() - started:.0f} s",
        *(
            f"seed {r['seed']}: {r['application']:.4f} -> {r['full']:.4f} (lift {r['lift']:+.4f}), chose {r['kinds']}"
            for r in results
        ),
        f"median lift {statistics.median(float(r['lift']) for r in results):+.4f}",
    ]
    report(figures, "Simulated borrowers: what alternative data adds", args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
