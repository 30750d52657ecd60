"""Payment allocation, drift-free accrual, classification, staging and provisions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.accrual import (
    CURE_OBSERVATION_MONTHS,
    CURE_OBSERVATION_PERIODS,
    CURE_REASON,
    RiskClass,
    Stage,
    class_floor,
    classify,
    cure_observed_from,
    cure_upgrade,
    interest_to_post,
    penalty_rate,
    required_provision,
    stage_for,
)
from puhui.domain.allocation import AllocationError, Dues, allocate
from puhui.domain.enums import AllocationTarget, DayCount

D = Decimal


def test_default_order_is_penalty_fees_interest_principal() -> None:
    split = allocate(D("100.00"), Dues(penalty=D("10.00"), fees=D("5.00"), interest=D("50.00"), principal=D("500")))
    assert (split.penalty, split.fees, split.interest, split.principal, split.excess) == (
        D("10.00"),
        D("5.00"),
        D("50.00"),
        D("35.00"),
        D("0.00"),
    )


def test_product_order_and_overpayment() -> None:
    order = [AllocationTarget.PRINCIPAL, AllocationTarget.INTEREST, AllocationTarget.FEES, AllocationTarget.PENALTY]
    split = allocate(D("700.00"), Dues(D("10.00"), D("5.00"), D("50.00"), D("600.00")), order)
    assert split.principal == D("600.00") and split.interest == D("50.00") and split.penalty == D("10.00")
    assert split.excess == D("35.00")


def test_bad_allocation_inputs() -> None:
    with pytest.raises(AllocationError):
        allocate(D("0"), Dues())
    with pytest.raises(AllocationError):
        allocate(D("1"), Dues(), [AllocationTarget.PRINCIPAL])


amounts = st.integers(0, 10**9).map(lambda c: Decimal(c) / 100)


@given(st.integers(1, 10**9).map(lambda c: Decimal(c) / 100), amounts, amounts, amounts, amounts)
def test_split_always_adds_up_and_never_exceeds_a_due(pay: D, pen: D, fee: D, inte: D, prin: D) -> None:
    dues = Dues(pen, fee, inte, prin)
    split = allocate(pay, dues)
    assert split.total == pay
    assert split.penalty <= pen and split.fees <= fee and split.interest <= inte and split.principal <= prin
    assert split.excess == max(D(0), pay - dues.total)


@settings(max_examples=200)
@given(st.integers(1, 10**9), st.integers(0, 3600), st.integers(1, 400), st.sampled_from(list(DayCount)))
def test_daily_posting_never_drifts(balance_fen: int, rate_bp: int, days: int, basis: DayCount) -> None:
    balance = Decimal(balance_fen) / 100
    rate = Decimal(rate_bp) / 10000
    posted = D("0.00")
    for day in range(1, days + 1):
        posted += interest_to_post(balance, rate, basis, day, posted)
    exact = Fraction(balance_fen, 100) * Fraction(rate_bp, 10000) * days / int(basis.basis_days)
    assert posted == Decimal(exact.numerator / Decimal(exact.denominator)).quantize(D("0.01"), ROUND_HALF_UP)


def test_penalty_rate_is_contract_rate_plus_half() -> None:
    assert penalty_rate(D("0.12"), D("0.5")) == D("0.180")


@pytest.mark.parametrize(
    ("dpd", "floor"),
    [
        (0, RiskClass.NORMAL),
        (1, RiskClass.SPECIAL_MENTION),
        (90, RiskClass.SPECIAL_MENTION),
        (91, RiskClass.SUBSTANDARD),
        (270, RiskClass.SUBSTANDARD),
        (271, RiskClass.DOUBTFUL),
        (360, RiskClass.DOUBTFUL),
        (361, RiskClass.LOSS),
    ],
)
def test_five_category_floors(dpd: int, floor: RiskClass) -> None:
    assert class_floor(dpd) is floor


def test_upgrading_a_class_needs_a_reason() -> None:
    assert classify(0, RiskClass.SUBSTANDARD) is RiskClass.SUBSTANDARD
    assert classify(0, RiskClass.SUBSTANDARD, upgrade_reason="cured for 6 months") is RiskClass.NORMAL
    assert classify(100, RiskClass.NORMAL) is RiskClass.SUBSTANDARD
    assert RiskClass.SUBSTANDARD.is_npl and not RiskClass.SPECIAL_MENTION.is_npl


TODAY = date(2026, 11, 21)
CURED_LONG_AGO = cure_observed_from(TODAY)  # brought current exactly the observation period ago


def test_a_cured_loan_kept_current_for_the_observation_period_is_upgraded_with_the_reason() -> None:
    assert date(2026, 11 - CURE_OBSERVATION_MONTHS, 21) == CURED_LONG_AGO
    sm = RiskClass.SPECIAL_MENTION
    assert cure_upgrade(sm, 0, CURED_LONG_AGO, CURE_OBSERVATION_PERIODS, TODAY) == (RiskClass.NORMAL, CURE_REASON)
    # not yet: brought current a day too late, too few installments since, overdue again
    assert cure_upgrade(sm, 0, CURED_LONG_AGO + timedelta(days=1), 9, TODAY) == (sm, None)
    assert cure_upgrade(sm, 0, CURED_LONG_AGO, CURE_OBSERVATION_PERIODS - 1, TODAY) == (sm, None)
    assert cure_upgrade(sm, 3, None, 9, TODAY) == (sm, None)
    # never by the nightly run: a restructured loan, a non-performing one (a credit officer decides)
    assert cure_upgrade(sm, 0, CURED_LONG_AGO, 9, TODAY, restructured=True) == (sm, None)
    npl = RiskClass.SUBSTANDARD
    assert cure_upgrade(npl, 0, CURED_LONG_AGO, 9, TODAY) == (npl, None)
    assert cure_upgrade(RiskClass.NORMAL, 0, None, 0, TODAY) == (RiskClass.NORMAL, None)


def test_ifrs9_stages() -> None:
    assert stage_for(30) is Stage.STAGE_1
    assert stage_for(31) is Stage.STAGE_2
    assert stage_for(31, rebuttal="payment holiday agreed") is Stage.STAGE_1
    assert stage_for(91) is Stage.STAGE_3
    assert stage_for(91, rebuttal="x") is Stage.STAGE_3


def test_provisions_default_table() -> None:
    assert required_provision(D("10000.00"), RiskClass.NORMAL) == D("100.00")
    assert required_provision(D("10000.00"), RiskClass.SUBSTANDARD) == D("2600.00")
    assert required_provision(D("10000.00"), RiskClass.LOSS) == D("10100.00")
