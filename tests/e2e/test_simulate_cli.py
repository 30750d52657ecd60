"""`puhui simulate` as a risk manager runs it: every file written, byte-identical for a seed, CSV as good as
parquet, a training table `puhui model train` can take, and bad input refused with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from puhui.cli import app
from puhui.commands.simulate import FORMATS
from puhui.risk.data.schemas import Source, columns
from puhui.risk.data.simulator import OutputFormat, read_simulation
from puhui.risk.features import FEATURE_NAMES, build_features

runner = CliRunner()
pytestmark = pytest.mark.xdist_group("simulate-cli")

EXPECTED = {
    "borrowers.csv", "defaulted_parties.csv", "labels.csv", "training.csv", "training_application_only.csv",
    "feature_labels.json", "manifest.json",
}  # fmt: skip


def run(out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["simulate", "--borrowers", "120", "--out", str(out), "--seed", "3", *extra])
    assert result.exit_code == 0, result.output
    assert "default rate" in result.output and "puhui model train" in result.output


def test_simulate_writes_every_file_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run(first)
    run(second)
    names = {p.name for p in first.iterdir()}
    assert names == EXPECTED | {f"{s.value}.parquet" for s in Source}
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for source in Source:
        frame = pl.read_parquet(first / f"{source.value}.parquet")
        assert frame.columns == ["borrower_id", *columns(source)]
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["borrowers"] == 120 and manifest["as_of"] == "2026-11-30"


def test_the_training_table_is_ready_for_model_train(tmp_path: Path) -> None:
    run(tmp_path)
    training = pl.read_csv(tmp_path / "training.csv")
    labels = json.loads((tmp_path / "feature_labels.json").read_text(encoding="utf-8"))
    assert set(training["default_12m"].unique()) <= {0, 1} and training.height == 120
    assert list(labels) == [c for c in training.columns if c not in ("borrower_id", "default_12m")]
    assert all(labels[name]["zh"] and labels[name]["en"] for name in FEATURE_NAMES)
    # amounts are numbers to a CSV reader; only the categorical fields are text
    text = {c for c, t in training.schema.items() if t == pl.String()}
    assert text == {"borrower_id", "kind", "region", "industry", "loan_purpose"}
    application_only = pl.read_csv(tmp_path / "training_application_only.csv")
    assert not set(FEATURE_NAMES) & set(application_only.columns)


def test_csv_files_give_the_same_features_as_the_training_table(tmp_path: Path) -> None:
    run(tmp_path, "--format", "csv")
    assert {p.suffix for p in tmp_path.iterdir()} == {".csv", ".json"}
    data, defaulted = read_simulation(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    features = build_features(data, pl.Series([manifest["as_of"]]).str.to_date()[0], defaulted)
    training = pl.read_csv(tmp_path / "training.csv").select("borrower_id", *FEATURE_NAMES)
    written = features.with_columns(pl.col(pl.Float64).round(6))
    assert_frame_equal(written, training, check_dtypes=False, check_exact=False, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--borrowers", "0"], "borrowers"),
        (["--borrowers", "10", "--format", "xml"], "--format"),
        (["--borrowers", "10", "--as-of", "2026-13-01"], "--as-of"),
        (["--borrowers", "10", "--months", "0"], "months"),
        (["--borrowers", "10", "--seed", "-1"], "seed"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert "error:" in result.output and message in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory")
    result = runner.invoke(app, ["simulate", "--borrowers", "10", "--out", str(target)])
    assert result.exit_code == 2 and "not a directory" in result.output


def test_the_command_module_leaves_numpy_and_polars_unloaded_until_it_runs() -> None:
    code = "import sys, puhui.commands.simulate; print('polars' in sys.modules, 'numpy' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == ["False", "False"]
    assert tuple(f.value for f in OutputFormat) == FORMATS
