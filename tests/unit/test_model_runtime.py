"""The runtime scorer (`puhui.risk.model`) against the libraries that trained it, and its contract.

A model is trained on a small synthetic credit table (numeric and categorical factors, missing
values), once as a scorecard and once as LightGBM; the runtime must give optbinning's and LightGBM's
own probabilities through the saved calibration, also on rows with missing values and categories
training never saw. LightGBM's decision rules (missing types None / Zero / NaN, default direction,
category bitsets) are also checked on boosters trained directly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from puhui.risk.model import (
    BOOSTER_FILE,
    FORMAT_VERSION,
    MAX_REASONS,
    MODEL_FILE,
    SCORECARD_FILE,
    CreditModel,
    ModelArtefactError,
    ModelInputError,
    ModelKind,
    load_model,
)
from puhui.risk.training import TrainingResult, TrainOptions, load_training_data, train_model, write_artefact
from puhui.risk.training.boosting import encode
from puhui.risk.training.data import rows_of, typed_frame

REGIONS = ["north", "south", "east", "west", "centre"]
CHANNELS = ["branch", "online", "agent"]
LABELS = {
    "utilisation": {"zh": "额度使用率", "en": "credit utilisation"},
    "income": {"zh": "月收入", "en": "monthly income"},
}


def credit_frame(rows: int, seed: int) -> pd.DataFrame:
    """Applicants whose risk rises with utilisation, falls with income and age, depends on region and
    channel; income is missing for one in ten (and missing is risky), region for one in twelve."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8.0, 0.5, rows)
    income_missing = rng.random(rows) < 0.1
    utilisation = rng.uniform(0.0, 1.2, rows)
    age = rng.integers(18, 70, rows).astype(float)
    region = rng.choice(REGIONS, rows).astype(object)
    region[rng.random(rows) < 0.08] = None
    channel = rng.choice(CHANNELS, rows)
    region_effect = pd.Series(region).map({"north": -0.4, "south": 0.3, "east": 0.0, "west": 0.5}).fillna(0.2)
    z = (
        -1.3
        + 2.2 * (utilisation - 0.6)
        - 0.9 * np.where(income_missing, -0.6, np.log(income) - 8.0)
        - 0.03 * (age - 40.0)
        + region_effect.to_numpy()
        + np.where(channel == "online", 0.4, 0.0)
    )
    bad = rng.random(rows) < expit(z)
    return pd.DataFrame(
        {
            "applicant_id": [f"A{seed:02d}{i:05d}" for i in range(rows)],
            "income": np.where(income_missing, np.nan, np.round(income, 2)),
            "utilisation": np.round(utilisation, 3),
            "age": age,
            "region": region,
            "channel": channel,
            "status": np.where(bad, "bad", "good"),
        }
    )


def unusual_rows() -> pd.DataFrame:
    """Rows a model meets in production: missing values everywhere, categories never seen."""
    return pd.DataFrame(
        {
            "income": [np.nan, 0.0, 1e9, 3000.0, np.nan],
            "utilisation": [np.nan, 0.5, 2.5, -1.0, 0.0],
            "age": [np.nan, 18.0, 99.0, 40.0, np.nan],
            "region": [None, "islands", "north", None, "atlantis"],
            "channel": ["phone", None, "online", "branch", None],
        }
    )


@dataclass(frozen=True)
class Trained:
    result: TrainingResult
    model: CreditModel
    directory: Path


def _train(tmp: Path, kind: ModelKind) -> Trained:
    csv = tmp / "train.csv"
    credit_frame(600, seed=3).to_csv(csv, index=False)
    data = load_training_data(csv, "status", bad="bad", exclude=["applicant_id"], folds=3)
    result = train_model(data, TrainOptions(folds=3, seed=1, kinds=(kind,), labels=LABELS))
    artefact = write_artefact(result, tmp / kind.value)
    return Trained(result, load_model(artefact.directory), artefact.directory)


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return _train(tmp_path_factory.mktemp("scorecard"), ModelKind.SCORECARD)


@pytest.fixture(scope="module")
def booster(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return _train(tmp_path_factory.mktemp("lightgbm"), ModelKind.LIGHTGBM)


def _library_pd(result: TrainingResult, frame: pd.DataFrame) -> np.ndarray:
    """The training library's own raw prediction, through the saved calibration."""
    if result.chosen is ModelKind.SCORECARD:
        raw = result.fitted.model.decision_function(frame)  # type: ignore[attr-defined]
    else:
        fitted = result.fitted
        raw = fitted.booster.predict(encode(frame, fitted.data, fitted.codes), raw_score=True)  # type: ignore[attr-defined]
    c = result.calibration
    return np.asarray(expit(c.slope * np.asarray(raw) + c.intercept))


def _runtime_pd(model: CreditModel, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray([p.pd for p in model.predict_many(rows_of(frame))])


@pytest.mark.parametrize("which", ["scorecard", "booster"])
def test_runtime_pd_is_the_training_librarys_through_the_calibration(
    which: str, request: pytest.FixtureRequest
) -> None:
    trained: Trained = request.getfixturevalue(which)
    result, model = trained.result, trained.model
    training = result.data.frame
    odd = typed_frame(unusual_rows(), result.data.features)
    for frame in (training, odd):
        assert np.max(np.abs(_runtime_pd(model, frame) - _library_pd(result, frame))) <= 1e-9
    assert model.kind == result.chosen.value
    assert model.features == ("income", "utilisation", "age", "region", "channel")


@pytest.mark.parametrize("which", ["scorecard", "booster"])
def test_score_is_600_at_odds_50_to_1_and_20_points_double_the_odds(which: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(which).model
    factor = 20 / math.log(2)
    for p in model.predict_many(rows_of(credit_frame(50, seed=9))):
        expected = 600 + factor * (math.log((1 - p.pd) / p.pd) - math.log(50))
        assert abs(p.score - expected) <= 0.5 + 1e-9
    scaling = model.metadata["score_scaling"]
    assert (scaling["base_score"], scaling["base_odds"], scaling["pdo"]) == (600, 50, 20)


def test_riskier_applicants_get_higher_pd_and_lower_score(scorecard: Trained) -> None:
    model = scorecard.model
    calm = {"income": 9000.0, "utilisation": 0.05, "age": 55.0, "region": "north", "channel": "branch"}
    stretched = {**calm, "utilisation": 1.15, "income": 900.0}
    a, b = model.predict(calm), model.predict(stretched)
    assert b.pd > a.pd and b.score < a.score


def test_scorecard_points_table_adds_up_to_the_score(scorecard: Trained) -> None:
    doc = json.loads((scorecard.directory / SCORECARD_FILE).read_text())
    features = {f["name"]: f for f in doc["features"]}
    frame = pd.concat([credit_frame(30, seed=11), unusual_rows()])
    for row in rows_of(typed_frame(frame, scorecard.result.data.features)):
        total = doc["base_points"] + sum(_points(features[name], row[name]) for name in scorecard.model.features)
        assert round(total) == scorecard.model.predict(row).score


def _points(feature: dict, value: object) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float(feature["missing"]["points"])
    if feature["type"] == "numeric":
        for b in feature["bins"]:
            if (b["lower"] is None or value >= b["lower"]) and (b["upper"] is None or value < b["upper"]):
                return float(b["points"])
        raise AssertionError(f"{value} is in no bin of {feature['name']}")
    for b in feature["bins"]:
        if value in b["categories"]:
            return float(b["points"])
    return float(feature["unseen"]["points"])


@pytest.mark.parametrize("which", ["scorecard", "booster"])
def test_reasons_are_the_most_adverse_factors_first_with_labels(which: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(which).model
    risky = {"income": None, "utilisation": 1.19, "age": 19.0, "region": "west", "channel": "online"}
    reasons = model.predict(risky).reasons
    assert 1 <= len(reasons) <= MAX_REASONS
    impacts = [r.impact for r in reasons]
    assert impacts == sorted(impacts, reverse=True) and all(i > 0 for i in impacts)
    assert all(r.code == f"R-{r.feature}" for r in reasons)
    by_feature = {r.feature: r for r in reasons}
    assert "utilisation" in by_feature
    assert "额度使用率" in by_feature["utilisation"].text_zh
    assert by_feature["utilisation"].text_en.startswith("Credit utilisation lowered the score")
    if "income" in by_feature:  # missing income is risky in this data: the text says it is missing
        assert "缺失" in by_feature["income"].text_zh and "missing" in by_feature["income"].text_en
    if "age" in by_feature:  # no label given: the column name in both languages
        assert "「age」" in by_feature["age"].text_zh and by_feature["age"].text_en.startswith("age ")


def test_the_safest_applicant_loses_fewer_points_than_the_riskiest(scorecard: Trained) -> None:
    rows = rows_of(typed_frame(credit_frame(300, seed=5), scorecard.result.data.features))
    predictions = scorecard.model.predict_many(rows)
    best, worst = max(predictions, key=lambda p: p.score), min(predictions, key=lambda p: p.score)
    assert sum(r.impact for r in best.reasons) < sum(r.impact for r in worst.reasons)


def test_a_row_without_a_model_feature_is_refused_by_name(scorecard: Trained) -> None:
    model = scorecard.model
    with pytest.raises(ModelInputError, match="utilisation"):
        model.predict({"income": 1.0, "age": 30.0, "region": "north", "channel": "branch"})
    with pytest.raises(ModelInputError, match="age"):
        model.predict({"income": 1.0, "utilisation": 0.2, "age": "thirty", "region": "north", "channel": "branch"})


def test_text_values_read_like_the_training_csv(scorecard: Trained) -> None:
    model = scorecard.model
    typed = {"income": 4000.0, "utilisation": 0.3, "age": 41.0, "region": None, "channel": "online"}
    as_text = {"income": "4000", "utilisation": " 0.3 ", "age": "41", "region": "NA", "channel": "online"}
    assert model.predict(typed) == model.predict(as_text)


def test_load_refuses_what_is_not_a_model(tmp_path: Path, scorecard: Trained) -> None:
    with pytest.raises(ModelArtefactError):
        load_model(tmp_path)  # no model.json
    (tmp_path / MODEL_FILE).write_text("{not json")
    with pytest.raises(ModelArtefactError):
        load_model(tmp_path)
    good = write_artefact(scorecard.result, tmp_path / "model").directory
    doc = json.loads((good / MODEL_FILE).read_text())
    (good / MODEL_FILE).write_text(json.dumps({**doc, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ModelArtefactError, match="format"):
        load_model(good)
    (good / MODEL_FILE).write_text(json.dumps(doc))
    (good / SCORECARD_FILE).unlink()
    with pytest.raises(ModelArtefactError):
        load_model(good)


# ------------------------------------------------------------------------------------------------
# LightGBM's decision rules, on boosters trained directly


def _booster_artefact(
    tmp: Path, params: dict, x: np.ndarray, y: np.ndarray, categories: list[str], rounds: int
) -> tuple[object, CreditModel]:
    import lightgbm as lgb

    names = [f"f{i}" for i in range(x.shape[1] - 1)] + ["cat"]
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 3, **params},
        lgb.Dataset(x, y, categorical_feature=[x.shape[1] - 1]),
        rounds,
    )
    (tmp / BOOSTER_FILE).write_text(booster.model_to_string())
    doc = {
        "format_version": FORMAT_VERSION,
        "model_version": "lightgbm-test",
        "kind": "lightgbm",
        "features": [{"name": n, "type": "numeric"} for n in names[:-1]] + [{"name": "cat", "type": "categorical"}],
        "category_codes": {"cat": categories},
        "calibration": {"method": "platt_logit", "slope": 1.0, "intercept": 0.0},
        "score_scaling": {"base_score": 600, "base_odds": 50, "pdo": 20},
    }
    (tmp / MODEL_FILE).write_text(json.dumps(doc))
    return booster, load_model(tmp)


def _rows(x: np.ndarray, categories: list[str]) -> list[dict[str, float | str | None]]:
    rows = []
    for values in x:
        row: dict[str, float | str | None] = {f"f{i}": float(v) for i, v in enumerate(values[:-1])}
        code = values[-1]
        row["cat"] = None if math.isnan(code) else (categories[int(code)] if 0 <= code < len(categories) else "unseen")
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 15, "min_data_in_leaf": 5},  # NaN as missing (default), None where no NaN in training
        {"num_leaves": 15, "min_data_in_leaf": 5, "zero_as_missing": True},  # zero and NaN as missing
        {"num_leaves": 7, "min_data_in_leaf": 5, "max_cat_to_onehot": 64},  # one-vs-rest category splits
    ],
)
def test_tree_walk_matches_lightgbm_on_missing_values_and_category_bitsets(params: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n, categories = 1500, [f"c{i}" for i in range(40)]  # 40 categories: a bitset over two 32-bit words
    x = rng.normal(size=(n, 4))
    x[rng.random(n) < 0.2, 0] = 0.0
    x[rng.random(n) < 0.2, 1] = np.nan  # NaN only in f1: f0 and f2 split with missing type None
    cat = rng.integers(0, len(categories), n).astype(float)
    x[:, 3] = cat
    z = x[:, 0] - np.nan_to_num(x[:, 1], nan=1.5) + 0.5 * x[:, 2] + np.where(cat % 3 == 0, 1.0, -0.5)
    y = (rng.random(n) < expit(z)).astype(int)
    booster, model = _booster_artefact(tmp_path, params, x, y, categories, rounds=60)
    probe = rng.normal(size=(300, 4))
    probe[::3, 0] = 0.0
    probe[::4, 0] = np.nan
    probe[::5, 1] = np.nan
    probe[::2, 2] = np.nan
    probe[:, 3] = rng.integers(-1, len(categories) + 5, 300)  # -1: missing; >= 40: never seen
    probe[::7, 3] = np.nan
    encoded = probe.copy()
    encoded[:, 3] = np.where(np.isnan(probe[:, 3]) | (probe[:, 3] >= len(categories)), -1.0, probe[:, 3])
    expected = expit(booster.predict(encoded, raw_score=True))  # type: ignore[attr-defined]
    for data in (x, probe):
        rows = _rows(data, categories)
        got = np.asarray([p.pd for p in model.predict_many(rows)])
        want = expected if data is probe else expit(booster.predict(data, raw_score=True))  # type: ignore[attr-defined]
        assert np.max(np.abs(got - want)) <= 1e-9


def test_saabas_contributions_explain_the_raw_score(tmp_path: Path) -> None:
    """Per-feature path contributions plus each tree's root value add up to the raw score, so the
    reason points of a LightGBM model account for the whole distance from the average applicant."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(800, 3))
    x[:, 2] = rng.integers(0, 5, 800)
    y = (rng.random(800) < expit(2 * x[:, 0] - x[:, 1])).astype(int)
    _, model = _booster_artefact(tmp_path, {"num_leaves": 7}, x, y, [f"c{i}" for i in range(5)], rounds=30)
    engine = model._engine
    roots = sum(tree.root for tree in engine._trees)  # type: ignore[attr-defined]
    for row in _rows(x[:50], [f"c{i}" for i in range(5)]):
        raw, raised = engine.evaluate(model._parse(row))
        assert raw == pytest.approx(roots + sum(raised), abs=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 15, "min_data_in_leaf": 5},
        {"num_leaves": 15, "min_data_in_leaf": 5, "zero_as_missing": True},
        {"num_leaves": 7, "min_data_in_leaf": 5, "max_cat_to_onehot": 64},
        {"num_leaves": 63, "min_data_in_leaf": 2, "max_depth": -1},  # deep, lopsided trees
    ],
)
def test_compiled_trees_give_the_walks_raw_score_and_contributions_to_the_bit(params: dict, tmp_path: Path) -> None:
    """The generated scorer and the node-by-node walk agree exactly (not approximately) on the raw
    score and every feature's contribution, NaN, zeros, unseen and missing categories included."""
    rng = np.random.default_rng(11)
    n, categories = 1200, [f"c{i}" for i in range(40)]
    x = rng.normal(size=(n, 4))
    x[rng.random(n) < 0.2, 0] = 0.0
    x[rng.random(n) < 0.2, 1] = np.nan
    x[:, 3] = rng.integers(0, len(categories), n)
    y = (rng.random(n) < expit(x[:, 0] - np.nan_to_num(x[:, 1]) + (x[:, 3] % 3 == 0))).astype(int)
    _, model = _booster_artefact(tmp_path, params, x, y, categories, rounds=40)
    engine = model._engine
    assert engine._compiled != engine.walk  # type: ignore[attr-defined]  # these trees do compile
    probe = rng.normal(size=(400, 4))
    probe[::3, 0] = 0.0
    probe[::4, 0] = np.nan
    probe[::5, 1] = np.nan
    probe[:, 3] = rng.integers(-1, len(categories) + 5, 400)
    probe[::7, 3] = np.nan
    for row in _rows(np.vstack([x[:200], probe]), categories):
        encoded = engine._encode(model._parse(row))  # type: ignore[attr-defined]
        assert engine._compiled(encoded) == engine.walk(encoded)  # type: ignore[attr-defined]
