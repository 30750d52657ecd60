"""Training and scoring tables from CSV: the binary target, the feature types, the fingerprint.

Any tabular CSV works: numeric columns are numeric features, text columns categorical ones, and empty
cells (or pandas' usual missing tokens) are missing values. The target is 1 = bad, or one of two text
values named with `bad`. Every problem a user can cause raises `DataError`, which the CLI prints as a
one-line message (exit 2) instead of a traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from puhui.risk.model import FeatureType

MIN_ROWS = 100
MIN_CLASS_ROWS_PER_FOLD = 3  # every validation fold needs a few goods and bads for its AUC
MIN_CLASS_ROWS = 10
# a text column with this many distinct values (and more than half the rows) is an identifier, not a factor
ID_LIKE_MIN_DISTINCT = 50


class DataError(ValueError):
    """Bad input (file, column, target, labels): a clear message for the user, never a traceback."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    type: FeatureType


@dataclass(frozen=True, slots=True)
class DroppedColumn:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    sha256: str
    file_name: str
    rows: int
    bads: int

    @property
    def bad_rate(self) -> float:
        return self.bads / self.rows

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "file_name": self.file_name,
            "rows": self.rows,
            "bads": self.bads,
            "bad_rate": self.bad_rate,
        }


@dataclass(frozen=True, slots=True)
class Target:
    column: str
    bad_value: str
    good_value: str


@dataclass(frozen=True)
class TrainingData:
    frame: pd.DataFrame  # the features only, in order: float64 numeric, object (str or NaN) categorical
    y: npt.NDArray[np.int_]  # 1 = bad
    features: tuple[FeatureSpec, ...]
    target: Target
    fingerprint: Fingerprint
    dropped: tuple[DroppedColumn, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.type is FeatureType.CATEGORICAL]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_csv(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The CSV as a frame; `text_columns` are read as text whatever they look like."""
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    try:
        frame = pd.read_csv(path, dtype=dict.fromkeys(text_columns, str), low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read {path} as CSV: {str(exc).strip().splitlines()[0]}") from None
    duplicated = [c for c in frame.columns if str(c).endswith(".1") and str(c)[:-2] in frame.columns]
    if duplicated:
        raise DataError(f"{path} repeats column names: {', '.join(c[:-2] for c in duplicated)}")
    return frame


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column.dtype))


def as_categorical(column: pd.Series) -> pd.Series:
    """Text values (str), NaN for missing: the form optbinning and the runtime both see."""
    return column.astype(object).map(lambda v: v if isinstance(v, str) else (np.nan if pd.isna(v) else str(v)))


def _token(value: Any) -> str:
    """One target value as text: 1, 1.0 and True all read as "1"."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if math.isfinite(number) and number.is_integer() else text


def parse_target(column: pd.Series, name: str, bad: str | None) -> tuple[npt.NDArray[np.int_], Target]:
    """y (1 = bad) from a column of two values; `bad` names the bad one (default: 1 of 0/1)."""
    missing = int(column.isna().sum())
    if missing:
        raise DataError(f"target {name!r} is empty in {missing} row(s); every row needs an outcome")
    tokens = column.map(_token)
    values = sorted(set(tokens))
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in values[:6]) + (" ..." if len(values) > 6 else "")
        raise DataError(f"target {name!r} must have exactly two values (good and bad); it has {len(values)}: {shown}")
    if bad is None:
        if values != ["0", "1"]:
            raise DataError(
                f"target {name!r} has values {values[0]!r} and {values[1]!r}; say which one is bad with --bad VALUE"
            )
        bad_token = "1"
    else:
        bad_token = _token(bad)
        if bad_token not in values:
            raise DataError(
                f"--bad {bad!r} is not a value of target {name!r} (its values: {values[0]!r}, {values[1]!r})"
            )
    good_token = values[0] if values[1] == bad_token else values[1]
    y = (tokens == bad_token).to_numpy(dtype=np.int_)
    return y, Target(name, bad_token, good_token)


def _check_size(y: npt.NDArray[np.int_], folds: int) -> None:
    rows, bads = len(y), int(y.sum())
    need = max(MIN_CLASS_ROWS, MIN_CLASS_ROWS_PER_FOLD * folds)
    if rows < MIN_ROWS or bads < need or rows - bads < need:
        raise DataError(
            f"too few rows to train: {rows} rows with {bads} bads and {rows - bads} goods; "
            f"training needs at least {MIN_ROWS} rows and {need} of each class ({folds} folds)"
        )


def _drop_reason(column: pd.Series, rows: int) -> str | None:
    present = column.dropna()
    if present.empty:
        return "empty"
    distinct = present.nunique()
    if distinct < 2:
        return "constant"
    if not _is_numeric(column) and distinct >= ID_LIKE_MIN_DISTINCT and distinct > rows / 2:
        return "identifier-like (a distinct text value in most rows)"
    return None


def _feature_columns(
    frame: pd.DataFrame, target: str, exclude: Sequence[str]
) -> tuple[list[FeatureSpec], list[DroppedColumn]]:
    unknown = [c for c in exclude if c not in frame.columns]
    if unknown:
        raise DataError(f"--exclude names columns that are not in the data: {', '.join(unknown)}")
    features, dropped = [], []
    for name in frame.columns:
        if name == target or name in exclude:
            continue
        reason = _drop_reason(frame[name], len(frame))
        if reason is not None:
            dropped.append(DroppedColumn(str(name), reason))
            continue
        kind = FeatureType.NUMERIC if _is_numeric(frame[name]) else FeatureType.CATEGORICAL
        features.append(FeatureSpec(str(name), kind))
    if not features:
        raise DataError("no usable feature column is left (all excluded, empty or constant)")
    return features, dropped


def typed_frame(frame: pd.DataFrame, features: Sequence[FeatureSpec]) -> pd.DataFrame:
    """The feature columns in model order: numeric as float64, categorical as text or NaN."""
    columns = {}
    for f in features:
        column = frame[f.name]
        if f.type is FeatureType.CATEGORICAL:
            columns[f.name] = as_categorical(column)
        else:
            columns[f.name] = _numeric(column, f.name)
    return pd.DataFrame(columns, index=frame.index)


def _numeric(column: pd.Series, name: str) -> pd.Series:
    if _is_numeric(column):
        return column.astype(np.float64)
    parsed = pd.to_numeric(column, errors="coerce")
    bad = column[parsed.isna() & column.notna()]
    if not bad.empty:
        row = int(bad.index[0]) + 2  # + header line, 1-based
        raise DataError(f"column {name!r} must be numeric, but line {row} holds {bad.iloc[0]!r}")
    return parsed.astype(np.float64)


def load_training_data(
    path: Path, target: str, *, bad: str | None = None, exclude: Sequence[str] = (), folds: int = 5
) -> TrainingData:
    frame = read_csv(path)
    if target not in frame.columns:
        raise DataError(f"no column {target!r} in {path}; its columns: {', '.join(map(str, frame.columns))}")
    y, parsed_target = parse_target(frame[target], target, bad)
    _check_size(y, folds)
    features, dropped = _feature_columns(frame, target, exclude)
    fingerprint = Fingerprint(sha256_of(path), path.name, len(frame), int(y.sum()))
    return TrainingData(
        typed_frame(frame, features).reset_index(drop=True),
        y,
        tuple(features),
        parsed_target,
        fingerprint,
        tuple(dropped),
    )


def load_scoring_frame(path: Path, features: Sequence[FeatureSpec]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the raw CSV, its model features typed as in training); missing model columns are an error."""
    categorical = [f.name for f in features if f.type is FeatureType.CATEGORICAL]
    frame = read_csv(path, text_columns=categorical)
    absent = [f.name for f in features if f.name not in frame.columns]
    if absent:
        raise DataError(f"{path} lacks column(s) the model needs: {', '.join(absent)}")
    return frame, typed_frame(frame, features)


def rows_of(frame: pd.DataFrame) -> list[dict[str, float | str | None]]:
    """One dict per row for the runtime scorer (NaN stays NaN: the scorer reads it as missing)."""
    names = [str(c) for c in frame.columns]
    columns = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def load_labels(path: Path | None) -> dict[str, dict[str, str]]:
    """labels.json: {"feature": {"zh": "...", "en": "..."}}; a missing language falls back to the name."""
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no such labels file: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read labels {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise DataError(f'labels {path} must be a JSON object: {{"feature": {{"zh": "...", "en": "..."}}}}')
    labels: dict[str, dict[str, str]] = {}
    for name, label in doc.items():
        if not isinstance(label, dict) or not all(isinstance(label.get(k, ""), str) for k in ("zh", "en")):
            raise DataError(f'label of {name!r} in {path} must be {{"zh": "...", "en": "..."}}')
        labels[str(name)] = {k: label.get(k) or str(name) for k in ("zh", "en")}
    return labels
