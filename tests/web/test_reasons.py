"""The domain's and the services' reasons in Chinese on Chinese pages, for the console as for the
portal (`puhui.web.reasons`, messages in the shared catalogue): a product's field rules, the rate
caps (named on the field that breaks them), the per-borrower limits, the console's refusals; the
figures carried over, an unknown reason left as it is."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from puhui.domain.accrual import CURE_REASON
from puhui.domain.caps import ExposureRequest, check_borrower_limits
from puhui.domain.enums import BorrowerKind, LenderType, LoanPurpose, RepaymentMethod
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.pricing import check_product_admissible, check_request
from puhui.domain.products import parse_product
from puhui.services.borrowers import Conflict
from puhui.web import reasons
from puhui.web.console_products import errors as product_form_errors
from puhui.web.console_support import describe
from puhui.web.i18n import Domain, Language, gettext_for

ZH = gettext_for(Language.ZH, Domain.CONSOLE)
EN = gettext_for(Language.EN, Domain.CONSOLE)
ON = date(2026, 11, 22)
PRODUCT: dict[str, Any] = {
    "code": "R-T",
    "name": "理由测试贷",
    "borrower_kinds": ["individual_business", "enterprise"],
    "purpose": "business",
    "lender_type": "small_loan_company",
    "amount_min": "1000.00",
    "amount_max": "100000.00",
    "term_options_months": [6, 12],
    "repayment_method": "equal_installment",
    "rate_annual_min": "0.0600",
    "rate_annual_max": "0.1800",
    "day_count": "ACT/365",
}
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b(?!LPR\b|APR\b|SPC\b)[A-Za-z]{3,}\b")


def _problems(**changes: Any) -> list[FieldProblem]:
    with pytest.raises(DomainValidationError) as caught:
        check_product_admissible(parse_product(PRODUCT | changes), ON)
    return caught.value.problems


def _refused(**changes: Any) -> list[FieldProblem]:
    with pytest.raises(DomainValidationError) as caught:
        parse_product(PRODUCT | changes)
    return caught.value.problems


def _chinese(message: str) -> str:
    shown = reasons.known(message, ZH)
    assert shown is not None, message
    assert CJK.search(shown) and not ENGLISH.search(shown), shown
    assert reasons.known(message, EN) is not None, message  # the English page has its own wording too
    return shown


@pytest.mark.parametrize(
    "changes",
    [
        {"penalty_multiplier": "0.9"},
        {"grace_days": 99},
        {"amount_max": "500.00"},
        {"rate_annual_max": "0.0500"},
        {"fees": {"hidden_fee": "1.00"}},
        {"fees": {"upfront_rate": "1.5"}},
        {"term_options_months": [0]},
        {"name": " "},
        {"description_zh": 5},
        {"amount_min": "10.005"},
        {"amount_min": "-1"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_a_products_field_rules_read_in_chinese(changes: dict[str, Any]) -> None:
    for problem in _refused(**changes):
        _chinese(problem.message)


def test_a_rate_cap_reads_in_chinese_with_its_figures_and_the_rules_words() -> None:
    (over,) = _problems(rate_annual_max="0.3000")
    shown = _chinese(over.message)
    apr = re.search(r"APR ([\d.]+) %", over.message).group(1)  # type: ignore[union-attr]
    assert apr in shown and "24 %" in shown and "R-1.4" in shown
    assert ZH("small-loan company: no new loan with a comprehensive cost above 24 %") in shown


def test_a_fee_over_the_cap_reads_in_chinese_beside_the_fee_on_the_console_form() -> None:
    problems = _problems(fees={"upfront_rate": "0.0800"})
    assert [p.path for p in problems] == ["fees.upfront_rate"]
    shown = product_form_errors(DomainValidationError(problems), ZH)
    assert list(shown) == ["fees_upfront_rate"]  # the form's field, not the highest rate's
    (message,) = shown["fees_upfront_rate"]
    assert CJK.search(message) and not ENGLISH.search(message), message
    figures = re.findall(r"\d+(?:\.\d+)?", problems[0].message)
    assert all(f in message for f in figures), (figures, message)


def test_a_per_borrower_limit_reads_in_chinese() -> None:
    request = ExposureRequest(
        LenderType.ONLINE_SMALL_LOAN_COMPANY,
        LoanPurpose.CONSUMPTION,
        BorrowerKind.INDIVIDUAL,
        Decimal("300000.00"),
        12,
        RepaymentMethod.EQUAL_INSTALLMENT,
    )
    (breach,) = check_borrower_limits(request)
    shown = _chinese(breach.message)
    assert "300000.00" in shown and ZH("consumption credit") in shown


def test_the_consoles_refusals_name_the_field_and_say_why_in_chinese() -> None:
    product = parse_product(PRODUCT)
    with pytest.raises(DomainValidationError) as caught:  # an officer's terms outside the product's range
        check_request(product, Decimal("500.00"), 12, product.rate_annual_min)
    refused = describe(caught.value, ZH)
    assert refused.status == 422 and CJK.search(refused.message)
    ((label, reason),) = refused.fields
    assert label == ZH("Amount (yuan)") and CJK.search(label)
    assert reason == ZH("must be between {low} and {high}").format(low="1000.00", high="100000.00"), reason
    assert CJK.search(reason)
    conflict = describe(Conflict("the end of day for 2026-11-22 is already running or done", "business_date"), ZH)
    assert conflict.status == 409 and "2026-11-22" in conflict.message
    assert not ENGLISH.search(conflict.message), conflict.message


def test_the_reason_of_an_upgrade_reads_in_chinese() -> None:
    _chinese(CURE_REASON)


def test_an_unknown_reason_stays_as_it_is() -> None:
    assert reasons.known("a reason nobody has worded yet", ZH) is None
    assert reasons.reason("a reason nobody has worded yet", ZH) == "a reason nobody has worded yet"
