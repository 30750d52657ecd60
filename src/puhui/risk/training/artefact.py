"""The versioned artefact directory: `model.json` + `scorecard.json` or `booster.txt`.

The files are first written to a staging directory inside `out`, loaded back with the runtime scorer
(`puhui.risk.model`) and checked: on every training row the runtime PD must equal the training
library's own prediction through the calibration (to 1e-9), or nothing is published. The training
sample's score distribution (deciles, for the PSI of later data) is measured with that same runtime,
so scoring the training file again gives a PSI of zero. `model.json` is moved into place last: a
reader never sees a half-written artefact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from puhui.risk.model import (
    BOOSTER_FILE,
    FORMAT_VERSION,
    MODEL_FILE,
    SCORECARD_FILE,
    Prediction,
    ScoreScaling,
    load_model,
)
from puhui.risk.monitoring import shares
from puhui.risk.training.calibration import apply
from puhui.risk.training.candidates import auc
from puhui.risk.training.data import rows_of
from puhui.risk.training.train import TrainingResult, summary

PD_TOLERANCE = 1e-9
SCORE_QUANTILES = tuple(q / 10 for q in range(1, 10))  # deciles


class ArtefactMismatch(RuntimeError):
    """The runtime scorer disagrees with the training library: a bug, never a user error."""


@dataclass(frozen=True)
class Artefact:
    directory: Path
    version: str
    metadata: dict[str, Any]
    max_pd_difference: float


def model_version(kind: str, sha256: str, when: datetime) -> str:
    return f"{kind}-{sha256[:12]}-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def score_distribution(scores: list[int]) -> dict[str, Any]:
    """Decile edges of the training scores (inner cut points; a bin holds edge[i-1] <= s < edge[i])."""
    values = np.asarray(scores, dtype=np.float64)
    edges = sorted({float(e) for e in np.quantile(values, SCORE_QUANTILES)})
    return {
        "edges": edges,
        "shares": list(shares(values.tolist(), edges)),
        "count": len(scores),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "binning": "deciles of the training sample's scores; bin i holds edges[i-1] <= score < edges[i]",
    }


def metadata(result: TrainingResult, scaling: ScoreScaling, when: datetime) -> dict[str, Any]:
    data, fitted = result.data, result.fitted
    calibration = result.calibration
    return {
        "format_version": FORMAT_VERSION,
        "model_version": model_version(result.chosen.value, data.fingerprint.sha256, when),
        "kind": result.chosen.value,
        "created_at": when.astimezone(UTC).isoformat(timespec="seconds"),
        "file": fitted.file_name,
        "target": data.target.column,
        "bad_value": data.target.bad_value,
        "good_value": data.target.good_value,
        "features": [{"name": f.name, "type": f.type.value} for f in data.features],
        "dropped_columns": [{"name": d.name, "reason": d.reason} for d in data.dropped],
        "training_data": data.fingerprint.as_json(),
        "cv": summary(result),
        "calibration": {
            "method": calibration.method.value,
            "slope": calibration.slope,
            "intercept": calibration.intercept,
            "formula": "pd = 1 / (1 + exp(-(slope * raw + intercept))), raw = the model's log-odds of bad",
            "fitted_on": f"out-of-fold raw scores of the {result.options.folds}-fold CV (Platt targets)",
        },
        "score_scaling": {
            **scaling.as_json(),
            "formula": "score = round(offset + factor * ln((1 - pd) / pd))",
        },
        "labels": {f.name: result.options.labels[f.name] for f in data.features if f.name in result.options.labels},
        "training_seconds": (result.finished_at - result.started_at).total_seconds(),
        **fitted.metadata(),
    }


def _check_runtime(result: TrainingResult, staging: Path) -> tuple[list[Prediction], float]:
    runtime = load_model(staging)
    predictions = runtime.predict_many(rows_of(result.data.frame))
    library = apply(result.calibration, result.fitted.raw(result.data.frame))
    difference = float(np.max(np.abs(np.asarray([p.pd for p in predictions]) - library)))
    if not difference <= PD_TOLERANCE:
        raise ArtefactMismatch(f"the runtime scorer differs from the training library by {difference:.3g} in PD")
    return predictions, difference


def _publish(staging: Path, out: Path, file_name: str) -> None:
    stale = {SCORECARD_FILE, BOOSTER_FILE} - {file_name}
    for name in stale:
        (out / name).unlink(missing_ok=True)
    os.replace(staging / file_name, out / file_name)
    os.replace(staging / MODEL_FILE, out / MODEL_FILE)  # last: model.json marks a complete artefact


def write_artefact(
    result: TrainingResult, out: Path, scaling: ScoreScaling | None = None, when: datetime | None = None
) -> Artefact:
    scaling = scaling or ScoreScaling()
    when = when or result.finished_at
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        doc = metadata(result, scaling, when)
        result.fitted.write(staging, result.calibration, scaling)
        _write_json(staging / MODEL_FILE, doc)
        predictions, difference = _check_runtime(result, staging)
        doc["score_distribution"] = score_distribution([p.score for p in predictions])
        doc["training_auc"] = {
            "cv_mean": result.winner.mean_auc,
            "in_sample": auc(result.data.y, np.asarray([p.pd for p in predictions])),
        }
        doc["runtime_check"] = {"rows": len(predictions), "max_pd_difference": difference}
        _write_json(staging / MODEL_FILE, doc)
        _publish(staging, out, result.fitted.file_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Artefact(out, str(doc["model_version"]), doc, difference)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
