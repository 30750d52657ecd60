"""Platt scaling of a model's log-odds into a PD, fitted on out-of-fold predictions.

pd = sigmoid(slope * raw + intercept), fitted by Newton's method on the out-of-fold raw scores (so
the calibration learns how the model behaves on rows it did not see). The targets are smoothed as
in Platt (1999) — (bads + 1) / (bads + 2) and 1 / (goods + 2) instead of 1 and 0 — which keeps the
fit finite even when the scores separate the classes perfectly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from puhui.risk.model import Calibration, CalibrationMethod

MAX_ITERATIONS = 100
TOLERANCE = 1e-12


def _loss(raw: npt.NDArray[np.float64], t: npt.NDArray[np.float64], slope: float, intercept: float) -> float:
    z = slope * raw + intercept
    # cross-entropy with soft targets t: t * log(1 + e^-z) + (1 - t) * log(1 + e^z)
    return float(np.sum(t * np.logaddexp(0.0, -z) + (1.0 - t) * np.logaddexp(0.0, z)))


def fit_platt(raw: npt.NDArray[np.float64], y: npt.NDArray[np.int_]) -> Calibration:
    bads, goods = int(y.sum()), int(len(y) - y.sum())
    t = np.where(y == 1, (bads + 1.0) / (bads + 2.0), 1.0 / (goods + 2.0))
    slope, intercept = 1.0, float(np.log((bads + 1.0) / (goods + 1.0)) - np.mean(raw))
    loss = _loss(raw, t, slope, intercept)
    for _ in range(MAX_ITERATIONS):
        p = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        w = np.maximum(p * (1.0 - p), 1e-12)
        gradient = np.array([np.sum((p - t) * raw), np.sum(p - t)])
        hessian = np.array([[np.sum(w * raw * raw), np.sum(w * raw)], [np.sum(w * raw), np.sum(w)]])
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        scale = 1.0
        while scale > 1e-8:  # halve the step until the loss does not rise
            new_slope, new_intercept = slope - scale * step[0], intercept - scale * step[1]
            new_loss = _loss(raw, t, new_slope, new_intercept)
            if new_loss <= loss:
                break
            scale /= 2.0
        else:
            break
        improved = loss - new_loss
        slope, intercept, loss = float(new_slope), float(new_intercept), new_loss
        if improved <= TOLERANCE * max(1.0, abs(loss)):
            break
    return Calibration(slope, intercept, CalibrationMethod.PLATT_LOGIT)


def apply(calibration: Calibration, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Calibrated PDs of raw log-odds."""
    from scipy.special import expit

    return np.asarray(expit(calibration.slope * raw + calibration.intercept), dtype=np.float64)
