"""Properties of the credit policy over random applicants, through the real tables and zen-engine:
the limit never exceeds any of its ceilings, the rate stays inside the product and under the legal
cap, and a worse PD, less income or more debt never earns a better offer."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.caps import ExposureRequest, check_borrower_limits
from puhui.risk.policy import (
    LIMIT_STEP_YUAN,
    LimitSource,
    Outcome,
    PolicyInput,
    PolicyResult,
    apply_policy,
    blocking_rate_cap,
)
from tests.unit.test_policy import catalogue, first_installment, rules

D = Decimal
SEVERITY = {Outcome.APPROVED: 0, Outcome.REVIEW: 1, Outcome.DECLINED: 2}
SHARE_MAX = D("0.50")  # the most any borrower kind may pay of its income in limits.json


def yuan(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 100, high * 100).map(lambda fen: D(fen) / 100)


# PDs around the approve/review/decline region, with the band edges of the tables themselves
BAND_EDGES = [0.0, 0.0099, 0.01, 0.03, 0.05, 0.08, 0.1199, 0.12, 0.25, 0.2501, 1.0]
pds = st.floats(0, 0.12) | st.sampled_from(BAND_EDGES) | st.floats(0, 1)


@st.composite
def applicants(draw: st.DrawFn) -> PolicyInput:
    p = draw(st.sampled_from(sorted(catalogue().values(), key=lambda q: q.code)))
    return PolicyInput(
        borrower_kind=draw(st.sampled_from(p.borrower_kinds)),
        product=p,
        amount_requested=draw(st.decimals(p.amount_min, p.amount_max * 2, places=2)),
        term_months=draw(st.sampled_from(p.term_options_months)),
        decided_on=draw(st.dates(date(2025, 6, 1), date(2029, 12, 31))),
        # most applicants pass the knock-outs, so that limits and prices get exercised too
        pd=draw(pds),
        score=draw(st.integers(600, 900) | st.integers(300, 900)),
        income_monthly_verified=draw(yuan(0, 50_000) | st.none() | yuan(0, 2_000_000)),
        debt_service_monthly=draw(st.just(D(0)) | yuan(0, 5_000) | yuan(0, 50_000)),
        age_years=draw(st.integers(18, 65) | st.integers(16, 80) | st.none()),
        years_in_business=draw(st.floats(0.5, 40) | st.floats(0, 40) | st.none()),
        bureau_max_dpd_24m=draw(st.integers(0, 30) | st.integers(0, 400) | st.none()),
        overdue_elsewhere=draw(st.sampled_from([False] * 9 + [True])),
        fraud_flags=tuple(
            draw(st.sets(st.sampled_from(["velocity", "ring_with_defaults", "device_shared"]), max_size=1))
        ),
        existing_exposure=draw(st.sampled_from([D(0)]) | yuan(0, 400_000)),
        lender_net_assets=draw(st.none() | yuan(500_000, 20_000_000)),
    )


def decide(inputs: PolicyInput) -> PolicyResult:
    return apply_policy(inputs, rules())


@settings(max_examples=300, deadline=None)
@given(applicants())
def test_the_limit_never_exceeds_any_of_its_ceilings(inputs: PolicyInput) -> None:
    result = decide(inputs)
    if result.outcome is Outcome.DECLINED:
        assert (result.credit_limit, result.approved_amount, result.annual_rate) == (0, 0, None)
        assert result.reasons
        return
    p = inputs.product
    assert p.amount_min <= result.credit_limit <= p.amount_max
    assert result.credit_limit % LIMIT_STEP_YUAN == 0
    assert all(result.credit_limit <= cap.amount for cap in result.limit_caps)
    # the legal per-borrower limits, asked afresh of domain/caps.py, allow the whole line
    exposure = ExposureRequest(
        lender_type=p.lender_type,
        purpose=p.purpose,
        borrower_kind=inputs.borrower_kind,
        amount=result.credit_limit,
        term_months=inputs.term_months,
        repayment_method=p.repayment_method,
        existing_exposure=inputs.existing_exposure,
        lender_net_assets=inputs.lender_net_assets,
    )
    assert check_borrower_limits(exposure, inputs.legal_limits) == []
    if inputs.income_monthly_verified is None:
        assert "LIMIT_INCOME_NOT_VERIFIED" in [r.code for r in result.reasons]
    if result.outcome is Outcome.APPROVED:
        assert result.approved_amount == min(inputs.amount_requested, result.credit_limit)
    else:
        assert result.approved_amount == 0


@settings(max_examples=200, deadline=None)
@given(applicants())
def test_an_approved_installment_fits_the_income_it_was_judged_on(inputs: PolicyInput) -> None:
    result = decide(inputs)
    income = inputs.income_monthly_verified
    if result.outcome is Outcome.DECLINED or income is None or result.annual_rate is None:
        return
    payment = first_installment(inputs.product, result.credit_limit, inputs.term_months, result.annual_rate)
    # whichever share the table sets for this borrower kind, it is at most half of income
    assert inputs.debt_service_monthly + payment <= SHARE_MAX * income + D("0.01")
    affordability = [c for c in result.limit_caps if c.source is LimitSource.AFFORDABILITY]
    assert len(affordability) == 1


@settings(max_examples=300, deadline=None)
@given(applicants())
def test_the_rate_lies_inside_the_product_and_under_the_legal_cap(inputs: PolicyInput) -> None:
    result = decide(inputs)
    rate = result.annual_rate
    if rate is None:
        assert result.outcome is Outcome.DECLINED
        return
    p = inputs.product
    assert p.rate_annual_min <= rate <= p.rate_annual_max
    assert rate == rate.quantize(D("0.0001"))
    cap = blocking_rate_cap(p.lender_type, inputs.decided_on)
    assert cap is None or rate <= cap.rate_annual


def worse_or_equal(better: PolicyResult, worse: PolicyResult) -> None:
    assert SEVERITY[worse.outcome] >= SEVERITY[better.outcome]
    assert worse.credit_limit <= better.credit_limit or better.outcome is Outcome.DECLINED
    if better.annual_rate is not None and worse.annual_rate is not None:
        assert worse.annual_rate >= better.annual_rate


@settings(max_examples=200, deadline=None)
@given(applicants(), st.lists(pds, min_size=2, max_size=6))
def test_a_worse_pd_never_gets_a_lower_rate_or_a_higher_limit(inputs: PolicyInput, some: list[float]) -> None:
    results = [decide(dataclasses.replace(inputs, pd=pd)) for pd in sorted(some)]
    for better, worse in itertools.pairwise(results):
        worse_or_equal(better, worse)


@settings(max_examples=200, deadline=None)
@given(applicants(), yuan(0, 200_000), yuan(0, 20_000))
def test_less_income_or_more_debt_never_raises_the_limit(inputs: PolicyInput, less: Decimal, more: Decimal) -> None:
    income = inputs.income_monthly_verified
    poorer = dataclasses.replace(
        inputs,
        income_monthly_verified=None if income is None else max(income - less, D(0)),
        debt_service_monthly=inputs.debt_service_monthly + more,
    )
    better, worse = decide(inputs), decide(poorer)
    assert SEVERITY[worse.outcome] >= SEVERITY[better.outcome]
    assert worse.credit_limit <= better.credit_limit or better.outcome is Outcome.DECLINED
