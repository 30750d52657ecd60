"""APR by the IRR method (R-1.2, rule 1): vectors from rules.md, checked against an independent IRR."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.apr import AprError, apr_of_cash_flows, apr_of_daily_rate, apr_of_schedule, periodic_irr
from puhui.domain.enums import DayCount, RepaymentMethod
from puhui.domain.schedule import LoanTerms, generate

D = Decimal
START = date(2026, 1, 31)


def reference_apr_percent(net: Decimal, payments: Sequence[Decimal], periods_per_year: int = 12) -> Decimal:
    """Independent IRR: plain bisection on the NPV at 50 digits, then x periods x 100, half-up to 0.01."""
    with localcontext() as ctx:
        ctx.prec = 50

        def npv(rate: Decimal) -> Decimal:
            total, factor = -net, Decimal(1)
            for payment in payments:
                factor /= 1 + rate
                total += payment * factor
            return total

        low, high = Decimal("-0.9"), Decimal(2)
        for _ in range(130):
            mid = (low + high) / 2
            if npv(mid) > 0:  # NPV falls as the rate rises
                low = mid
            else:
                high = mid
        percent = (low + high) / 2 * periods_per_year * 100
    return percent.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _terms(principal: str, rate: str, term: int, method: str, upfront: str = "0", per_period: str = "0") -> LoanTerms:
    return LoanTerms(
        D(principal),
        D(rate),
        term,
        RepaymentMethod(method),
        START,
        upfront_fee=D(upfront),
        fee_per_period=D(per_period),
    )


def _cash_flows(terms: LoanTerms) -> tuple[Decimal, list[Decimal]]:
    """The net amount the borrower receives and every scheduled payment."""
    return terms.principal - terms.upfront_fee, [i.payment for i in generate(terms).installments]


def _apr(principal: str, rate: str, term: int, method: str, upfront: str = "0", per_period: str = "0") -> Decimal:
    return apr_of_schedule(generate(_terms(principal, rate, term, method, upfront, per_period)))


def test_vector_equal_installment_at_one_percent_a_month_is_12_00() -> None:
    # 10,000 over 12 months at 1 %/month: payment 888.49, APR 12.00 %.
    payments = [D("888.49")] * 11 + [D("888.47")]
    assert reference_apr_percent(D(10000), payments) == D("12.00")
    assert _apr("10000.00", "0.12", 12, "equal_installment") == D("12.00")


def test_vector_fee_of_60_a_month_on_a_zero_rate_loan_is_13_03() -> None:
    # 833.33 + 60 fee a month; the "0.6 %/month" fee is about 13 %, not 7.2 %.
    payments = [D("893.33")] * 11 + [D("893.37")]
    assert reference_apr_percent(D(10000), payments) == D("13.03")
    assert _apr("10000.00", "0", 12, "equal_principal", per_period="60.00") == D("13.03")
    assert _cash_flows(_terms("10000.00", "0", 12, "equal_principal", per_period="60.00")) == (D(10000), payments)


def test_vector_upfront_fee_of_300_is_17_83() -> None:
    # R-1.3's first loan with a 3 % upfront fee, net 9,700. rules.md prints 17.82; the IRR is
    # 17.8250..% (independent bisection below), which half-up to two decimals is 17.83.
    payments = [D("888.49")] * 11 + [D("888.47")]
    assert reference_apr_percent(D(9700), payments) == D("17.83")
    assert _apr("10000.00", "0.12", 12, "equal_installment", upfront="300.00") == D("17.83")


def test_vector_flat_rate_apr_is_nearly_twice_the_flat_rate() -> None:
    # 12,000 over 12 months, 1 %/month on the original principal: 1,120 every month.
    payments = [D("1120.00")] * 12
    assert reference_apr_percent(D(12000), payments) == D("21.46")
    assert _apr("12000.00", "0.12", 12, "flat_rate") == D("21.46")


@pytest.mark.parametrize(
    ("daily", "basis", "expected"),
    [
        ("0.0005", DayCount.ACT_365, "18.25"),  # PBOC 2019 guidance (R-2.1, rule 3)
        ("0.0002", DayCount.ACT_360, "7.20"),  # bank practice x 360
        ("0.0002", DayCount.ACT_365, "7.30"),
        ("0.0005", DayCount.ACT_360, "18.00"),
    ],
)
def test_apr_of_a_daily_rate_is_rate_times_basis_days(daily: str, basis: DayCount, expected: str) -> None:
    assert apr_of_daily_rate(D(daily), basis) == D(expected)


def test_apr_counts_per_period_fees_and_upfront_fees() -> None:
    plain = _apr("10000.00", "0.12", 12, "equal_installment")
    with_fee = _apr("10000.00", "0.12", 12, "equal_installment", per_period="10.00")
    with_upfront = _apr("10000.00", "0.12", 12, "equal_installment", upfront="100.00")
    assert plain < with_fee
    assert plain < with_upfront


@pytest.mark.parametrize("method", ["equal_installment", "equal_principal", "interest_only", "flat_rate"])
@pytest.mark.parametrize(("principal", "rate", "term", "upfront", "fee"), [
    ("10000.00", "0.12", 12, "0", "0"),
    ("50000.00", "0.0720", 36, "500.00", "0"),
    ("1000.00", "0.2400", 6, "0", "5.00"),
    ("2000000.00", "0.0435", 60, "20000.00", "100.00"),
    ("5000.00", "0", 3, "50.00", "0"),
])  # fmt: skip
def test_apr_of_schedule_matches_the_reference_irr(
    method: str, principal: str, rate: str, term: int, upfront: str, fee: str
) -> None:
    net, payments = _cash_flows(_terms(principal, rate, term, method, upfront, fee))
    assert _apr(principal, rate, term, method, upfront, fee) == reference_apr_percent(net, payments)


def test_apr_of_cash_flows_with_other_periods_per_year() -> None:
    # a single payment of 1,010 a quarter after receiving 1,000: 1 % a quarter, 4 % a year.
    assert apr_of_cash_flows(D(1000), [D(1010)], periods_per_year=4) == D("4.00")
    assert apr_of_cash_flows(D(1000), [D(1010)]) == D("12.00")


def test_periodic_irr_solves_the_npv_equation() -> None:
    rate = periodic_irr(D(1000), [D(1100)])
    assert abs(rate - D("0.1")) < D("1e-18")
    rate = periodic_irr(D(1000), [D(500), D(500)])
    assert abs(rate) < D("1e-18")


@pytest.mark.parametrize(
    ("net", "payments"),
    [
        (D(0), [D(100)]),
        (D(-5), [D(100)]),
        (D(100), []),
        (D(100), [D(0), D(0)]),
    ],
)
def test_apr_error_on_meaningless_cash_flows(net: Decimal, payments: list[Decimal]) -> None:
    with pytest.raises(AprError):
        apr_of_cash_flows(net, payments)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    principal_fen=st.integers(min_value=1_000_000, max_value=1_000_000_000),
    rate_bp=st.integers(min_value=0, max_value=3600),
    term=st.integers(min_value=1, max_value=60),
)
def test_apr_of_equal_installments_without_fees_is_the_nominal_rate(
    principal_fen: int, rate_bp: int, term: int
) -> None:
    # From 10,000 up; on a few hundred yuan a half-fen rounding of the payment alone moves the
    # IRR by more than 0.01 points, so the identity only holds where rounding is negligible.
    terms = LoanTerms(
        D(principal_fen).scaleb(-2), D(rate_bp).scaleb(-4), term, RepaymentMethod.EQUAL_INSTALLMENT, START
    )
    apr = apr_of_schedule(generate(terms))
    assert abs(apr - D(rate_bp) / 100) <= D("0.01")


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    principal_fen=st.integers(min_value=10_000, max_value=1_000_000_000),
    rate_bp=st.integers(min_value=0, max_value=3600),
    term=st.integers(min_value=1, max_value=60),
    method=st.sampled_from([m for m in RepaymentMethod if m.is_fixed_term]),
    fee_shares=st.tuples(st.integers(0, 4999), st.integers(0, 4999)),
)
def test_apr_rises_with_the_upfront_fee(
    principal_fen: int, rate_bp: int, term: int, method: RepaymentMethod, fee_shares: tuple[int, int]
) -> None:
    low, high = sorted(fee_shares)  # fee as a share of the principal in 1/10,000ths, below 50 %
    aprs = []
    for share in (0, low, high):
        fee = D(principal_fen * share // 10_000).scaleb(-2)
        terms = LoanTerms(D(principal_fen).scaleb(-2), D(rate_bp).scaleb(-4), term, method, START, upfront_fee=fee)
        aprs.append(apr_of_schedule(generate(terms)))
    assert aprs[0] <= aprs[1] <= aprs[2]
    if high - low >= 100:  # one more percent of the principal up front is always visible
        assert aprs[1] < aprs[2]
