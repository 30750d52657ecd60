"""Training: both candidates on the same stratified folds, the choice, the calibration, the refit.

The scorecard and LightGBM see exactly the same k folds. Each picks its own settings by its
out-of-fold log loss; then the two are compared by their mean fold AUC and the higher wins — unless
it wins by less than `TIE_AUC`, when the scorecard is kept because a points table is easier to
explain to a borrower, a credit officer and a regulator. The winner's out-of-fold raw scores fit the
Platt calibration; the winner is then refitted on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from puhui.risk.model import Calibration, ModelKind
from puhui.risk.training.boosting import BoostingCandidate
from puhui.risk.training.calibration import fit_platt
from puhui.risk.training.candidates import Candidate, CandidateResult, FittedModel, FoldSplit
from puhui.risk.training.data import TrainingData
from puhui.risk.training.scorecard import ScorecardCandidate

TIE_AUC = 0.002
DEFAULT_FOLDS = 5
DEFAULT_SEED = 7

Progress = Callable[[str, int, int], None]  # (what, steps done, steps in all)


@dataclass(frozen=True)
class TrainOptions:
    folds: int = DEFAULT_FOLDS
    seed: int = DEFAULT_SEED
    kinds: tuple[ModelKind, ...] = (ModelKind.SCORECARD, ModelKind.LIGHTGBM)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class TrainingResult:
    data: TrainingData
    options: TrainOptions
    candidates: dict[ModelKind, CandidateResult]
    chosen: ModelKind
    calibration: Calibration
    fitted: FittedModel
    started_at: datetime
    finished_at: datetime

    @property
    def winner(self) -> CandidateResult:
        return self.candidates[self.chosen]


def folds_of(data: TrainingData, folds: int, seed: int) -> list[FoldSplit]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        FoldSplit(k, np.asarray(train), np.asarray(valid))
        for k, (train, valid) in enumerate(splitter.split(np.zeros(len(data.y)), data.y))
    ]


def choose(results: dict[ModelKind, CandidateResult]) -> ModelKind:
    """The higher mean CV AUC; the scorecard unless LightGBM beats it by more than `TIE_AUC`."""
    if ModelKind.SCORECARD in results and ModelKind.LIGHTGBM in results:
        lead = results[ModelKind.LIGHTGBM].mean_auc - results[ModelKind.SCORECARD].mean_auc
        return ModelKind.LIGHTGBM if lead > TIE_AUC else ModelKind.SCORECARD
    return next(iter(results))


def _candidate(kind: ModelKind, data: TrainingData, options: TrainOptions) -> Candidate:
    if kind is ModelKind.SCORECARD:
        return ScorecardCandidate(data)
    return BoostingCandidate(data, options.seed)


def cross_validate(
    data: TrainingData, options: TrainOptions, progress: Progress | None = None
) -> tuple[list[Candidate], dict[ModelKind, CandidateResult]]:
    candidates = [_candidate(k, data, options) for k in options.kinds]
    splits = folds_of(data, options.folds, options.seed)
    total = len(splits) + 1  # the folds, then the refit
    for split in splits:
        if progress:
            progress(f"cross-validation fold {split.number + 1}/{len(splits)}", split.number, total)
        for candidate in candidates:
            candidate.run_fold(split)
    return candidates, {c.kind: c.select() for c in candidates}


def train_model(data: TrainingData, options: TrainOptions, progress: Progress | None = None) -> TrainingResult:
    """Cross-validate both candidates, choose, calibrate on the out-of-fold scores, refit on all rows."""
    if not options.kinds:
        raise ValueError("no candidate model kind to train")
    started = datetime.now(UTC)
    candidates, results = cross_validate(data, options, progress)
    chosen = choose(results)
    calibration = fit_platt(results[chosen].oof_raw, data.y)
    if progress:
        progress(f"refitting the {chosen.value} on all {len(data.y)} rows", options.folds, options.folds + 1)
    winner = next(c for c in candidates if c.kind is chosen)
    fitted = winner.fit(results[chosen].params)
    if progress:
        progress("done", options.folds + 1, options.folds + 1)
    return TrainingResult(data, options, results, chosen, calibration, fitted, started, datetime.now(UTC))


def summary(result: TrainingResult) -> dict[str, Any]:
    """The CV comparison as it goes into model.json."""
    return {
        "folds": result.options.folds,
        "seed": result.options.seed,
        "stratified": True,
        "metric": "auc",
        "tie_rule": f"LightGBM is chosen only if its mean AUC beats the scorecard's by more than {TIE_AUC}",
        "candidates": {k.value: r.as_json() for k, r in result.candidates.items()},
        "chosen": result.chosen.value,
    }
