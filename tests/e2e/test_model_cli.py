"""`puhui model train | score | report` as a risk manager uses them, and what bad input gives.

One model is trained through the CLI on a small synthetic credit table with a "good"/"bad" target,
missing values, an id column and labels; then it scores new applicants and reports on them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from puhui.cli import app
from puhui.risk.model import BOOSTER_FILE, MODEL_FILE, SCORECARD_FILE, load_model
from tests.unit.test_model_runtime import LABELS, credit_frame

runner = CliRunner()


@dataclass(frozen=True)
class Trained:
    train_csv: Path
    model_dir: Path
    output: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    tmp = tmp_path_factory.mktemp("model-cli")
    train_csv, labels = tmp / "applicants.csv", tmp / "labels.json"
    credit_frame(500, seed=21).to_csv(train_csv, index=False)
    labels.write_text(json.dumps(LABELS, ensure_ascii=False), encoding="utf-8")
    args = ["model", "train", "--data", str(train_csv), "--target", "status", "--bad", "bad", "--out", str(tmp / "m")]
    result = runner.invoke(app, [*args, "--labels", str(labels), "--exclude", "applicant_id", "--folds", "3"])
    assert result.exit_code == 0, result.output
    return Trained(train_csv, tmp / "m", result.output)


def test_train_saves_a_versioned_artefact_with_its_evidence(trained: Trained) -> None:
    meta = json.loads((trained.model_dir / MODEL_FILE).read_text(encoding="utf-8"))
    digest = hashlib.sha256(trained.train_csv.read_bytes()).hexdigest()
    assert re.fullmatch(rf"(scorecard|lightgbm)-{digest[:12]}-\d{{8}}T\d{{6}}Z", meta["model_version"])
    assert meta["kind"] in ("scorecard", "lightgbm") and meta["model_version"].startswith(meta["kind"])
    assert meta["training_data"]["sha256"] == digest and meta["training_data"]["rows"] == 500
    assert 0 < meta["training_data"]["bad_rate"] < 1
    assert (meta["target"], meta["bad_value"], meta["good_value"]) == ("status", "bad", "good")
    assert [(f["name"], f["type"]) for f in meta["features"]] == [
        ("income", "numeric"),
        ("utilisation", "numeric"),
        ("age", "numeric"),
        ("region", "categorical"),
        ("channel", "categorical"),
    ]
    candidates = meta["cv"]["candidates"]
    assert set(candidates) == {"scorecard", "lightgbm"}
    assert all(
        len(c["fold_auc"]) == 3 and c["mean_auc"] == pytest.approx(np.mean(c["fold_auc"])) for c in candidates.values()
    )
    lead = candidates["lightgbm"]["mean_auc"] - candidates["scorecard"]["mean_auc"]
    assert meta["kind"] == ("lightgbm" if lead > 0.002 else "scorecard")
    assert meta["calibration"]["method"] == "platt_logit" and meta["calibration"]["slope"] > 0
    assert meta["score_scaling"]["base_score"] == 600 and meta["score_scaling"]["pdo"] == 20
    assert sum(meta["score_distribution"]["shares"]) == pytest.approx(1.0)
    assert meta["labels"]["utilisation"] == LABELS["utilisation"]
    model_file = SCORECARD_FILE if meta["kind"] == "scorecard" else BOOSTER_FILE
    assert (trained.model_dir / model_file).is_file()
    assert not list(trained.model_dir.glob(".staging-*"))
    assert "chosen" in trained.output and meta["model_version"] in trained.output


def test_score_writes_one_row_per_input_row_in_order(trained: Trained, tmp_path: Path) -> None:
    applicants = credit_frame(120, seed=33).drop(columns=["status"]).sample(frac=1.0, random_state=1)
    applicants["branch_note"] = "not a model column"  # extra columns are ignored
    applicants.loc[applicants.index[:5], "region"] = "never-seen-region"
    data, scores = tmp_path / "new.csv", tmp_path / "scores.csv"
    applicants.to_csv(data, index=False)
    result = runner.invoke(
        app, ["model", "score", "--model", str(trained.model_dir), "--data", str(data), "--out", str(scores)]
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(scores, keep_default_na=False)
    assert len(out) == len(applicants)
    assert {"pd", "score", "reasons"} <= set(out.columns)
    model = load_model(trained.model_dir)
    expected = [model.predict(row) for row in pd.read_csv(data).to_dict("records")]
    assert out["pd"].tolist() == pytest.approx([p.pd for p in expected], abs=1e-12)
    assert out["score"].tolist() == [p.score for p in expected]
    assert out["reasons"].tolist() == [";".join(r.code for r in p.reasons) for p in expected]
    ordered = out.sort_values("pd")
    assert ordered["score"].is_monotonic_decreasing  # a higher PD never gets a higher score


def test_report_is_one_self_contained_html_file(trained: Trained, tmp_path: Path) -> None:
    html_file = tmp_path / "report.html"
    args = ["model", "report", "--model", str(trained.model_dir), "--data", str(trained.train_csv)]
    result = runner.invoke(app, [*args, "--target", "status", "--out", str(html_file)])
    assert result.exit_code == 0, result.output
    page = html_file.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4  # ROC, KS, calibration, score distribution
    for needle in ("AUC", "Gini", "KS", "ROC", "Calibration", "PSI", "stable", "decile"):
        assert needle in page
    # nothing is fetched: no script, stylesheet, image or font; SVG references stay inside the page (#id)
    external = r"<script|<link|<img|src\s*=|@import|url\((?!#)|href\s*=\s*\"(?!#)"
    assert not re.search(external, page, re.IGNORECASE)
    assert "PSI 0.000 (stable)" in result.output  # the training sample against itself


def test_report_flags_a_shifted_population(trained: Trained, tmp_path: Path) -> None:
    applicants = credit_frame(400, seed=44)
    stretched = applicants[applicants["utilisation"] > 0.9]  # only heavy users of their lines
    data, html_file = tmp_path / "shifted.csv", tmp_path / "shifted.html"
    stretched.to_csv(data, index=False)
    args = ["model", "report", "--model", str(trained.model_dir), "--data", str(data), "--target", "status"]
    result = runner.invoke(app, [*args, "--out", str(html_file)])
    assert result.exit_code == 0, result.output
    assert "shifted" in result.output and "shifted" in html_file.read_text(encoding="utf-8")


def test_a_scorecard_report_shows_its_points_table(tmp_path: Path) -> None:
    data, model_dir, html_file = tmp_path / "a.csv", tmp_path / "scorecard", tmp_path / "scorecard.html"
    credit_frame(300, seed=8).to_csv(data, index=False)
    train = ["model", "train", "--data", str(data), "--target", "status", "--bad", "bad", "--out", str(model_dir)]
    result = runner.invoke(app, [*train, "--kind", "scorecard", "--folds", "3", "--exclude", "applicant_id"])
    assert result.exit_code == 0, result.output
    assert (model_dir / SCORECARD_FILE).is_file() and not (model_dir / BOOSTER_FILE).exists()
    report = ["model", "report", "--model", str(model_dir), "--data", str(data), "--target", "status"]
    result = runner.invoke(app, [*report, "--out", str(html_file)])
    assert result.exit_code == 0, result.output
    page = html_file.read_text(encoding="utf-8")
    assert "Scorecard" in page and "Base points" in page and "WOE" in page
    for feature in ("utilisation", "income", "region"):
        assert f"<h3>{feature}" in page


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    frame = credit_frame(300, seed=5)
    paths = {name: tmp_path / f"{name}.csv" for name in ("ok", "numeric_target", "three", "tiny", "no_model_column")}
    frame.to_csv(paths["ok"], index=False)
    frame.assign(status=np.where(frame["status"] == "bad", 1, 0)).to_csv(paths["numeric_target"], index=False)
    frame.assign(status=np.resize(["good", "bad", "unknown"], len(frame))).to_csv(paths["three"], index=False)
    frame.head(40).to_csv(paths["tiny"], index=False)
    frame.drop(columns=["utilisation"]).to_csv(paths["no_model_column"], index=False)
    paths["junk"] = tmp_path / "junk.csv"
    paths["junk"].write_bytes(b"\xff\xfe\x00\x01garbage\x00\n\x80\x81")
    paths["empty"] = tmp_path / "empty.csv"
    paths["empty"].write_text("")
    paths["bad_labels"] = tmp_path / "labels.json"
    paths["bad_labels"].write_text('{"income": "monthly income"}')
    paths["not_a_model"] = tmp_path / "not-a-model"
    paths["not_a_model"].mkdir()
    return paths


TRAIN = ["model", "train", "--target", "status", "--out"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (["--data", "{missing}", "--bad", "bad"], "no such file"),
        (["--data", "{ok}", "--bad", "bad", "--target", "outcome"], "no column 'outcome'"),
        (["--data", "{ok}"], "--bad"),  # good/bad text without --bad
        (["--data", "{ok}", "--bad", "terrible"], "not a value"),
        (["--data", "{three}", "--bad", "bad"], "exactly two values"),
        (["--data", "{numeric_target}", "--bad", "2"], "not a value"),
        (["--data", "{tiny}", "--bad", "bad"], "too few rows"),
        (["--data", "{junk}", "--bad", "bad"], "cannot read"),
        (["--data", "{empty}", "--bad", "bad"], "empty"),
        (["--data", "{ok}", "--bad", "bad", "--exclude", "nope"], "nope"),
        (["--data", "{ok}", "--bad", "bad", "--labels", "{bad_labels}"], "label of 'income'"),
    ],
)
def test_bad_training_input_exits_2_with_a_message(
    case: list[str], message: str, files: dict[str, Path], tmp_path: Path
) -> None:
    args = [a.format(**{k: str(v) for k, v in files.items()}, missing=str(tmp_path / "absent.csv")) for a in case]
    result = runner.invoke(app, [*TRAIN, str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert message in result.output
    assert not (tmp_path / "out" / MODEL_FILE).exists()


def test_scoring_refuses_missing_model_columns_and_non_models(
    trained: Trained, files: dict[str, Path], tmp_path: Path
) -> None:
    out = str(tmp_path / "scores.csv")
    result = runner.invoke(
        app,
        ["model", "score", "--model", str(trained.model_dir), "--data", str(files["no_model_column"]), "--out", out],
    )
    assert result.exit_code == 2 and "utilisation" in result.output
    result = runner.invoke(
        app, ["model", "score", "--model", str(files["not_a_model"]), "--data", str(files["ok"]), "--out", out]
    )
    assert result.exit_code == 2 and "model.json" in result.output
    text_age = pd.read_csv(files["ok"]).astype({"age": object})
    text_age.loc[3, "age"] = "forty"
    text_age.to_csv(tmp_path / "text_age.csv", index=False)
    result = runner.invoke(
        app,
        ["model", "score", "--model", str(trained.model_dir), "--data", str(tmp_path / "text_age.csv"), "--out", out],
    )
    assert result.exit_code == 2 and "'age'" in result.output and "forty" in result.output
    for r in (result,):
        assert isinstance(r.exception, SystemExit)


def test_report_refuses_an_unknown_target(trained: Trained, files: dict[str, Path], tmp_path: Path) -> None:
    args = ["model", "report", "--model", str(trained.model_dir), "--data", str(files["ok"]), "--target", "outcome"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "outcome" in result.output
    assert not (tmp_path / "r.html").exists()


def test_help_stays_light() -> None:
    """`puhui --help` must not pay for the modelling libraries."""
    heavy = "('optbinning', 'lightgbm', 'sklearn', 'matplotlib')"
    code = f"import sys, puhui.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
