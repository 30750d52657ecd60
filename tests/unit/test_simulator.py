"""The simulator as a risk manager relies on it: reproducible, in the ingestion schema, nothing after as_of,
seasons, shared trading partners and fraud rings that a model can see, a realistic default rate, and a label
that alternative data predicts clearly better than the application alone, without any one column giving it
away."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.risk.data.schemas import Source, columns, validate_rows
from puhui.risk.data.simulator import (
    APPLICATION_FIELDS,
    TARGET,
    Simulation,
    SimulationConfig,
    TrainingTables,
    simulate,
    training_tables,
)
from puhui.risk.features import FEATURE_NAMES

pytestmark = pytest.mark.xdist_group("simulator")  # one worker builds the module's simulations once


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(SimulationConfig(borrowers=400, seed=11))


@pytest.fixture(scope="module")
def book() -> tuple[Simulation, TrainingTables]:
    """Enough borrowers for a model: a few thousand, as the brief of the lift test asks."""
    big = simulate(SimulationConfig(borrowers=3000, seed=7))
    return big, training_tables(big)


def _read_back(frame: pl.DataFrame) -> pl.DataFrame:
    """A table as `puhui model train` sees it: through a CSV file, numbers parsed, strings left as text."""
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return pl.read_csv(buffer.getvalue())


# ---- reproducible and in the contract -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    first, again = (simulate(SimulationConfig(borrowers=150, seed=5)) for _ in range(2))
    other = simulate(SimulationConfig(borrowers=150, seed=6))
    assert_frame_equal(first.applications, again.applications)
    assert_frame_equal(first.labels, again.labels)
    for source in Source:
        assert_frame_equal(first.data.frame(source), again.data.frame(source))
    assert not first.data.transactions.equals(other.data.transactions)


def test_every_source_has_the_schema_columns_and_passes_ingestion_validation(sim: Simulation) -> None:
    for source in Source:
        f = sim.data.frame(source)
        assert f is not None and f.height > 0, source
        assert f.columns == ["borrower_id", *columns(source)]
        sample = f.sample(min(f.height, 500), seed=1).drop("borrower_id")
        rows = [
            {k: v if v is None or isinstance(v, bool) else str(v) for k, v in r.items()}
            for r in sample.iter_rows(named=True)
        ]
        result = validate_rows(source, rows)
        assert result.rejected == [], (source, result.rejected[:3])


def test_nothing_is_dated_after_as_of_or_before_the_history() -> None:
    as_of = date(2025, 6, 15)
    short = simulate(SimulationConfig(borrowers=120, seed=3, months=6, as_of=as_of))
    first = date(2024, 12, 16)
    for source in Source:
        f = short.data.frame(source)
        assert f is not None
        for column, dtype in f.schema.items():
            if dtype == pl.Date():
                dates = f[column].drop_nulls()
                assert dates.max() <= as_of, (source, column)
                if source not in (Source.RELATIONS,):  # a relation may be older than the history
                    assert dates.min() >= first, (source, column)
    features = training_tables(short).full
    assert features["inflow_yoy_change_3m"].null_count() == features.height  # six months: no year-earlier quarter


def test_borrowers_have_the_application_and_bureau_fields(sim: Simulation) -> None:
    app = sim.applications
    assert app.columns == ["borrower_id", *APPLICATION_FIELDS]
    assert set(app["kind"]) == {k.value for k in BorrowerKind}
    assert set(app["industry"]) <= {s.value for s in Sector}
    for column in ("declared_annual_revenue", "requested_amount"):
        assert all(re.fullmatch(r"\d+\.\d{2}", v) for v in app[column]), column
    individuals = app.filter(pl.col("kind") == BorrowerKind.INDIVIDUAL.value)
    assert individuals["staff_count"].null_count() == individuals.height
    assert individuals["years_in_business"].null_count() == individuals.height
    assert app["age"].min() >= 18 and app["age"].max() <= 70


# ---- the story in the data ----------------------------------------------------------------------------------------


def _monthly_inflow(sim: Simulation, industry: str) -> dict[tuple[int, int], float]:
    businesses = sim.applications.filter((pl.col("industry") == industry) & (pl.col("kind") != "individual"))
    tx = sim.data.transactions
    assert tx is not None
    inflows = tx.filter(
        (pl.col("direction") == "in") & pl.col("borrower_id").is_in(businesses["borrower_id"].implode())
    )
    by_month = inflows.group_by(pl.col("occurred_on").dt.year().alias("y"), pl.col("occurred_on").dt.month().alias("m"))
    totals = by_month.agg(pl.col("amount").cast(pl.Float64).sum())
    return {(y, m): a for y, m, a in totals.iter_rows()}


def test_inflows_follow_the_seasons_of_their_trade(book: tuple[Simulation, TrainingTables]) -> None:
    big, _ = book
    retail, farming, building = (_monthly_inflow(big, s) for s in ("retail", "agriculture", "construction"))
    assert retail[(2025, 11)] > 1.15 * retail[(2025, 8)]  # Double 11
    assert farming[(2025, 10)] > 1.8 * farming[(2025, 3)]  # autumn harvest
    assert building[(2026, 2)] < 0.7 * building[(2026, 4)]  # sites close over the Spring Festival (17 Feb 2026)


def test_balance_after_is_the_running_balance(sim: Simulation) -> None:
    tx = sim.data.transactions
    assert tx is not None
    cents = tx.filter(pl.col("balance_after").is_not_null()).with_columns(
        (pl.col("amount").cast(pl.Float64) * 100).round().cast(pl.Int64).alias("a"),
        (pl.col("balance_after").cast(pl.Float64) * 100).round().cast(pl.Int64).alias("b"),
    )
    steps = cents.with_columns(
        (pl.col("b") - pl.col("b").shift(1).over("borrower_id")).alias("step"),
        pl.when(pl.col("direction") == "in").then(pl.col("a")).otherwise(-pl.col("a")).alias("signed"),
    ).drop_nulls("step")
    assert (steps["step"] == steps["signed"]).all()


def test_paid_installments_show_as_payments_to_the_lender(sim: Simulation) -> None:
    tx, repayments = sim.data.transactions, sim.data.repayments
    assert tx is not None and repayments is not None
    sharing = tx["borrower_id"].unique().implode()
    paid = repayments.filter(pl.col("paid_on").is_not_null() & pl.col("borrower_id").is_in(sharing))
    to_lenders = tx.filter(pl.col("counterparty_id").is_in(repayments["lender"].unique().implode()))
    assert to_lenders.height == paid.height > 0
    assert set(to_lenders["direction"]) == {"out"}


def test_trading_partners_are_shared_and_some_are_applicants(sim: Simulation) -> None:
    tx = sim.data.transactions
    assert tx is not None
    named = tx.filter(pl.col("counterparty_id").is_not_null())
    reach = named.group_by("counterparty_id").agg(pl.col("borrower_id").n_unique().alias("n"))
    assert reach["n"].max() >= 5
    assert named["counterparty_id"].is_in(sim.applications["borrower_id"].implode()).any()


def test_fraud_rings_share_devices_apply_together_and_default(book: tuple[Simulation, TrainingTables]) -> None:
    big, tables = book
    shared = tables.full.filter(pl.col("device_shared_borrowers") >= 2)
    overall = float(tables.full[TARGET].mean())
    assert shared.height >= 20
    assert float(shared[TARGET].mean()) > 3 * overall
    devices = big.data.devices
    assert devices is not None
    ring_devices = devices.filter(pl.col("borrower_id").is_in(shared["borrower_id"].implode()))
    spread = ring_devices.group_by("device_id").agg(
        (pl.col("observed_on").max() - pl.col("observed_on").min()).alias("d")
    )
    assert spread["d"].median() <= timedelta(days=10)


def test_some_revenues_collapse_and_the_default_rate_is_realistic(book: tuple[Simulation, TrainingTables]) -> None:
    _, tables = book
    yoy = tables.full["inflow_yoy_change_3m"].drop_nulls()
    assert 0.02 < float((yoy < -0.4).mean()) < 0.3
    assert 0.05 <= float(tables.full[TARGET].mean()) <= 0.12


# ---- what a model can learn -------------------------------------------------------------------------------------


def test_the_training_table_has_every_feature_and_a_label_for_every_column(
    book: tuple[Simulation, TrainingTables],
) -> None:
    _, tables = book
    assert tables.full.columns == ["borrower_id", *APPLICATION_FIELDS, *FEATURE_NAMES, TARGET]
    assert tables.application_only.columns == ["borrower_id", *APPLICATION_FIELDS, TARGET]
    assert set(tables.full[TARGET].unique()) == {0, 1}
    labels = tables.labels
    assert list(labels) == [*APPLICATION_FIELDS, *FEATURE_NAMES]
    assert all(v["zh"] and v["en"] for v in labels.values())


def _matrix(table: pl.DataFrame) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[int]]:
    x = _read_back(table).drop("borrower_id", TARGET)
    text = [i for i, (_, dtype) in enumerate(x.schema.items()) if dtype == pl.String()]
    codes = x.with_columns((pl.col(pl.String).rank("dense") - 1).cast(pl.Float64)).cast(pl.Float64)
    return codes.to_numpy(), table[TARGET].to_numpy(), text


def _held_out_auc(table: pl.DataFrame, train: np.ndarray[Any, Any], test: np.ndarray[Any, Any]) -> float:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    x, y, categorical = _matrix(table)
    model = lgb.LGBMClassifier(
        n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=30, subsample=0.8, subsample_freq=1,
        colsample_bytree=0.8, n_jobs=1, random_state=0, deterministic=True, verbose=-1,
    )  # fmt: skip
    model.fit(x[train], y[train], categorical_feature=categorical or "auto")
    return float(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))


def test_alternative_data_predicts_clearly_better_than_the_application_alone(
    book: tuple[Simulation, TrainingTables],
) -> None:
    _, tables = book
    order = np.random.default_rng(0).permutation(tables.full.height)
    train, test = order[: int(0.7 * len(order))], order[int(0.7 * len(order)) :]
    application_only = _held_out_auc(tables.application_only, train, test)
    full = _held_out_auc(tables.full, train, test)
    assert application_only > 0.6  # the application is informative...
    assert full < 0.97  # ...and nothing makes the label trivial
    assert full - application_only >= 0.05


def test_no_single_column_gives_the_label_away(book: tuple[Simulation, TrainingTables]) -> None:
    from sklearn.metrics import roc_auc_score

    _, tables = book
    table = _read_back(tables.full)
    y = table[TARGET].to_numpy()
    for column, dtype in table.schema.items():
        if column in ("borrower_id", TARGET) or not dtype.is_numeric():
            continue
        values = table[column].cast(pl.Float64).to_numpy()
        seen = ~np.isnan(values)
        if seen.sum() < 100 or len(set(y[seen])) < 2:
            continue
        auc = float(roc_auc_score(y[seen], values[seen]))
        assert max(auc, 1 - auc) < 0.9, column


def test_a_bad_configuration_is_refused() -> None:
    for bad in ({"borrowers": 0}, {"borrowers": 10, "months": 0}, {"borrowers": 10, "seed": -1}):
        with pytest.raises(ValueError):
            SimulationConfig(**bad)


def test_amounts_are_exact_fen(sim: Simulation) -> None:
    tx = sim.data.transactions
    assert tx is not None and tx.schema["amount"] == pl.Decimal(14, 2)
    sample = tx["amount"].head(1000).to_list()
    assert all(isinstance(a, Decimal) and a > 0 and a == a.quantize(Decimal("0.01")) for a in sample)
