"""Rate caps by lender type and date (R-1.4, R-1.5, rule 4), per-borrower limits (rule 11), quotes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from puhui.domain.caps import (
    CapAction,
    ExposureRequest,
    LprFixing,
    RateCapExceeded,
    check_borrower_limits,
    enforce_caps,
    evaluate_caps,
    lpr_on,
)
from puhui.domain.enums import BorrowerKind, LenderType, LoanPurpose, RepaymentMethod
from puhui.domain.errors import DomainValidationError
from puhui.domain.pricing import check_product_admissible, make_quote, worst_case_apr
from puhui.domain.products import LoanProduct, parse_product

D = Decimal
ON = date(2026, 11, 22)
SLC = LenderType.SMALL_LOAN_COMPANY


def rules_of(findings: list[Any]) -> list[tuple[str, CapAction]]:
    return [(f.rule_id, f.action) for f in findings]


# --- caps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lender", [LenderType.SMALL_LOAN_COMPANY, LenderType.ONLINE_SMALL_LOAN_COMPANY])
def test_small_loan_company_above_24_percent_is_blocked(lender: LenderType) -> None:
    findings = evaluate_caps(D("24.01"), lender, ON)
    assert ("R-1.4", CapAction.BLOCK) in rules_of(findings)
    with pytest.raises(RateCapExceeded) as info:
        enforce_caps(D("24.01"), lender, ON)
    assert [f.rule_id for f in info.value.findings] == ["R-1.4"]
    assert info.value.findings[0].limit_percent == D(24)
    assert "R-1.4" in str(info.value)
    assert info.value.code == "rate_cap_exceeded"


def test_exactly_24_percent_is_not_blocked() -> None:
    # "block APR > 24 %": 24.00 itself passes (with the 4 x LPR warning before 2028).
    assert rules_of(enforce_caps(D("24.00"), SLC, ON)) == [("R-1.4/4xLPR", CapAction.WARN)]


def test_20_percent_warns_above_4x_lpr_in_2026() -> None:
    # LPR 3.0 % -> 4 x LPR = 12.00 %. Before 2028 this warns, it does not block.
    warnings = enforce_caps(D("20.00"), SLC, ON)
    assert rules_of(warnings) == [("R-1.4/4xLPR", CapAction.WARN)]
    assert warnings[0].limit_percent == D("12.00")
    assert warnings[0].apr_percent == D("20.00")


def test_above_4x_lpr_is_blocked_from_2028() -> None:
    assert rules_of(enforce_caps(D("12.50"), SLC, date(2027, 12, 31))) == [("R-1.4/4xLPR", CapAction.WARN)]
    with pytest.raises(RateCapExceeded) as info:
        enforce_caps(D("12.50"), SLC, date(2028, 1, 1))
    assert [(f.rule_id, f.limit_percent) for f in info.value.findings] == [("R-1.4/4xLPR", D("12.00"))]


@pytest.mark.parametrize("day", [ON, date(2028, 1, 1), date(2030, 6, 1)])
def test_exactly_4x_lpr_is_not_flagged(day: date) -> None:
    assert evaluate_caps(D("12.00"), SLC, day) == []


def test_bank_facilitation_above_24_percent_is_blocked_by_r_1_5() -> None:
    with pytest.raises(RateCapExceeded) as info:
        enforce_caps(D("24.50"), LenderType.BANK_FACILITATION, ON)
    assert [f.rule_id for f in info.value.findings] == ["R-1.5"]
    # no 4 x LPR rule for banks' facilitated loans
    assert enforce_caps(D("20.00"), LenderType.BANK_FACILITATION, date(2028, 6, 1)) == []


def test_banks_are_held_to_24_percent() -> None:
    with pytest.raises(RateCapExceeded):
        enforce_caps(D("24.01"), LenderType.BANK, ON)
    assert enforce_caps(D("23.99"), LenderType.BANK, ON) == []


def test_lpr_on_reads_the_dated_table() -> None:
    assert lpr_on(date(2026, 1, 20)) == D("0.03")
    assert lpr_on(ON) == D("0.03")
    table = (LprFixing(date(2030, 1, 20), D("0.0350")), LprFixing(date(2030, 2, 20), D("0.0275")))
    assert lpr_on(date(2030, 1, 20), table) == D("0.0350")
    assert lpr_on(date(2030, 2, 19), table) == D("0.0350")
    assert lpr_on(date(2030, 2, 20), table) == D("0.0275")  # effective on its publication date
    with pytest.raises(ValueError, match="no LPR"):
        lpr_on(date(2030, 1, 19), table)


def test_4x_lpr_cap_follows_the_lpr_on_the_contract_date() -> None:
    table = (LprFixing(date(2027, 1, 1), D("0.0300")), LprFixing(date(2029, 1, 20), D("0.0275")))
    # after a cut to 2.75 %, 4 x LPR = 11.00 %: 11.50 becomes blocking
    assert evaluate_caps(D("11.50"), SLC, date(2028, 6, 1), lpr_table=table) == []
    with pytest.raises(RateCapExceeded) as info:
        enforce_caps(D("11.50"), SLC, date(2029, 1, 20), lpr_table=table)
    assert info.value.findings[0].limit_percent == D("11.00")


# --- per-borrower limits (rule 11) ----------------------------------------------------------------


def exposure(**changes: Any) -> ExposureRequest:
    base = ExposureRequest(
        lender_type=LenderType.ONLINE_SMALL_LOAN_COMPANY,
        purpose=LoanPurpose.CONSUMPTION,
        borrower_kind=BorrowerKind.INDIVIDUAL,
        amount=D("200000"),
        term_months=12,
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
    )
    return replace(base, **changes)


def test_online_consumption_credit_up_to_200k() -> None:
    assert check_borrower_limits(exposure(amount=D("200000.00"))) == []
    [breach] = check_borrower_limits(exposure(amount=D("200000.01")))
    assert (breach.rule_id, breach.field, breach.limit) == ("R-4.1", "amount", D(200_000))
    [breach] = check_borrower_limits(exposure(amount=D("200001")))
    assert breach.field == "amount"


def test_existing_exposure_counts_towards_the_limit() -> None:
    assert check_borrower_limits(exposure(amount=D("50000"), existing_exposure=D("150000"))) == []
    [breach] = check_borrower_limits(exposure(amount=D("50001"), existing_exposure=D("150000")))
    assert "200001" in breach.message


def test_online_business_credit_up_to_10_million() -> None:
    business = {"purpose": LoanPurpose.BUSINESS, "borrower_kind": BorrowerKind.ENTERPRISE}
    assert check_borrower_limits(exposure(amount=D("10000000"), **business)) == []
    [breach] = check_borrower_limits(exposure(amount=D("10000001"), **business))
    assert (breach.rule_id, breach.limit) == ("R-4.1", D(10_000_000))


def test_single_borrower_share_of_net_assets() -> None:
    # 10 % of 5,000,000 net assets = 500,000 for one borrower; 15 % = 750,000 with related parties.
    common = {
        "lender_type": SLC,
        "purpose": LoanPurpose.BUSINESS,
        "borrower_kind": BorrowerKind.ENTERPRISE,
        "lender_net_assets": D("5000000"),
    }
    assert check_borrower_limits(exposure(amount=D("500000"), **common)) == []
    [breach] = check_borrower_limits(exposure(amount=D("400000"), existing_exposure=D("100001"), **common))
    assert breach.limit == D("500000")
    assert check_borrower_limits(exposure(amount=D("500000"), related_exposure=D("250000"), **common)) == []
    [breach] = check_borrower_limits(exposure(amount=D("500000"), related_exposure=D("250001"), **common))
    assert breach.limit == D("750000")
    assert "related" in breach.message


def test_bank_consumer_credit_limits() -> None:
    bank = {"lender_type": LenderType.BANK, "amount": D("50000")}
    assert check_borrower_limits(exposure(amount=D("200000"), lender_type=LenderType.BANK)) == []
    [breach] = check_borrower_limits(exposure(amount=D("200001"), lender_type=LenderType.BANK))
    assert breach.rule_id == "R-4.3"
    # a bullet-repayment consumer loan may run at most 12 months
    io = RepaymentMethod.INTEREST_ONLY
    assert check_borrower_limits(exposure(term_months=12, repayment_method=io, **bank)) == []
    [breach] = check_borrower_limits(exposure(term_months=13, repayment_method=io, **bank))
    assert (breach.rule_id, breach.field) == ("R-4.3", "term_months")
    # amortising loans are not bullets
    assert check_borrower_limits(exposure(term_months=36, **bank)) == []


# --- quotes and product admission -------------------------------------------------------------------

PRODUCT: dict[str, Any] = {
    "code": "CAP-T",
    "name": "上限测试贷",
    "borrower_kinds": ["individual_business", "enterprise"],
    "purpose": "business",
    "lender_type": "small_loan_company",
    "amount_min": "1000.00",
    "amount_max": "100000.00",
    "term_options_months": [6, 12],
    "repayment_method": "equal_installment",
    "rate_annual_min": "0.0600",
    "rate_annual_max": "0.3000",
    "day_count": "ACT/365",
}


def product(**changes: Any) -> LoanProduct:
    return parse_product(PRODUCT | changes)


def test_quote_gives_schedule_and_apr() -> None:
    quote = make_quote(product(), D("10000.00"), 12, D("0.12"), ON)
    assert quote.apr_percent == D("12.00")
    assert quote.warnings == ()
    assert quote.schedule.installments[0].payment == D("888.49")
    assert quote.rate_daily == D("0.12") / 365


def test_quote_without_a_rate_uses_the_lowest() -> None:
    assert make_quote(product(), D("10000.00"), 12, None, ON).rate_annual == D("0.06")


def test_quote_above_4x_lpr_carries_the_warning() -> None:
    quote = make_quote(product(), D("10000.00"), 12, D("0.18"), ON)
    assert [(w.rule_id, w.limit_percent) for w in quote.warnings] == [("R-1.4/4xLPR", D("12.00"))]


def test_quote_over_the_cap_is_refused_with_the_rule() -> None:
    with pytest.raises(RateCapExceeded) as info:
        make_quote(product(), D("10000.00"), 12, D("0.25"), ON)
    assert [f.rule_id for f in info.value.findings] == ["R-1.4"]
    assert info.value.findings[0].apr_percent > D(24)


def test_fees_count_towards_the_cap() -> None:
    # 20 % interest alone passes (warns); with a 5 % upfront fee on a 6-month loan it exceeds 24 %.
    fee_product = product(fees={"upfront_rate": "0.05"})
    assert make_quote(product(), D("10000.00"), 6, D("0.20"), ON).apr_percent < D(24)
    with pytest.raises(RateCapExceeded):
        make_quote(fee_product, D("10000.00"), 6, D("0.20"), ON)


@pytest.mark.parametrize(
    ("amount", "term", "rate", "field"),
    [
        ("999.99", 12, "0.12", "amount"),
        ("100000.01", 12, "0.12", "amount"),
        ("10000.00", 9, "0.12", "term_months"),
        ("10000.00", 12, "0.0599", "annual_rate"),
        ("10000.00", 12, "0.3001", "annual_rate"),
    ],
)
def test_quote_out_of_range_names_the_field(amount: str, term: int, rate: str, field: str) -> None:
    with pytest.raises(DomainValidationError) as info:
        make_quote(product(), D(amount), term, D(rate), ON)
    assert [p.path for p in info.value.problems] == [field]
    assert "CAP-T" in info.value.problems[0].message


def test_quote_names_every_bad_field_at_once() -> None:
    with pytest.raises(DomainValidationError) as info:
        make_quote(product(), D("1.00"), 7, D("0.99"), ON)
    assert {p.path for p in info.value.problems} == {"amount", "term_months", "annual_rate"}


def test_revolving_quote_apr_is_the_daily_rate_times_the_basis() -> None:
    rev_raw = PRODUCT | {"repayment_method": "revolving_daily", "rate_daily_min": "0.0002", "rate_daily_max": "0.0005"}
    del rev_raw["rate_annual_min"], rev_raw["rate_annual_max"]
    rev = parse_product(rev_raw)
    quote = make_quote(rev, D("10000.00"), 12, D("0.1825"), ON)
    assert quote.apr_percent == D("18.25")


def test_product_whose_dearest_loan_exceeds_24_percent_is_not_admissible() -> None:
    # max rate 20 % is fine on its own (a warning), but 1 % of the principal every month on top
    # takes the dearest loan well past 24 %.
    assert [w.rule_id for w in check_product_admissible(product(rate_annual_max="0.20"), ON)] == ["R-1.4/4xLPR"]
    dear = product(rate_annual_max="0.20", fees={"per_period_rate": "0.01"})
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(dear, ON)
    # the fee breaks the rule, not the rate: the refusal names the fee, with the figures
    assert [p.path for p in info.value.problems] == ["fees.per_period_rate"]
    message = info.value.problems[0].message
    assert "R-1.4" in message and "24" in message
    apr = D(re.search(r"APR of ([\d.]+) %", message).group(1))  # type: ignore[union-attr]
    assert apr > 24 and apr == worst_case_apr(dear, ON)


def test_the_fee_that_pushes_the_apr_over_the_cap_is_named_not_the_others() -> None:
    # a small fixed fee per period is harmless; the 6 % upfront fee on a six-month loan is not
    dear = product(rate_annual_max="0.18", fees={"upfront_rate": "0.06", "per_period_amount": "1.00"})
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(dear, ON)
    assert [p.path for p in info.value.problems] == ["fees.upfront_rate"]
    # two fees that only together break the cap are both named
    both = product(rate_annual_max="0.18", fees={"upfront_rate": "0.02", "per_period_rate": "0.003"})
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(both, ON)
    assert [p.path for p in info.value.problems] == ["fees.upfront_rate", "fees.per_period_rate"]
    # a rate over the cap on its own is named whatever the fees
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(product(fees={"upfront_rate": "0.02"}), ON)
    assert [p.path for p in info.value.problems] == ["rate_annual_max"]


def test_product_over_the_cap_by_its_rate_alone_is_not_admissible() -> None:
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(product(), ON)  # rate_annual_max 30 %
    assert "rate_annual_max" in {p.path for p in info.value.problems}


def test_product_lending_beyond_a_legal_limit_is_not_admissible() -> None:
    consumer = product(
        lender_type="online_small_loan_company",
        purpose="consumption",
        borrower_kinds=["individual"],
        rate_annual_max="0.12",
        amount_max="300000.00",
    )
    with pytest.raises(DomainValidationError) as info:
        check_product_admissible(consumer, ON)
    assert [p.path for p in info.value.problems] == ["amount_max"]
    assert check_product_admissible(product(rate_annual_max="0.12"), ON) == []
