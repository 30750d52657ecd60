"""Offline training of credit models (never imported by the web process).

`load_training_data` reads a CSV with a binary target; `train_model` cross-validates a monotonic
WOE scorecard (optbinning) against LightGBM on the same stratified folds, keeps the better one,
calibrates it to a PD on its out-of-fold scores and refits it; `write_artefact` saves the versioned
artefact that `puhui.risk.model.load_model` serves; `report` renders the validation report.
"""

from puhui.risk.training.artefact import Artefact, write_artefact
from puhui.risk.training.data import DataError, TrainingData, load_labels, load_training_data
from puhui.risk.training.train import TrainingResult, TrainOptions, train_model

__all__ = [
    "Artefact",
    "DataError",
    "TrainOptions",
    "TrainingData",
    "TrainingResult",
    "load_labels",
    "load_training_data",
    "train_model",
    "write_artefact",
]
