"""Monitoring of live models, pure: population stability (PSI) of the scores seen in production
against the training sample, and the AUC on loans whose outcome is known, compared with the AUC
the model had when it was trained.

Bands (the industry's usual reading): PSI < 0.10 stable, 0.10-0.25 watch, > 0.25 shifted; an AUC
that fell by more than 0.05 from training is drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.stats import rankdata

PSI_WATCH = 0.10
PSI_SHIFTED = 0.25
AUC_DROP = 0.05
_FLOOR = 1e-4  # an empty bin would make the PSI infinite; count it as a tiny share


class Stability(StrEnum):
    STABLE = "stable"
    WATCH = "watch"
    SHIFTED = "shifted"


@dataclass(frozen=True, slots=True)
class PsiResult:
    psi: float
    stability: Stability
    expected_shares: tuple[float, ...]
    actual_shares: tuple[float, ...]
    edges: tuple[float, ...]


def shares(values: Sequence[float], edges: Sequence[float]) -> tuple[float, ...]:
    """Share of `values` in each bin; `edges` are the inner cut points (n edges -> n + 1 bins)."""
    if not values:
        return tuple(0.0 for _ in range(len(edges) + 1))
    counts = np.bincount(np.searchsorted(np.asarray(edges), np.asarray(values), side="right"), minlength=len(edges) + 1)
    return tuple(float(c) / len(values) for c in counts)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Σ (a − e) · ln(a / e) over the bins, with empty bins floored."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _FLOOR), max(a, _FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def stability_of(value: float) -> Stability:
    if value > PSI_SHIFTED:
        return Stability.SHIFTED
    return Stability.WATCH if value >= PSI_WATCH else Stability.STABLE


def score_psi(expected_shares: Sequence[float], edges: Sequence[float], scores: Sequence[float]) -> PsiResult:
    actual = shares(scores, edges)
    value = psi(expected_shares, actual)
    return PsiResult(value, stability_of(value), tuple(expected_shares), actual, tuple(edges))


def auc(labels: Sequence[int], risk: Sequence[float]) -> float | None:
    """The probability that a random bad (label 1) ranks riskier than a random good (ties count
    half): the Mann-Whitney statistic. None when there are no bads or no goods."""
    y = np.asarray(labels, dtype=np.int64)
    r = np.asarray(risk, dtype=np.float64)
    bads, goods = int(y.sum()), int(len(y) - y.sum())
    if bads == 0 or goods == 0:
        return None
    ranks = rankdata(r)  # ties get the average of their ranks
    return float((ranks[y == 1].sum() - bads * (bads + 1) / 2) / (bads * goods))


def auc_drifted(trained_auc: float, live_auc: float | None) -> bool:
    return live_auc is not None and trained_auc - live_auc > AUC_DROP
