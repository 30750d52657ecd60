"""Loan products as data: what may be lent, to whom, for how long, at what price.

A product arrives as a mapping (from a TOML file or the database) and is checked field by field;
every problem is reported with its field path and reason. Rates are decimal fractions.

The texts a borrower or an officer reads come in both languages: `name` (Chinese) beside `name_en`,
and `description` (English, the field's meaning since the first definitions) beside
`description_zh`. Only `name` is required; a definition stored before a text had its other
language (a version kept for a loan, say) still parses, and the pages show the text it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from puhui.domain.enums import (
    DEFAULT_ALLOCATION_ORDER,
    AllocationTarget,
    BorrowerKind,
    DayCount,
    LenderType,
    LoanPurpose,
    PeriodInterest,
    RepaymentMethod,
)
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.money import ZERO, round_money

PENALTY_MULTIPLIER_RANGE = (Decimal("0.3"), Decimal("0.5"))  # rules.md, rule 8 (overdue)
MAX_GRACE_DAYS = 30


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fees the borrower bears; each part is a fixed amount plus a rate of the principal."""

    upfront_amount: Decimal = ZERO
    upfront_rate: Decimal = ZERO
    per_period_amount: Decimal = ZERO
    per_period_rate: Decimal = ZERO

    def upfront_fee(self, principal: Decimal) -> Decimal:
        return self.upfront_amount + round_money(principal * self.upfront_rate)

    def fee_per_period(self, principal: Decimal) -> Decimal:
        return self.per_period_amount + round_money(principal * self.per_period_rate)

    @property
    def is_empty(self) -> bool:
        return not any((self.upfront_amount, self.upfront_rate, self.per_period_amount, self.per_period_rate))


@dataclass(frozen=True, slots=True)
class LoanProduct:
    code: str
    name: str
    borrower_kinds: tuple[BorrowerKind, ...]
    purpose: LoanPurpose
    amount_min: Decimal
    amount_max: Decimal
    term_options_months: tuple[int, ...]
    repayment_method: RepaymentMethod
    rate_annual_min: Decimal
    rate_annual_max: Decimal
    day_count: DayCount
    lender_type: LenderType
    fees: FeeSchedule = FeeSchedule()
    penalty_multiplier: Decimal = Decimal("0.5")
    grace_days: int = 0
    allocation_order: tuple[AllocationTarget, ...] = DEFAULT_ALLOCATION_ORDER
    period_interest: PeriodInterest = PeriodInterest.MONTHLY_RATE
    name_en: str = ""
    description: str = ""  # English
    description_zh: str = ""

    def rate_daily(self, rate_annual: Decimal) -> Decimal:
        return rate_annual / self.day_count.basis_days


T = TypeVar("T")


class _Reader:
    """Reads typed fields from a raw mapping, recording a FieldProblem for each bad one."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "") -> None:
        self.raw = raw
        self.prefix = prefix
        self.problems: list[FieldProblem] = []

    def fail(self, name: str, message: str) -> None:
        self.problems.append(FieldProblem(self.prefix + name, message))

    def get(self, name: str, convert: Callable[[Any], T], default: T | None = None) -> T | None:
        if name not in self.raw:
            if default is None:
                self.fail(name, "is required")
            return default
        try:
            return convert(self.raw[name])
        except (ValueError, TypeError, InvalidOperation) as exc:
            self.fail(name, str(exc) or "is invalid")
            return None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _optional_text(value: Any) -> str:
    """A text that may be left out or empty ("" then): the other language is shown instead."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value.strip()


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float | bool):
        raise ValueError('write decimals as strings ("0.12"), not floating point')
    if not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal number written as a string")
    number = Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValueError("must be a non-negative number")
    return number


def _amount(value: Any) -> Decimal:
    number = _decimal(value)
    if number != round_money(number):
        raise ValueError("must have at most two decimals")
    return round_money(number)


def _rate(value: Any) -> Decimal:
    number = _decimal(value)
    if number > 1:
        raise ValueError('is a fraction: 12 % is "0.12"')
    return number


def _enum(kind: type[Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise ValueError(f"{value!r} is not one of: {allowed}") from None

    return convert


def _enum_list(kind: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    one = _enum(kind)

    def convert(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("must be a non-empty list")
        items = tuple(one(item) for item in value)
        if len(set(items)) != len(items):
            raise ValueError("lists an entry twice")
        return items

    return convert


def _terms(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list of months")
    if any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 360 for v in value):
        raise ValueError("every term must be a whole number of months from 1 to 360")
    return tuple(sorted(set(value)))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a non-negative whole number")
    return value


def parse_product(raw: Mapping[str, Any]) -> LoanProduct:
    """Build a product from a mapping, or raise DomainValidationError naming every bad field."""
    r = _Reader(raw)
    fees = _parse_fees(raw.get("fees", {}), r)
    rates = _parse_rates(r)
    values = {
        "code": r.get("code", _code),
        "name": r.get("name", _text),
        "borrower_kinds": r.get("borrower_kinds", _enum_list(BorrowerKind)),
        "purpose": r.get("purpose", _enum(LoanPurpose)),
        "amount_min": r.get("amount_min", _amount),
        "amount_max": r.get("amount_max", _amount),
        "term_options_months": r.get("term_options_months", _terms),
        "repayment_method": r.get("repayment_method", _enum(RepaymentMethod)),
        "day_count": r.get("day_count", _enum(DayCount)),
        "lender_type": r.get("lender_type", _enum(LenderType)),
        "penalty_multiplier": r.get("penalty_multiplier", _decimal, Decimal("0.5")),
        "grace_days": r.get("grace_days", _int, 0),
        "allocation_order": r.get("allocation_order", _enum_list(AllocationTarget), DEFAULT_ALLOCATION_ORDER),
        "period_interest": r.get("period_interest", _enum(PeriodInterest), PeriodInterest.MONTHLY_RATE),
        "name_en": r.get("name_en", _optional_text, ""),
        "description": r.get("description", _optional_text, ""),
        "description_zh": r.get("description_zh", _optional_text, ""),
    }
    if r.problems:
        raise DomainValidationError(r.problems, _summary(raw, r.problems))
    day_count: DayCount = values["day_count"]  # type: ignore[assignment]
    rate_min, rate_max = _annual_rates(rates, day_count)
    product = LoanProduct(fees=fees, rate_annual_min=rate_min, rate_annual_max=rate_max, **values)  # type: ignore[arg-type]
    problems = check_product_rules(product)
    if "daily_max" in rates and rate_max > 1:  # annual rates above 1 are refused by _rate already
        problems.append(FieldProblem("rate_daily_max", f"is {rate_max} a year on {day_count.value}: above 100 %"))
    if problems:
        raise DomainValidationError(problems, _summary(raw, problems))
    return product


def _summary(raw: Mapping[str, Any], problems: list[FieldProblem]) -> str:
    code = raw.get("code", "?")
    details = "; ".join(f"{p.path}: {p.message}" for p in problems)
    return f"product {code!s} is invalid: {details}"


def _code(value: Any) -> str:
    text = _text(value)
    if len(text) > 40 or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("must be at most 40 letters, digits, '-' or '_'")
    return text


def _parse_rates(r: _Reader) -> dict[str, Decimal | None]:
    """Rates come as annual fractions, or as daily ones for products quoted by the day."""
    if "rate_daily_min" in r.raw or "rate_daily_max" in r.raw:
        if "rate_annual_min" in r.raw or "rate_annual_max" in r.raw:
            r.fail("rate_daily_min", "give the rate either as rate_annual_* or as rate_daily_*, not both")
        return {"daily_min": r.get("rate_daily_min", _rate), "daily_max": r.get("rate_daily_max", _rate)}
    return {"annual_min": r.get("rate_annual_min", _rate), "annual_max": r.get("rate_annual_max", _rate)}


def _annual_rates(rates: dict[str, Decimal | None], day_count: DayCount) -> tuple[Decimal, Decimal]:
    if "daily_min" in rates:
        low, high = rates["daily_min"], rates["daily_max"]
        assert low is not None and high is not None
        return low * day_count.basis_days, high * day_count.basis_days
    low, high = rates["annual_min"], rates["annual_max"]
    assert low is not None and high is not None
    return low, high


def _parse_fees(raw: Any, r: _Reader) -> FeeSchedule:
    if not isinstance(raw, Mapping):
        r.fail("fees", "must be a table of upfront_amount, upfront_rate, per_period_amount, per_period_rate")
        return FeeSchedule()
    known = {"upfront_amount", "upfront_rate", "per_period_amount", "per_period_rate"}
    for extra in sorted(set(raw) - known):
        r.fail(f"fees.{extra}", "is not a known fee (undisclosed charges are not allowed)")
    fr = _Reader(raw, "fees.")
    fees = FeeSchedule(
        upfront_amount=fr.get("upfront_amount", _amount, ZERO) or ZERO,
        upfront_rate=fr.get("upfront_rate", _rate, ZERO) or ZERO,
        per_period_amount=fr.get("per_period_amount", _amount, ZERO) or ZERO,
        per_period_rate=fr.get("per_period_rate", _rate, ZERO) or ZERO,
    )
    r.problems.extend(fr.problems)
    return fees


def check_product_rules(p: LoanProduct) -> list[FieldProblem]:
    """Consistency rules a product must satisfy whatever the regulator says."""
    problems: list[FieldProblem] = []

    def fail(path: str, message: str) -> None:
        problems.append(FieldProblem(path, message))

    if p.amount_min <= 0:
        fail("amount_min", "must be positive")
    if p.amount_max < p.amount_min:
        fail("amount_max", f"must not be below amount_min ({p.amount_min})")
    if p.rate_annual_max < p.rate_annual_min:
        fail("rate_annual_max", f"must not be below rate_annual_min ({p.rate_annual_min})")
    low, high = PENALTY_MULTIPLIER_RANGE
    if not low <= p.penalty_multiplier <= high:
        fail("penalty_multiplier", f"must be between {low} and {high} for overdue loans (R-2.3)")
    if p.grace_days > MAX_GRACE_DAYS:
        fail("grace_days", f"must be at most {MAX_GRACE_DAYS}")
    if sorted(p.allocation_order) != sorted(AllocationTarget):
        fail("allocation_order", "must list penalty, fees, interest and principal once each")
    if p.fees.upfront_fee(p.amount_min) >= p.amount_min:
        fail("fees.upfront_rate", "the upfront fee would swallow the whole principal")
    if p.repayment_method is RepaymentMethod.REVOLVING_DAILY and not p.fees.is_empty:
        fail("fees", "revolving lines are priced by their daily rate alone; fees are not supported")
    return problems
