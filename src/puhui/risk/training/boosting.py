"""The LightGBM candidate: shallow, regularised gradient boosting with its settings chosen by CV.

A small grid of tree shapes (leaves, minimum rows per leaf, category smoothing) is trained on every
fold for up to `MAX_ROUNDS` rounds; the setting and the number of rounds with the lowest mean
out-of-fold log loss win (what `lightgbm.cv` + early stopping does, on our folds). Credit data is
small and noisy, so the grid stays on the shallow, strongly regularised side: default LightGBM
(31 leaves, 100 rounds at 0.1) overfits it.

Categories are integer codes (sorted category order); missing and unseen ones are -1, which
LightGBM always sends right. One thread, a fixed seed: the same data gives the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from puhui.risk.model import BOOSTER_FILE, Calibration, FeatureType, ModelKind, ScoreScaling
from puhui.risk.training.candidates import CandidateResult, FoldSplit, mean_fold_auc
from puhui.risk.training.data import TrainingData

LEARNING_RATE = 0.05
MAX_ROUNDS = 400
BASE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": LEARNING_RATE,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_cat_to_onehot": 4,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
GRID: dict[str, dict[str, Any]] = {
    "leaves4": {"num_leaves": 4, "min_child_samples": 20},
    "leaves4-smooth": {"num_leaves": 4, "min_child_samples": 50, "cat_smooth": 50.0, "min_data_per_group": 50},
    "leaves8": {"num_leaves": 8, "min_child_samples": 40},
    "leaves16": {"num_leaves": 16, "min_child_samples": 50, "lambda_l2": 5.0},
}


def category_codes(data: TrainingData) -> dict[str, list[str]]:
    """Per categorical feature, its categories in code order (code = position)."""
    return {name: sorted(set(data.frame[name].dropna())) for name in data.categorical}


def encode(frame: pd.DataFrame, data: TrainingData, codes: dict[str, list[str]]) -> npt.NDArray[np.float64]:
    """The float matrix LightGBM sees: numeric as is (NaN = missing), categories as codes, -1 if unknown."""
    columns = []
    for f in data.features:
        if f.type is FeatureType.CATEGORICAL:
            lookup = {c: float(i) for i, c in enumerate(codes[f.name])}
            columns.append(frame[f.name].map(lambda v, lookup=lookup: lookup.get(v, -1.0)).to_numpy(np.float64))
        else:
            columns.append(frame[f.name].to_numpy(np.float64))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def _params(setting: str, seed: int) -> dict[str, Any]:
    return {**BASE_PARAMS, **GRID[setting], "seed": seed}


@dataclass
class BoostingCandidate:
    data: TrainingData
    seed: int
    grid: Sequence[str] = tuple(GRID)
    _codes: dict[str, list[str]] = field(default_factory=dict)
    _x: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    _curves: dict[str, list[list[float]]] = field(default_factory=dict)  # setting -> per fold log loss by round
    _boosters: dict[tuple[str, int], Any] = field(default_factory=dict)
    _splits: list[FoldSplit] = field(default_factory=list)

    kind = ModelKind.LIGHTGBM

    def __post_init__(self) -> None:
        self._codes = category_codes(self.data)
        self._x = encode(self.data.frame, self.data, self._codes)

    def _categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.data.features) if f.type is FeatureType.CATEGORICAL]

    def run_fold(self, split: FoldSplit) -> None:
        import lightgbm as lgb

        x, y, cats = self._x, self.data.y, self._categorical_indices()
        for setting in self.grid:
            train = lgb.Dataset(x[split.train], y[split.train], categorical_feature=cats, free_raw_data=False)
            valid = lgb.Dataset(x[split.valid], y[split.valid], reference=train, categorical_feature=cats)
            record: dict[str, Any] = {}
            booster = lgb.train(
                {**_params(setting, self.seed), "metric": "binary_logloss"},
                train,
                MAX_ROUNDS,
                valid_sets=[valid],
                valid_names=["valid"],
                callbacks=[lgb.record_evaluation(record)],
            )
            self._curves.setdefault(setting, []).append(list(record["valid"]["binary_logloss"]))
            self._boosters[(setting, split.number)] = booster
        self._splits.append(split)

    def select(self) -> CandidateResult:
        mean_curves = {s: np.mean(np.asarray(curves), axis=0) for s, curves in self._curves.items()}
        best_rounds = {s: int(np.argmin(curve)) + 1 for s, curve in mean_curves.items()}
        best = min(self.grid, key=lambda s: float(mean_curves[s][best_rounds[s] - 1]))
        rounds = best_rounds[best]
        oof = np.zeros(len(self.data.y))
        for split in self._splits:
            booster = self._boosters[(best, split.number)]
            oof[split.valid] = booster.predict(self._x[split.valid], num_iteration=rounds, raw_score=True)
        self._boosters.clear()  # the fold models are no longer needed; they hold every tree
        mean_auc, fold_auc = mean_fold_auc(self.data.y, oof, self._splits)
        grid_losses = {
            s: {"log_loss": float(mean_curves[s][best_rounds[s] - 1]), "rounds": best_rounds[s]} for s in self.grid
        }
        return CandidateResult(
            kind=self.kind,
            mean_auc=mean_auc,
            fold_auc=fold_auc,
            oof_raw=oof,
            params={
                **{k: v for k, v in _params(best, self.seed).items() if k != "verbose"},
                "setting": best,
                "num_boost_round": rounds,
            },
            selection={
                "criterion": "mean out-of-fold log loss over settings and rounds",
                "max_rounds": MAX_ROUNDS,
                "grid": grid_losses,
            },
        )

    def fit(self, params: dict[str, Any]) -> FittedBooster:
        import lightgbm as lgb

        setting, rounds = str(params["setting"]), int(params["num_boost_round"])
        train = lgb.Dataset(self._x, self.data.y, categorical_feature=self._categorical_indices())
        booster = lgb.train(_params(setting, self.seed), train, rounds)
        return FittedBooster(booster, self.data, self._codes)


@dataclass
class FittedBooster:
    booster: Any  # lightgbm.Booster
    data: TrainingData
    codes: dict[str, list[str]]

    kind = ModelKind.LIGHTGBM
    file_name = BOOSTER_FILE

    def raw(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """LightGBM's own raw score (log-odds of bad)."""
        x = encode(frame, self.data, self.codes)
        return np.asarray(self.booster.predict(x, raw_score=True), dtype=np.float64)

    def write(self, directory: Path, calibration: Calibration, scaling: ScoreScaling) -> None:
        (directory / self.file_name).write_text(self.booster.model_to_string(), encoding="utf-8")

    def metadata(self) -> dict[str, Any]:
        return {"category_codes": self.codes, "num_trees": int(self.booster.num_trees())}
