"""Product definitions: the shipped TOML files load; bad ones are refused field by field."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from puhui.domain.caps import CapAction
from puhui.domain.enums import DayCount, LenderType, RepaymentMethod
from puhui.domain.errors import DomainValidationError
from puhui.domain.products import parse_product
from puhui.services.catalogue import DEMO_PRODUCTS_DIR, product_files, read_definition, validate_definition

D = Decimal
ON = date(2026, 11, 22)
SHIPPED = sorted((Path(__file__).resolve().parents[2] / "src" / "puhui" / "products").glob("*.toml"))

BASE: dict[str, Any] = {
    "code": "T-1",
    "name": "测试贷",
    "borrower_kinds": ["individual_business", "enterprise"],
    "purpose": "business",
    "lender_type": "online_small_loan_company",
    "amount_min": "1000.00",
    "amount_max": "100000.00",
    "term_options_months": [6, 12],
    "repayment_method": "equal_installment",
    "rate_annual_min": "0.0600",
    "rate_annual_max": "0.1200",
    "day_count": "ACT/360",
    "penalty_multiplier": "0.5",
    "grace_days": 3,
}


def definition(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def problems_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DomainValidationError) as info:
        parse_product(raw)
    error = info.value
    assert error.problems, "a refusal must say what is wrong"
    return {p.path: p.message for p in error.problems}


def test_the_catalogue_finds_every_shipped_product_once() -> None:
    assert SHIPPED, "the demo products must ship with the package"
    assert product_files() == SHIPPED
    codes = [read_definition(path)["code"] for path in SHIPPED]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_definitions_validate(path: Path) -> None:
    raw = read_definition(path)
    product, warnings = validate_definition(raw, ON)
    assert product.code == raw["code"]
    assert product.amount_min <= product.amount_max
    assert product.rate_annual_min <= product.rate_annual_max <= 1
    assert all(w.action is CapAction.WARN for w in warnings)  # nothing blocking may ship


def test_shipped_definitions_above_4x_lpr_warn_before_2028() -> None:
    # PH-EI lends up to 18 %: above 4 x LPR (12.00 %) but allowed, with a warning, until end-2027.
    product, warnings = validate_definition(read_definition(DEMO_PRODUCTS_DIR / "ph-ei.toml"), ON)
    assert product.rate_annual_max == D("0.18")
    assert [(w.rule_id, w.limit_percent) for w in warnings] == [("R-1.4/4xLPR", D("12.00"))]


def test_the_base_definition_used_below_is_valid() -> None:
    product = parse_product(definition())
    assert product.repayment_method is RepaymentMethod.EQUAL_INSTALLMENT
    assert product.lender_type is LenderType.ONLINE_SMALL_LOAN_COMPANY
    assert product.amount_max == D("100000.00")


def test_missing_code_is_named() -> None:
    problems = problems_of(definition(code=None))
    assert problems == {"code": "is required"}


def test_every_missing_required_field_is_named_at_once() -> None:
    problems = problems_of({"code": "X"})
    for name in ("name", "borrower_kinds", "purpose", "amount_min", "amount_max", "term_options_months"):
        assert problems[name] == "is required"
    assert "rate_annual_max" in problems


def test_unknown_repayment_method_lists_the_allowed_ones() -> None:
    problems = problems_of(definition(repayment_method="balloon"))
    assert set(problems) == {"repayment_method"}
    assert "'balloon' is not one of" in problems["repayment_method"]
    assert "equal_installment" in problems["repayment_method"]


def test_amount_max_below_amount_min() -> None:
    problems = problems_of(definition(amount_min="5000.00", amount_max="4999.99"))
    assert set(problems) == {"amount_max"}
    assert "amount_min" in problems["amount_max"]


def test_a_toml_float_rate_is_refused() -> None:
    text = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in BASE.items() if k != "rate_annual_max")
    raw = tomllib.loads(text + "\nrate_annual_max = 0.12\n")
    assert isinstance(raw["rate_annual_max"], float)
    problems = problems_of(raw)
    assert set(problems) == {"rate_annual_max"}
    assert "strings" in problems["rate_annual_max"]


@pytest.mark.parametrize("field", ["amount_min", "penalty_multiplier", "rate_annual_min"])
def test_floats_are_refused_everywhere(field: str) -> None:
    problems = problems_of(definition(**{field: 0.5}))
    assert "floating point" in problems[field]


def test_a_rate_above_one_is_refused_as_not_a_fraction() -> None:
    problems = problems_of(definition(rate_annual_max="12"))
    assert set(problems) == {"rate_annual_max"}
    assert "fraction" in problems["rate_annual_max"]


def test_rate_max_below_rate_min() -> None:
    problems = problems_of(definition(rate_annual_min="0.10", rate_annual_max="0.09"))
    assert set(problems) == {"rate_annual_max"}


@pytest.mark.parametrize("multiplier", ["0.29", "0.51", "1.0", "0"])
def test_penalty_multiplier_outside_30_to_50_percent_is_refused(multiplier: str) -> None:
    problems = problems_of(definition(penalty_multiplier=multiplier))
    assert set(problems) == {"penalty_multiplier"}
    assert "R-2.3" in problems["penalty_multiplier"]


@pytest.mark.parametrize("multiplier", ["0.3", "0.4", "0.5"])
def test_penalty_multiplier_within_the_range_is_accepted(multiplier: str) -> None:
    assert parse_product(definition(penalty_multiplier=multiplier)).penalty_multiplier == D(multiplier)


def test_allocation_order_missing_an_item() -> None:
    problems = problems_of(definition(allocation_order=["penalty", "fees", "interest"]))
    assert set(problems) == {"allocation_order"}
    assert "principal" in problems["allocation_order"]


def test_allocation_order_listing_an_item_twice() -> None:
    problems = problems_of(definition(allocation_order=["penalty", "fees", "interest", "interest"]))
    assert set(problems) == {"allocation_order"}


def test_unknown_fee_key_is_an_undisclosed_charge() -> None:
    problems = problems_of(definition(fees={"per_period_rate": "0.001", "insurance": "50.00"}))
    assert set(problems) == {"fees.insurance"}
    assert "not a known fee" in problems["fees.insurance"]


def test_bad_fee_value_names_the_fee() -> None:
    problems = problems_of(definition(fees={"upfront_amount": "10.005"}))
    assert set(problems) == {"fees.upfront_amount"}


def test_revolving_product_with_fees_is_refused() -> None:
    raw = definition(
        repayment_method="revolving_daily",
        rate_annual_min=None,
        rate_annual_max=None,
        rate_daily_min="0.0002",
        rate_daily_max="0.0005",
        fees={"upfront_rate": "0.01"},
    )
    problems = problems_of(raw)
    assert set(problems) == {"fees"}
    assert "revolving" in problems["fees"]


@pytest.mark.parametrize("fees", [{"upfront_rate": "1"}, {"upfront_amount": "1000.00"}])
def test_an_upfront_fee_that_swallows_the_principal_is_refused(fees: dict[str, str]) -> None:
    problems = problems_of(definition(fees=fees))
    assert len(problems) == 1
    [(path, message)] = problems.items()
    assert path.startswith("fees.upfront")
    assert "swallow" in message


def test_a_large_but_possible_upfront_fee_is_parsed() -> None:
    product = parse_product(definition(fees={"upfront_amount": "999.99"}))
    assert product.fees.upfront_fee(D("1000.00")) == D("999.99")


@pytest.mark.parametrize(
    ("basis", "low", "high"),
    [("ACT/365", "0.0730", "0.1825"), ("ACT/360", "0.0720", "0.1800")],
)
def test_daily_rates_convert_to_annual_by_the_basis(basis: str, low: str, high: str) -> None:
    raw = definition(
        repayment_method="revolving_daily",
        day_count=basis,
        rate_annual_min=None,
        rate_annual_max=None,
        rate_daily_min="0.0002",
        rate_daily_max="0.0005",
    )
    product = parse_product(raw)
    assert product.day_count is DayCount(basis)
    assert (product.rate_annual_min, product.rate_annual_max) == (D(low), D(high))
    assert product.rate_daily(product.rate_annual_max) == D("0.0005")


def test_shipped_revolving_product_is_quoted_by_the_day() -> None:
    product, _ = validate_definition(read_definition(DEMO_PRODUCTS_DIR / "ph-rev.toml"), ON)
    assert product.repayment_method is RepaymentMethod.REVOLVING_DAILY
    assert product.rate_annual_max == D("0.0005") * 365


def test_invalid_toml_is_a_validation_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('code = "X\n', encoding="utf-8")
    with pytest.raises(DomainValidationError) as info:
        read_definition(path)
    assert info.value.problems[0].path == "broken.toml"


def test_error_message_names_the_product_and_every_problem() -> None:
    with pytest.raises(DomainValidationError) as info:
        parse_product(definition(code="BAD-1", amount_min="10.001", repayment_method="x"))
    message = str(info.value)
    assert "BAD-1" in message and "amount_min" in message and "repayment_method" in message


def test_a_daily_rate_above_100_percent_a_year_is_refused_by_name() -> None:
    # 0.5 % a day is 182.5 % a year on ACT/365: refused as a product error, not left to crash later.
    raw = definition(
        repayment_method="revolving_daily",
        day_count="ACT/365",
        rate_annual_min=None,
        rate_annual_max=None,
        rate_daily_min="0.0002",
        rate_daily_max="0.005",
    )
    problems = problems_of(raw)
    assert set(problems) == {"rate_daily_max"}
    assert "1.825" in problems["rate_daily_max"]
    with pytest.raises(DomainValidationError):
        validate_definition(raw, ON)


def test_annual_and_daily_rates_together_are_refused() -> None:
    raw = dict(read_definition(DEMO_PRODUCTS_DIR / "ph-rev.toml"))
    raw["rate_annual_min"] = "0.10"
    raw["rate_annual_max"] = "0.12"
    with pytest.raises(DomainValidationError) as info:
        parse_product(raw)
    assert "rate_daily_min" in [p.path for p in info.value.problems]


# ---- texts in both languages --------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_product_has_its_name_and_description_in_chinese_and_english(path: Path) -> None:
    product = parse_product(read_definition(path))
    for chinese in (product.name, product.description_zh):
        assert CJK.search(chinese), (product.code, chinese)
    for english in (product.name_en, product.description):
        assert re.search(r"[A-Za-z]{3,}", english), (product.code, english)
    assert product.description_zh != product.description


def test_a_definition_stored_before_the_chinese_description_still_parses() -> None:
    # what product_versions and loans' product_version hold from before: `description` in English only
    old = parse_product(definition(name_en="Test loan", description="An English description only."))
    assert (old.description, old.description_zh) == ("An English description only.", "")
    bare = parse_product(definition())  # nor with no English text at all
    assert (bare.name, bare.name_en, bare.description, bare.description_zh) == ("测试贷", "", "", "")


def test_the_chinese_description_is_read_trimmed() -> None:
    product = parse_product(definition(description_zh="  面向测试的贷款。 "))
    assert product.description_zh == "面向测试的贷款。"


@pytest.mark.parametrize("field", ["description_zh", "description", "name_en"])
def test_a_text_that_is_not_text_is_refused_by_name(field: str) -> None:
    assert problems_of(definition(**{field: ["不是", "文字"]})) == {field: "must be text"}
