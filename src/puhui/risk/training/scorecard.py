"""The scorecard candidate: optbinning's monotonic WOE binning + an L2 logistic regression.

Numeric factors get optimal bins whose bad rate is monotonic (`auto_asc_desc`: optbinning picks
ascending or descending), categories are grouped by bad rate; missing values get their own bin with
its empirical WOE (in credit data "unknown" usually means something). The strength of the L2 penalty
is chosen by cross-validation on the out-of-fold log loss — a proper scoring rule, much less noisy
than the AUC of small folds — and the binning is refitted inside every fold, so no fold's validation
rows ever shape its bins.

The exported `scorecard.json` holds, per factor, its bins (split points or category sets, the missing
bin), each bin's WOE, bad rate and points; the WOE values are read back from optbinning's own
transform, so the runtime reproduces optbinning's predictions exactly.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from puhui.risk.model import SCORECARD_FILE, Calibration, FeatureType, ModelKind, ScoreScaling
from puhui.risk.training.candidates import CandidateResult, FoldSplit, log_loss, mean_fold_auc
from puhui.risk.training.data import TrainingData

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # inverse L2 strength of the regression
MONOTONIC_TREND = "auto_asc_desc"
MAX_N_PREBINS = 20
MIN_PREBIN_SIZE = 0.05
METRIC_MISSING = "empirical"  # the missing bin's own WOE (0, the average, when training had none)
UNSEEN = "\x00puhui-unseen-category\x00"  # a probe no real data holds


def binning_process(data: TrainingData) -> Any:
    from optbinning import BinningProcess

    numeric = [f.name for f in data.features if f.type is FeatureType.NUMERIC]
    return BinningProcess(
        data.names,
        max_n_prebins=MAX_N_PREBINS,
        min_prebin_size=MIN_PREBIN_SIZE,
        categorical_variables=data.categorical or None,
        binning_fit_params={name: {"monotonic_trend": MONOTONIC_TREND} for name in numeric},
        n_jobs=1,
    )


def _regression(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000)


@dataclass
class ScorecardCandidate:
    """Cross-validates the penalty grid fold by fold, then refits the chosen one on all rows."""

    data: TrainingData
    grid: Sequence[float] = C_GRID
    _oof: dict[float, npt.NDArray[np.float64]] = field(default_factory=dict)
    _splits: list[FoldSplit] = field(default_factory=list)

    kind = ModelKind.SCORECARD

    def run_fold(self, split: FoldSplit) -> None:
        frame, y = self.data.frame, self.data.y
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            process = binning_process(self.data)
            woe_train = process.fit_transform(frame.iloc[split.train], y[split.train], metric_missing=METRIC_MISSING)
            woe_valid = process.transform(frame.iloc[split.valid], metric_missing=METRIC_MISSING)
            for c in self.grid:
                model = _regression(c).fit(woe_train, y[split.train])
                oof = self._oof.setdefault(c, np.zeros(len(y)))
                oof[split.valid] = model.decision_function(woe_valid)
        self._splits.append(split)

    def select(self) -> CandidateResult:
        y = self.data.y
        losses = {
            c: float(np.mean([log_loss(y[s.valid], oof[s.valid]) for s in self._splits]))
            for c, oof in self._oof.items()
        }
        best = min(self.grid, key=lambda c: (losses[c], -c))  # a tie goes to the weaker penalty
        mean_auc, fold_auc = mean_fold_auc(y, self._oof[best], self._splits)
        return CandidateResult(
            kind=self.kind,
            mean_auc=mean_auc,
            fold_auc=fold_auc,
            oof_raw=self._oof[best],
            params={
                "C": best,
                "monotonic_trend": MONOTONIC_TREND,
                "max_n_prebins": MAX_N_PREBINS,
                "min_prebin_size": MIN_PREBIN_SIZE,
                "metric_missing": METRIC_MISSING,
            },
            selection={"criterion": "mean out-of-fold log loss", "grid": {"C": {str(c): losses[c] for c in self.grid}}},
        )

    def fit(self, params: dict[str, Any]) -> FittedScorecard:
        from optbinning import Scorecard

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Scorecard(binning_process(self.data), _regression(float(params["C"])))
            model.fit(self.data.frame, self.data.y, metric_missing=METRIC_MISSING)
        return FittedScorecard(model, self.data)


@dataclass
class FittedScorecard:
    model: Any  # optbinning.Scorecard
    data: TrainingData

    kind = ModelKind.SCORECARD
    file_name = SCORECARD_FILE

    def raw(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """optbinning's own log-odds of bad."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model.decision_function(frame[self.data.names]), dtype=np.float64)

    def write(self, directory: Path, calibration: Calibration, scaling: ScoreScaling) -> None:
        doc = scorecard_document(self.model, self.data, calibration, scaling)
        (directory / self.file_name).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")

    def metadata(self) -> dict[str, Any]:
        return {"intercept": float(self.model.estimator_.intercept_[0])}


def _probe_frame(data: TrainingData, probes: dict[str, list[Any]]) -> pd.DataFrame:
    """One probe value per row and column (a shorter column is padded with its first probe)."""
    rows = max(len(v) for v in probes.values())
    columns = {}
    for f in data.features:
        values = probes[f.name] + [probes[f.name][0]] * (rows - len(probes[f.name]))
        columns[f.name] = pd.Series(values, dtype=object if f.type is FeatureType.CATEGORICAL else np.float64)
    return pd.DataFrame(columns)


def _transform(model: Any, frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.binning_process_.transform(
            frame, metric=metric, metric_special=model._metric_special, metric_missing=model._metric_missing
        )


def _numeric_probes(splits: Sequence[float]) -> list[float]:
    """One value in every bin (bin i >= 1 starts at splits[i-1], inclusive), then NaN for the missing bin."""
    if not len(splits):
        return [0.0, float("nan")]
    return [float(splits[0]) - 1.0 - abs(float(splits[0])), *map(float, splits), float("nan")]


def scorecard_document(
    model: Any, data: TrainingData, calibration: Calibration, scaling: ScoreScaling
) -> dict[str, Any]:
    """The points table: per factor its bins with WOE, bad rate, count and points; and the base points."""
    probes: dict[str, list[Any]] = {}
    for f in data.features:
        optb = model.binning_process_.get_binned_variable(f.name)
        if f.type is FeatureType.NUMERIC:
            probes[f.name] = _numeric_probes(list(optb.splits))
        else:
            categories = sorted(set(data.frame[f.name].dropna()))
            probes[f.name] = [*categories, np.nan, UNSEEN]
    frame = _probe_frame(data, probes)
    woe = _transform(model, frame, "woe")
    indices = _transform(model, frame, "indices")
    coefficients = model.estimator_.coef_.ravel()
    intercept = float(model.estimator_.intercept_[0])
    points_per_term = -scaling.factor * calibration.slope  # a term of the raw log-odds -> score points
    features = [
        _feature_document(
            model, f.name, f.type, probes[f.name], woe[f.name], indices[f.name], float(c), points_per_term
        )
        for f, c in zip(data.features, coefficients, strict=True)
    ]
    return {
        "intercept": intercept,
        "base_points": scaling.offset - scaling.factor * calibration.logit(intercept),
        "points_rule": "score = base_points + sum of the factors' points (before rounding)",
        "woe_definition": "ln(share of goods / share of bads) of the bin; 0 for a bin without goods or bads",
        "features": features,
    }


def _bin_stats(table: pd.DataFrame, index: int) -> dict[str, Any]:
    row = table.iloc[index]
    return {"count": int(row["Count"]), "bads": int(row["Event"]), "event_rate": float(row["Event rate"])}


def _feature_document(
    model: Any,
    name: str,
    kind: FeatureType,
    probes: list[Any],
    woe: pd.Series,
    indices: pd.Series,
    coefficient: float,
    points_per_term: float,
) -> dict[str, Any]:
    optb = model.binning_process_.get_binned_variable(name)
    table = optb.binning_table.build(add_totals=False)
    n_bins = len(table) - 2  # the last two rows are the special and the missing bins

    def entry(index: int, woe_value: float) -> dict[str, Any]:
        stats = _bin_stats(table, index) if index < len(table) else {"count": 0, "bads": 0, "event_rate": 0.0}
        return {**stats, "woe": woe_value, "points": points_per_term * coefficient * woe_value}

    probes_woe, probes_index = woe.tolist()[: len(probes)], indices.tolist()[: len(probes)]
    bins: list[dict[str, Any]] = []
    doc: dict[str, Any] = {
        "name": name,
        "type": kind.value,
        "coefficient": coefficient,
        "iv": float(optb.binning_table.iv),
    }
    if kind is FeatureType.NUMERIC:
        splits = [float(s) for s in optb.splits]
        edges = [None, *splits, None]
        for i in range(len(splits) + 1):
            bins.append({"lower": edges[i], "upper": edges[i + 1], **entry(i, float(probes_woe[i]))})
        doc["splits"] = splits
        doc["missing"] = entry(n_bins + 1, float(probes_woe[-1]))
    else:
        categories = probes[:-2]
        for i in range(n_bins):
            members = [c for c, b in zip(categories, probes_index, strict=False) if b == i]
            woe_value = next((float(w) for w, b in zip(probes_woe, probes_index, strict=False) if b == i), 0.0)
            bins.append({"categories": members, **entry(i, woe_value)})
        doc["missing"] = entry(n_bins + 1, float(probes_woe[-2]))
        doc["unseen"] = {"woe": float(probes_woe[-1]), "points": points_per_term * coefficient * float(probes_woe[-1])}
    doc["bins"] = bins
    return doc
