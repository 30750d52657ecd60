"""Quotes: a product, an amount, a term and a rate -> the schedule, fees, APR and cap findings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from puhui.domain.apr import apr_of_daily_rate, apr_of_schedule
from puhui.domain.caps import CapFinding, enforce_caps, evaluate_caps
from puhui.domain.enums import PeriodInterest, RepaymentMethod
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.products import LoanProduct
from puhui.domain.schedule import LoanTerms, Schedule, generate
from puhui.money import ZERO


@dataclass(frozen=True, slots=True)
class Quote:
    product: LoanProduct
    amount: Decimal
    term_months: int
    rate_annual: Decimal
    schedule: Schedule
    apr_percent: Decimal
    warnings: tuple[CapFinding, ...]

    @property
    def rate_daily(self) -> Decimal:
        return self.product.rate_daily(self.rate_annual)

    @property
    def upfront_fee(self) -> Decimal:
        return self.schedule.terms.upfront_fee


def terms_for(product: LoanProduct, amount: Decimal, term_months: int, rate_annual: Decimal, start: date) -> LoanTerms:
    """Fixed-term terms; a revolving line is illustrated as held in full for the whole term,
    interest paid monthly on actual days (the most a borrower can owe at that draw)."""
    revolving = product.repayment_method is RepaymentMethod.REVOLVING_DAILY
    return LoanTerms(
        principal=amount,
        rate_annual=rate_annual,
        term_months=term_months,
        method=RepaymentMethod.INTEREST_ONLY if revolving else product.repayment_method,
        start_date=start,
        upfront_fee=product.fees.upfront_fee(amount),
        fee_per_period=product.fees.fee_per_period(amount),
        day_count=product.day_count,
        period_interest=PeriodInterest.ACTUAL_DAYS if revolving else product.period_interest,
    )


def check_request(product: LoanProduct, amount: Decimal, term_months: int, rate_annual: Decimal) -> None:
    problems: list[FieldProblem] = []
    if not product.amount_min <= amount <= product.amount_max:
        problems.append(
            FieldProblem("amount", f"must be between {product.amount_min} and {product.amount_max} for {product.code}")
        )
    if term_months not in product.term_options_months:
        options = ", ".join(str(t) for t in product.term_options_months)
        problems.append(FieldProblem("term_months", f"must be one of {options} for {product.code}"))
    if not product.rate_annual_min <= rate_annual <= product.rate_annual_max:
        problems.append(
            FieldProblem(
                "annual_rate",
                f"must be between {product.rate_annual_min} and {product.rate_annual_max} for {product.code}",
            )
        )
    if problems:
        raise DomainValidationError(problems)


def apr_percent_for(product: LoanProduct, schedule: Schedule) -> Decimal:
    if product.repayment_method is RepaymentMethod.REVOLVING_DAILY:
        return apr_of_daily_rate(product.rate_daily(schedule.terms.rate_annual), product.day_count)
    return apr_of_schedule(schedule)


def make_quote(
    product: LoanProduct, amount: Decimal, term_months: int, rate_annual: Decimal | None, start: date
) -> Quote:
    """A priced quote, refused (RateCapExceeded) when its APR breaches a blocking cap."""
    rate = product.rate_annual_min if rate_annual is None else rate_annual
    check_request(product, amount, term_months, rate)
    schedule = generate(terms_for(product, amount, term_months, rate, start))
    apr = apr_percent_for(product, schedule)
    warnings = enforce_caps(apr, product.lender_type, start)
    return Quote(product, amount, term_months, rate, schedule, apr, tuple(warnings))


def _aprs(product: LoanProduct, rate_annual: Decimal, on: date) -> list[Decimal]:
    """APRs at `rate_annual` for every term and both ends of the amount range (fixed fees weigh
    most on the smallest loan)."""
    return [apr for apr, _amount, _term in _priced(product, rate_annual, on)]


def _priced(product: LoanProduct, rate_annual: Decimal, on: date) -> list[tuple[Decimal, Decimal, int]]:
    """(APR, amount, term) at `rate_annual` for every term and both ends of the amount range."""
    return [
        (apr_percent_for(product, generate(terms_for(product, amount, term, rate_annual, on))), amount, term)
        for amount in sorted({product.amount_min, product.amount_max})
        for term in product.term_options_months
    ]


def worst_case_apr(product: LoanProduct, on: date) -> Decimal:
    """The highest APR the product can show (for the product card's "APR up to")."""
    return max(_aprs(product, product.rate_annual_max, on))


def cheapest_apr(product: LoanProduct, on: date) -> Decimal:
    """The lowest APR the product can show (for the product card's "APR from")."""
    return min(_aprs(product, product.rate_annual_min, on))


def worst_case_findings(product: LoanProduct, on: date) -> list[CapFinding]:
    """Cap findings for the dearest loan the product allows."""
    return evaluate_caps(worst_case_apr(product, on), product.lender_type, on)


FEE_PARTS = ("upfront_amount", "upfront_rate", "per_period_amount", "per_period_rate")


def _without(product: LoanProduct, parts: tuple[str, ...]) -> LoanProduct:
    return replace(product, fees=replace(product.fees, **{part: ZERO for part in parts}))


def _blocking(product: LoanProduct, on: date) -> list[CapFinding]:
    from puhui.domain.caps import CapAction

    return [f for f in worst_case_findings(product, on) if f.action is CapAction.BLOCK]


def cap_problems(product: LoanProduct, on: date) -> list[FieldProblem]:
    """The fields that take the product's dearest loan over a blocking cap, each with why: the
    highest rate when it breaks the cap on its own; otherwise the fees that push the APR over it
    (each fee whose removal alone brings the loan under the cap, or every fee charged when only
    their sum breaks it)."""
    blocking = _blocking(product, on)
    if not blocking:
        return []
    charged = tuple(part for part in FEE_PARTS if getattr(product.fees, part))
    rate_alone = _blocking(_without(product, charged), on) if charged else blocking
    if rate_alone:
        return [FieldProblem("rate_annual_max", f.message) for f in rate_alone]
    culprits = [part for part in charged if not _blocking(_without(product, (part,)), on)] or list(charged)
    apr, amount, term = max(_priced(product, product.rate_annual_max, on))
    without = max(_aprs(_without(product, charged), product.rate_annual_max, on))
    worst = max(blocking, key=lambda f: f.apr_percent - f.limit_percent)
    message = (
        f"with the fees, a {amount} loan over {term} months at the highest rate has an APR of {apr} % "
        f"({without} % without fees): above the {worst.limit_percent} % cap of rule {worst.rule_id}"
    )
    return [FieldProblem(f"fees.{part}", message) for part in culprits]


def check_product_admissible(product: LoanProduct, on: date) -> list[CapFinding]:
    """Refuse a product that could price a loan over a blocking cap or lend beyond a legal
    per-borrower limit, naming the fields that break the rule (`cap_problems`); return the
    warnings (e.g. above 4 x LPR before 2028)."""
    from puhui.domain.caps import CapAction, ExposureRequest, check_borrower_limits

    problems = cap_problems(product, on)
    for kind in product.borrower_kinds:
        request = ExposureRequest(
            lender_type=product.lender_type,
            purpose=product.purpose,
            borrower_kind=kind,
            amount=product.amount_max,
            term_months=max(product.term_options_months),
            repayment_method=product.repayment_method,
        )
        for breach in check_borrower_limits(request):
            path = "amount_max" if breach.field == "amount" else "term_options_months"
            problems.append(FieldProblem(path, breach.message))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise DomainValidationError(
            unique, f"product {product.code} is invalid: " + "; ".join(f"{p.path}: {p.message}" for p in unique)
        )
    return [f for f in worst_case_findings(product, on) if f.action is CapAction.WARN]
