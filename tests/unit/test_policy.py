"""The credit policy as a credit officer sees it: the real JDM tables (risk/policy/*.json) through
zen-engine decide who is declined, who goes to review, and at what limit and rate the rest are approved."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from puhui.adapters.rules import POLICY_DIRECTORY, ZenRules
from puhui.domain.enums import BorrowerKind, LenderType, LoanPurpose, PeriodInterest, RepaymentMethod
from puhui.domain.products import LoanProduct, parse_product
from puhui.domain.schedule import LoanTerms, generate
from puhui.risk.policy import (
    LIMIT_STEP_YUAN,
    LimitSource,
    Outcome,
    PolicyInput,
    PolicyResult,
    PolicyTableError,
    apply_policy,
    blocking_rate_cap,
)
from puhui.services.catalogue import product_files, read_definition

D = Decimal
ON = date(2026, 3, 2)
AFTER_2027 = date(2028, 1, 3)  # 4 x LPR blocks for small-loan companies from 2028-01-01
IND, IB, ENT = BorrowerKind.INDIVIDUAL, BorrowerKind.INDIVIDUAL_BUSINESS, BorrowerKind.ENTERPRISE


@functools.cache
def rules() -> ZenRules:
    return ZenRules()


@functools.cache
def catalogue() -> dict[str, LoanProduct]:
    products = (parse_product(read_definition(path)) for path in product_files())
    return {p.code: p for p in products}


def product(code: str) -> LoanProduct:
    return catalogue()[code]


# A borrower every table lets through: PD in the best approved bands, clean bureau file, ample
# verified income. Tests change one fact at a time.
CLEAN: dict[str, Any] = {
    "pd": 0.02,
    "score": 720,
    "income_monthly_verified": D("40000"),
    "debt_service_monthly": D("0"),
    "age_years": 40,
    "years_in_business": 5.0,
    "bureau_max_dpd_24m": 0,
    "overdue_elsewhere": False,
    "fraud_flags": (),
}
DEFAULT_REQUEST = {
    IND: ("PH-REV", D("20000"), 12),
    IB: ("PH-EI", D("100000"), 12),
    ENT: ("PH-EI", D("200000"), 12),
}


def facts(kind: BorrowerKind = IB, code: str | None = None, **changes: Any) -> PolicyInput:
    default_code, amount, term = DEFAULT_REQUEST[kind]
    values: dict[str, Any] = {
        **CLEAN,
        "borrower_kind": kind,
        "product": product(code or default_code),
        "amount_requested": amount,
        "term_months": term,
        "decided_on": ON,
    }
    values.update(changes)
    return PolicyInput(**values)


def decide(inputs: PolicyInput) -> PolicyResult:
    return apply_policy(inputs, rules())


def codes(result: PolicyResult) -> list[str]:
    return [r.code for r in result.reasons]


def hit_rules(result: PolicyResult, table: str) -> set[str]:
    """The `_id`s of the table rows that matched, read from the audit trace."""
    hits: set[str] = set()
    for node in result.trace.get(table, {}).values():
        data = node.get("traceData")
        rows = data if isinstance(data, list) else [data]
        hits.update(row["rule"]["_id"] for row in rows if isinstance(row, dict) and "rule" in row)
    return hits


def first_installment(p: LoanProduct, principal: Decimal, term: int, rate: Decimal) -> Decimal:
    """The first (highest) regular installment from the real schedule generator; bullet products are
    judged on their equal-installment equivalent, as the policy does."""
    method = RepaymentMethod.EQUAL_INSTALLMENT if p.repayment_method.is_bullet else p.repayment_method
    terms = LoanTerms(
        principal=principal,
        rate_annual=rate,
        term_months=term,
        method=method,
        start_date=ON,
        fee_per_period=p.fees.fee_per_period(principal),
        day_count=p.day_count,
        period_interest=PeriodInterest.MONTHLY_RATE,
    )
    return generate(terms).installments[0].payment


# --- an approval ----------------------------------------------------------------------------------


def test_a_clean_applicant_is_approved_with_a_limit_a_rate_and_the_trace_of_every_table() -> None:
    result = decide(facts(IB))
    assert result.outcome is Outcome.APPROVED
    assert codes(result)[0] == "POLICY_MET"
    assert result.approved_amount == D("100000")  # asked for less than the limit: gets what was asked
    assert result.credit_limit >= result.approved_amount
    assert set(result.trace) == {"knockouts", "pricing", "limits"}
    json.dumps(result.trace)  # the audit record is stored as JSON
    assert result.policy_version == rules().policy_version


# --- knock-outs -----------------------------------------------------------------------------------

DECLINES = [
    pytest.param(IND, {"age_years": 17}, "AGE_UNDER_18", "age-under-18", id="age 17"),
    pytest.param(IB, {"age_years": 66}, "AGE_OVER_65", "age-over-65", id="owner aged 66"),
    pytest.param(IB, {"years_in_business": 0.4}, "BUSINESS_UNDER_6_MONTHS", "business-too-young", id="5 months"),
    pytest.param(ENT, {"years_in_business": 0.25}, "BUSINESS_UNDER_6_MONTHS", "business-too-young", id="ent 3 mo"),
    pytest.param(IND, {"bureau_max_dpd_24m": 91}, "BUREAU_DPD_OVER_90", "bureau-dpd-over-90", id="DPD 91"),
    pytest.param(IND, {"overdue_elsewhere": True}, "OVERDUE_ELSEWHERE", "overdue-elsewhere", id="overdue now"),
    pytest.param(IB, {"pd": 0.2501}, "PD_ABOVE_CUTOFF", "pd-above-cutoff", id="PD 25.01 %"),
]


@pytest.mark.parametrize(("kind", "change", "code", "rule_id"), DECLINES)
def test_knock_outs_decline_with_a_reason_and_nothing_offered(
    kind: BorrowerKind, change: dict[str, Any], code: str, rule_id: str
) -> None:
    result = decide(facts(kind, **change))
    assert result.outcome is Outcome.DECLINED
    assert codes(result) == [code]
    assert result.reasons[0].text_zh and result.reasons[0].text_en
    assert (result.credit_limit, result.approved_amount, result.annual_rate) == (D(0), D(0), None)
    assert set(result.trace) == {"knockouts"}  # a decline is final: no price, no limit
    assert hit_rules(result, "knockouts") == {rule_id}


REVIEWS = [
    pytest.param(IND, {"fraud_flags": ("ring_with_defaults",)}, "FRAUD_RING_WITH_DEFAULTS", "fraud-ring", id="ring"),
    pytest.param(IB, {"fraud_flags": ("velocity",)}, "FRAUD_VELOCITY", "fraud-velocity", id="velocity"),
    pytest.param(ENT, {"fraud_flags": ("device_tampered",)}, "FRAUD_DEVICE_TAMPERED", "device-tampered", id="device"),
    pytest.param(IB, {"pd": 0.12}, "PD_GREY_ZONE", "pd-grey-zone", id="PD 12 %"),
    pytest.param(IB, {"pd": 0.25}, "PD_GREY_ZONE", "pd-grey-zone", id="PD 25 %"),
    pytest.param(IND, {"bureau_max_dpd_24m": 31}, "BUREAU_DPD_31_90", "bureau-dpd-31-90", id="DPD 31"),
    pytest.param(IND, {"bureau_max_dpd_24m": 90}, "BUREAU_DPD_31_90", "bureau-dpd-31-90", id="DPD 90"),
    pytest.param(IND, {"age_years": None}, "AGE_NOT_VERIFIED", "age-unknown", id="age unknown"),
    pytest.param(ENT, {"years_in_business": None}, "YEARS_IN_BUSINESS_NOT_VERIFIED", "years-unknown", id="years ?"),
    pytest.param(ENT, {"amount_requested": D("500001")}, "LARGE_TICKET", "large-ticket", id="above 500,000"),
]


@pytest.mark.parametrize(("kind", "change", "code", "rule_id"), REVIEWS)
def test_referrals_go_to_a_credit_officer_with_a_proposed_limit_and_rate(
    kind: BorrowerKind, change: dict[str, Any], code: str, rule_id: str
) -> None:
    result = decide(facts(kind, **change))
    assert result.outcome is Outcome.REVIEW
    assert codes(result)[0] == code
    assert result.approved_amount == 0  # nothing is approved until the officer decides
    assert result.credit_limit > 0 and result.annual_rate is not None  # the officer sees the proposal
    assert hit_rules(result, "knockouts") == {rule_id}


def test_every_knock_out_row_is_exercised_by_the_cases_above() -> None:
    # zen treats a row whose expression fails as a row that does not match: a table row no case
    # reaches could be silently broken.
    table = json.loads((POLICY_DIRECTORY / "knockouts.json").read_text(encoding="utf-8"))
    rows = {rule["_id"] for node in table["nodes"] for rule in node.get("content", {}).get("rules", [])}
    covered = {p.values[3] for p in DECLINES + REVIEWS}
    assert rows == covered


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        pytest.param(IND, {"age_years": 18}, id="age 18"),
        pytest.param(IB, {"age_years": 65}, id="age 65"),
        pytest.param(IB, {"years_in_business": 0.5}, id="6 months in business"),
        pytest.param(IND, {"bureau_max_dpd_24m": 30}, id="DPD 30"),
        pytest.param(IND, {"bureau_max_dpd_24m": None}, id="no bureau file"),
        pytest.param(IB, {"pd": 0.1199}, id="PD just under the grey zone"),
        pytest.param(IND, {"years_in_business": None}, id="individuals need no business history"),
        pytest.param(ENT, {"age_years": None}, id="an enterprise's owner age may be unknown"),
        pytest.param(IB, {"fraud_flags": ("device_shared",)}, id="a flag the policy does not refer"),
    ],
)
def test_just_inside_every_threshold_is_approved(kind: BorrowerKind, change: dict[str, Any]) -> None:
    result = decide(facts(kind, **change))
    assert result.outcome is Outcome.APPROVED, result.reasons


def test_a_decline_beats_a_referral_and_the_first_decline_row_wins() -> None:
    result = decide(facts(IND, age_years=17, overdue_elsewhere=True, fraud_flags=("velocity",), pd=0.3))
    assert codes(result) == ["AGE_UNDER_18"]


def test_every_referral_reason_is_listed_for_the_officer() -> None:
    result = decide(facts(IND, pd=0.15, fraud_flags=("velocity", "ring_with_defaults"), bureau_max_dpd_24m=45))
    assert result.outcome is Outcome.REVIEW
    assert {"FRAUD_RING_WITH_DEFAULTS", "FRAUD_VELOCITY", "PD_GREY_ZONE", "BUREAU_DPD_31_90"} <= set(codes(result))


# --- product eligibility --------------------------------------------------------------------------


def test_a_borrower_the_product_does_not_serve_is_declined_before_any_table() -> None:
    result = decide(facts(IND, code="PH-EP", amount_requested=D("60000"), term_months=12))
    assert codes(result) == ["KIND_NOT_ELIGIBLE"]
    assert result.trace == {}


@pytest.mark.parametrize(
    "change", [{"term_months": 9}, {"amount_requested": D("5000")}], ids=["term not offered", "below product min"]
)
def test_a_request_outside_the_product_is_declined(change: dict[str, Any]) -> None:
    result = decide(facts(IB, **change))
    assert result.outcome is Outcome.DECLINED
    assert codes(result) == ["OUTSIDE_PRODUCT"]


def test_a_bank_bullet_consumer_loan_over_a_year_is_declined_by_r_4_3() -> None:
    bank_bullet = dataclasses.replace(
        product("PH-IO"),
        lender_type=LenderType.BANK,
        purpose=LoanPurpose.CONSUMPTION,
        borrower_kinds=(IND,),
        term_options_months=(12, 24),
    )
    result = decide(facts(IND, product=bank_bullet, amount_requested=D("30000"), term_months=24))
    assert codes(result) == ["LIMIT_R-4.3"]
    assert decide(facts(IND, product=bank_bullet, amount_requested=D("30000"), term_months=12)).outcome is not (
        Outcome.DECLINED
    )


# --- pricing --------------------------------------------------------------------------------------


def test_the_best_pd_band_gets_the_products_lowest_rate_and_the_worst_approved_band_its_highest() -> None:
    ei = product("PH-EI")
    assert decide(facts(IB, pd=0.001)).annual_rate == ei.rate_annual_min
    assert decide(facts(IB, pd=0.119)).annual_rate == D("0.1584")  # band P5: 0.8 of 7.20 %..18.00 %
    assert decide(facts(IB, pd=0.2)).annual_rate == ei.rate_annual_max  # grey zone, priced for review


def test_the_rate_is_a_four_decimal_fraction_inside_the_products_range() -> None:
    # band P3 (PD 3 %-5 %): 0.4 of the way from 7.20 % to 18.00 % = 11.52 %
    result = decide(facts(IB, pd=0.04))
    assert result.annual_rate == D("0.1152")
    assert result.pd_band == "P3"
    assert result.annual_rate.as_tuple().exponent == -4


def test_a_rate_above_the_legal_cap_is_held_at_the_cap_with_a_reason() -> None:
    # PH-EI lends up to 18 %; from 2028 a small-loan company may not exceed 4 x LPR = 12.00 %
    before = decide(facts(IB, pd=0.1, decided_on=date(2027, 12, 31)))
    after = decide(facts(IB, pd=0.1, decided_on=AFTER_2027))
    assert before.annual_rate == D("0.1584") and not any(c.startswith("CAP_") for c in codes(before))
    assert after.annual_rate == D("0.1200")
    assert "CAP_R-1.4/4xLPR" in codes(after)
    cap = blocking_rate_cap(LenderType.ONLINE_SMALL_LOAN_COMPANY, AFTER_2027)
    assert cap is not None and cap.rate_annual == D("0.12")


def test_a_product_that_cannot_be_priced_under_the_cap_is_declined() -> None:
    dear = dataclasses.replace(product("PH-EI"), rate_annual_min=D("0.1300"))
    result = decide(facts(IB, product=dear, decided_on=AFTER_2027))
    assert result.outcome is Outcome.DECLINED
    assert codes(result) == ["CAP_R-1.4/4xLPR"]
    assert result.annual_rate is None


# --- limits ---------------------------------------------------------------------------------------


def test_the_score_band_sets_the_base_limit() -> None:
    result = decide(facts(IND, score=760, amount_requested=D("80000")))
    assert result.credit_limit == D("50000")
    assert result.approved_amount == D("50000")  # a counter-offer at the limit
    assert "LIMIT_SCORE_BAND" in codes(result)
    lower = decide(facts(IND, score=590, amount_requested=D("80000")))  # band D: PD about 2-4 %
    assert lower.credit_limit == D("15000")


def test_affordability_holds_the_installment_within_40_percent_of_an_individuals_income() -> None:
    income, debt = D("8000"), D("1500")
    result = decide(facts(IND, score=760, income_monthly_verified=income, debt_service_monthly=debt))
    assert result.outcome is Outcome.APPROVED
    assert "LIMIT_AFFORDABILITY" in codes(result)
    assert "40 %" in next(r.text_en for r in result.reasons if r.code == "LIMIT_AFFORDABILITY")
    assert result.credit_limit % LIMIT_STEP_YUAN == 0
    p, rate = product("PH-REV"), result.annual_rate
    assert rate is not None
    room = D("0.40") * income - debt  # 1,700 a month for the new loan
    assert first_installment(p, result.credit_limit, 12, rate) <= room
    assert first_installment(p, result.credit_limit + LIMIT_STEP_YUAN, 12, rate) > room  # and not 100 less


def test_a_business_may_pay_up_to_half_its_net_cash_inflow() -> None:
    inflow = D("20000")
    result = decide(facts(IB, score=760, income_monthly_verified=inflow, amount_requested=D("900000")))
    rate = result.annual_rate
    assert rate is not None and "LIMIT_AFFORDABILITY" in codes(result)
    assert first_installment(product("PH-EI"), result.credit_limit, 12, rate) <= inflow / 2
    assert first_installment(product("PH-EI"), result.credit_limit + LIMIT_STEP_YUAN, 12, rate) > inflow / 2


def test_fees_per_period_count_in_the_installment() -> None:
    agri = product("PH-AGRI")  # 0.1 % of the principal a month as a service fee
    free = dataclasses.replace(agri, fees=dataclasses.replace(agri.fees, per_period_rate=D(0)))
    kw = {"score": 760, "income_monthly_verified": D("9000"), "amount_requested": D("100000")}
    with_fee = decide(facts(IB, product=agri, **kw))
    without = decide(facts(IB, product=free, **kw))
    assert with_fee.credit_limit < without.credit_limit


def test_without_verified_income_the_limit_falls_to_the_unverified_cap_and_says_so() -> None:
    result = decide(facts(IND, score=760, income_monthly_verified=None))
    assert result.credit_limit == D("5000")
    assert "LIMIT_INCOME_NOT_VERIFIED" in codes(result)
    enterprise = decide(facts(ENT, code="PH-EP", income_monthly_verified=None, amount_requested=D("100000")))
    assert enterprise.outcome is Outcome.DECLINED  # the 20,000 unverified cap is below PH-EP's 50,000 minimum
    assert {"LIMIT_INCOME_NOT_VERIFIED", "LIMIT_BELOW_PRODUCT_MIN"} <= set(codes(enterprise))


def test_no_room_left_by_existing_debt_means_no_loan() -> None:
    # no lending to a borrower whose income is already taken by debt service
    result = decide(facts(IND, income_monthly_verified=D("5000"), debt_service_monthly=D("2000")))
    assert result.outcome is Outcome.DECLINED
    assert codes(result) == ["LIMIT_AFFORDABILITY", "LIMIT_BELOW_PRODUCT_MIN"]
    assert "2,000" in result.reasons[0].text_zh


@pytest.mark.parametrize(
    ("kind", "code", "owed", "rule", "limit"),
    [
        pytest.param(IND, "PH-FLAT", D("180000"), "LIMIT_R-4.1", D("20000"), id="online consumption 200k"),
        pytest.param(IND, "PH-REV", D("285000"), "LIMIT_R-4.2", D("15000"), id="natural person 300k"),
    ],
)
def test_the_legal_per_borrower_limits_hold_the_line(
    kind: BorrowerKind, code: str, owed: Decimal, rule: str, limit: Decimal
) -> None:
    p = product(code)
    result = decide(
        facts(kind, product=p, score=760, existing_exposure=owed, amount_requested=p.amount_max, term_months=12)
    )
    assert result.credit_limit == limit
    assert rule in codes(result)
    assert result.outcome is Outcome.APPROVED


def test_a_small_loan_company_lends_one_borrower_at_most_10_percent_of_its_net_assets() -> None:
    result = decide(facts(ENT, score=760, income_monthly_verified=D("1000000"), lender_net_assets=D("3000000")))
    assert result.credit_limit == D("300000")
    assert "LIMIT_R-4.1" in codes(result)
    owed = decide(
        facts(
            ENT,
            score=760,
            income_monthly_verified=D("1000000"),
            lender_net_assets=D("3000000"),
            existing_exposure=D("250050"),
        )
    )
    assert owed.credit_limit == D("49900")  # 300,000 - 250,050, rounded down to 100
    assert owed.outcome is Outcome.APPROVED


def test_the_product_maximum_caps_a_strong_enterprise() -> None:
    result = decide(facts(ENT, score=800, income_monthly_verified=D("5000000"), amount_requested=D("2000000")))
    assert result.credit_limit == product("PH-EI").amount_max
    assert "LIMIT_PRODUCT_MAX" in codes(result)
    assert result.outcome is Outcome.REVIEW and "LARGE_TICKET" in codes(result)  # an officer decides above 500,000
    assert result.approved_amount == 0


def test_every_ceiling_is_shown_and_the_limit_is_the_lowest() -> None:
    result = decide(facts(IND, income_monthly_verified=D("6000"), existing_exposure=D("10000")))
    sources = {cap.source for cap in result.limit_caps}
    assert {LimitSource.SCORE_BAND, LimitSource.AFFORDABILITY, LimitSource.PRODUCT_MAX} <= sources
    assert result.credit_limit == min(cap.amount for cap in result.limit_caps)


# --- the tables are data: version, edits, broken files ----------------------------------------------


def copy_policy(tmp_path: Path) -> Path:
    for source in POLICY_DIRECTORY.iterdir():
        if source.suffix == ".json" or source.name == "version":
            (tmp_path / source.name).write_bytes(source.read_bytes())
    return tmp_path


def test_the_policy_version_names_the_label_and_the_exact_tables(tmp_path: Path) -> None:
    label = (POLICY_DIRECTORY / "version").read_text(encoding="utf-8").strip()
    version = rules().policy_version
    assert version.startswith(label + "+sha256:")
    assert len(version.rsplit(":", 1)[1]) == 12
    copy = copy_policy(tmp_path)
    assert ZenRules(copy).policy_version == version  # same bytes, same version
    limits = copy / "limits.json"
    limits.write_text(limits.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    edited = ZenRules(copy).policy_version
    assert edited.startswith(label + "+sha256:") and edited != version  # one byte more, another version


def test_the_risk_manager_moves_a_cutoff_in_the_table_and_the_decision_follows(tmp_path: Path) -> None:
    copy = copy_policy(tmp_path)
    path = copy / "knockouts.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"> 0.25"', '"> 0.20"'), encoding="utf-8")
    edited = ZenRules(copy)
    assert decide(facts(IB, pd=0.22)).outcome is Outcome.REVIEW
    assert apply_policy(facts(IB, pd=0.22), edited).outcome is Outcome.DECLINED


def test_a_broken_cell_is_refused_when_the_tables_load(tmp_path: Path) -> None:
    copy = copy_policy(tmp_path)
    path = copy / "knockouts.json"
    path.write_text(path.read_text(encoding="utf-8").replace("'AGE_OVER_65'", "'AGE_OVER_65"), encoding="utf-8")
    with pytest.raises(PolicyTableError, match=r"knockouts\.json.*age-over-65.*code"):
        ZenRules(copy)


def test_a_table_that_answers_nothing_is_an_error_not_a_silent_zero(tmp_path: Path) -> None:
    copy = copy_policy(tmp_path)
    path = copy / "limits.json"
    # drop every individual row from the base-limit table
    graph = json.loads(path.read_text(encoding="utf-8"))
    table = next(n for n in graph["nodes"] if n["id"] == "base_limit")
    table["content"]["rules"] = [r for r in table["content"]["rules"] if not r["_id"].startswith("ind-")]
    path.write_text(json.dumps(graph), encoding="utf-8")
    with pytest.raises(PolicyTableError, match="base"):
        apply_policy(facts(IND), ZenRules(copy))


def test_an_unknown_table_name_is_an_error() -> None:
    with pytest.raises(PolicyTableError, match="fees"):
        rules().evaluate("fees", {})


@pytest.mark.parametrize("on", [ON, AFTER_2027], ids=["2026", "2028"])
@pytest.mark.parametrize("code", sorted(catalogue()))
def test_each_worse_pd_band_costs_at_least_as_much_on_every_product(code: str, on: date) -> None:
    p = product(code)
    kind = p.borrower_kinds[0]
    request = {"product": p, "amount_requested": p.amount_min, "term_months": p.term_options_months[0]}
    band_edges = [0.0, 0.0099, 0.01, 0.0299, 0.03, 0.0499, 0.05, 0.0799, 0.08, 0.1199, 0.12, 0.25]
    rates = [decide(facts(kind, pd=pd, decided_on=on, **request)).annual_rate for pd in band_edges]
    assert None not in rates
    assert rates == sorted(rates)  # type: ignore[type-var]
    assert rates[0] == p.rate_annual_min


def test_concurrent_requests_share_one_engine_safely() -> None:
    # the API calls the policy from a thread pool
    from concurrent.futures import ThreadPoolExecutor

    cases = [facts(IB, pd=pd / 100) for pd in range(0, 30)]
    expected = [decide(case) for case in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(decide, cases)) == expected
