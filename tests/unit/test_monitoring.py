"""PSI and AUC of live models against independent computations (scikit-learn, a direct formula)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from puhui.risk.monitoring import Stability, auc, auc_drifted, psi, score_psi, shares


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(300, 900)), min_size=2, max_size=300).filter(
        lambda rows: len({y for y, _ in rows}) == 2
    )
)
def test_auc_equals_scikit_learn_with_ties(rows: list[tuple[int, int]]) -> None:
    labels = [y for y, _ in rows]
    risk = [float(-s) for _, s in rows]  # a lower score is riskier
    assert math.isclose(auc(labels, risk) or 0, roc_auc_score(labels, risk), rel_tol=1e-12)


def test_auc_needs_both_classes() -> None:
    assert auc([0, 0], [0.1, 0.2]) is None and auc([1], [0.3]) is None


def test_psi_of_the_same_distribution_is_zero_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(7)
    train = rng.normal(600, 50, 20_000)
    edges = list(np.quantile(train, np.linspace(0.1, 0.9, 9)))
    expected = shares(list(train), edges)
    assert all(math.isclose(e, 0.1, abs_tol=0.002) for e in expected)
    same = score_psi(expected, edges, list(rng.normal(600, 50, 5_000)))
    moved = score_psi(expected, edges, list(rng.normal(640, 50, 5_000)))
    assert same.psi < 0.02 and same.stability is Stability.STABLE
    assert moved.psi > 0.25 and moved.stability is Stability.SHIFTED
    direct = sum((a - e) * math.log(a / e) for e, a in zip(expected, moved.actual_shares, strict=True))
    assert math.isclose(moved.psi, direct, rel_tol=1e-9)


def test_empty_bins_do_not_make_the_psi_infinite() -> None:
    assert math.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))


def test_auc_drift_is_a_drop_of_more_than_five_points() -> None:
    assert auc_drifted(0.80, 0.74) and not auc_drifted(0.80, 0.76) and not auc_drifted(0.80, None)
