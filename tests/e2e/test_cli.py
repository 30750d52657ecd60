"""The command line as an operator uses it: seeding, product loading, the trial balance, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from puhui.adapters.db.database import Database
from puhui.bootstrap import Container
from puhui.cli import app
from puhui.clock import SystemClock
from puhui.config import load_settings
from puhui.services.demo_history import has_history

runner = CliRunner()


def test_demo_seeds_products_and_is_idempotent(db: Database) -> None:
    first = runner.invoke(app, ["demo", "--db", db.url, "--borrowers", "0"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["demo", "--db", db.url, "--borrowers", "0"])
    assert second.exit_code == 0
    listed = runner.invoke(app, ["products", "list", "--db", db.url])
    for code in ("PH-EI", "PH-EP", "PH-IO", "PH-FLAT", "PH-REV", "PH-AGRI"):
        assert code in listed.output
    tb = runner.invoke(app, ["ledger", "trial-balance", "--db", db.url, "--json"])
    body = json.loads(tb.output)
    assert body["balanced"] is True
    assert {a["code"] for a in body["accounts"]} >= {"1001", "1201", "6011"}
    cash = next(a for a in body["accounts"] if a["code"] == "1001")
    assert cash["balance"] == "100000000.00"  # the demo capital, posted once however often demo runs


def test_an_invalid_product_file_is_refused_naming_the_field(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'code = "BAD"\nname = "x"\nborrower_kinds = ["individual"]\npurpose = "consumption"\n'
        'lender_type = "small_loan_company"\namount_min = "1000"\namount_max = "500"\n'
        'term_options_months = [12]\nrepayment_method = "equal_installment"\n'
        'rate_annual_min = "0.10"\nrate_annual_max = "0.30"\nday_count = "ACT/360"\n'
    )
    result = runner.invoke(app, ["products", "load", str(bad), "--db", db.url])
    assert result.exit_code == 2
    assert "amount_max" in result.output
    over_cap = tmp_path / "over.toml"
    over_cap.write_text(bad.read_text().replace('amount_max = "500"', 'amount_max = "5000"'))
    result = runner.invoke(app, ["products", "load", str(over_cap), "--db", db.url])
    assert result.exit_code == 2
    assert "R-1.4" in result.output and "rate_annual_max" in result.output
    assert "BAD" not in runner.invoke(app, ["products", "list", "--db", db.url]).output


def test_bad_arguments_exit_2_with_a_message() -> None:
    cases = [
        ["schedule", "--principal", "abc", "--annual-rate", "0.12", "--term", "12"],
        ["schedule", "--principal", "1000", "--annual-rate", "12", "--term", "12"],
        ["schedule", "--principal", "1000", "--annual-rate", "0.12", "--term", "0"],
        ["schedule", "--principal", "1000", "--annual-rate", "0.12", "--term", "12", "--start", "2026-13-01"],
        ["schedule", "--principal", "1000", "--annual-rate", "0.12", "--term", "12", "--upfront-fee", "1000"],
        ["schedule", "--principal", "1000", "--annual-rate", "0.12", "--term", "12", "--method", "revolving_daily"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip(), args


def test_demo_history_outside_demo_mode_is_refused_and_writes_no_history(db: Database) -> None:
    args = ["demo", "--db", db.url, "--borrowers", "5", "--days", "3"]
    refused = runner.invoke(app, args, env={"PUHUI_ENV": "development"})
    assert refused.exit_code == 2
    assert "PUHUI_ENV=demo" in refused.output
    container = Container(load_settings(database_url=db.url, env="development"), db, SystemClock())
    assert not has_history(container)


def test_a_bad_setting_is_a_message_not_a_traceback(db: Database) -> None:
    result = runner.invoke(app, ["demo", "--db", db.url, "--borrowers", "0"], env={"PUHUI_ENV": "staging"})
    assert result.exit_code == 2
    assert "PUHUI_ENV" in result.output and "Traceback" not in result.output
