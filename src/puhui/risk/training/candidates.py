"""What the two candidate models share: the folds, the CV result, the fitted-model protocol, metrics.

A candidate runs fold by fold (`run_fold`, so the CLI can show a progress bar), then `select`s its
hyperparameters from what the folds saw and hands back its out-of-fold raw scores (the calibration
data) and per-fold AUCs (the comparison); `fit` refits the chosen setting on every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from puhui.risk.model import Calibration, ModelKind, ScoreScaling


@dataclass(frozen=True)
class FoldSplit:
    number: int
    train: npt.NDArray[np.int_]
    valid: npt.NDArray[np.int_]


@dataclass
class CandidateResult:
    kind: ModelKind
    mean_auc: float
    fold_auc: list[float]
    oof_raw: npt.NDArray[np.float64]  # out-of-fold log-odds of bad, one per training row
    params: dict[str, Any]
    selection: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "mean_auc": self.mean_auc,
            "fold_auc": self.fold_auc,
            "params": self.params,
            "selection": self.selection,
        }


class FittedModel(Protocol):
    kind: ModelKind
    file_name: str

    def raw(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The library's own log-odds of bad for the rows of `frame` (features typed as in training)."""
        ...

    def write(self, directory: Path, calibration: Calibration, scaling: ScoreScaling) -> None: ...

    def metadata(self) -> dict[str, Any]: ...


class Candidate(Protocol):
    kind: ModelKind

    def run_fold(self, split: FoldSplit) -> None: ...

    def select(self) -> CandidateResult: ...

    def fit(self, params: dict[str, Any]) -> FittedModel: ...


def auc(y: npt.NDArray[np.int_], risk: npt.NDArray[np.float64]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, risk))


def log_loss(y: npt.NDArray[np.int_], raw: npt.NDArray[np.float64]) -> float:
    """Mean negative log-likelihood of log-odds `raw`: log(1 + e^-raw) for bads, log(1 + e^raw) for goods."""
    signed = np.where(y == 1, -raw, raw)
    return float(np.mean(np.logaddexp(0.0, signed)))


def mean_fold_auc(
    y: npt.NDArray[np.int_], oof: npt.NDArray[np.float64], splits: Sequence[FoldSplit]
) -> tuple[float, list[float]]:
    per_fold = [auc(y[s.valid], oof[s.valid]) for s in sorted(splits, key=lambda s: s.number)]
    return float(np.mean(per_fold)), per_fold
