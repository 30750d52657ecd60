"""The credit policy: knock-outs, price and limit, decided by three GoRules JDM tables.

The risk manager owns the tables in this directory (hand-editable JSON, or the JDM editor):

- `knockouts.json` — `declines` (hit policy *first*: the first matching row declines, and a
  decline is final) and `reviews` (hit policy *collect*: every matching row refers the
  application to a credit officer). It holds the age band, the minimum time in business, the
  bureau-DPD thresholds, the PD decline cutoff and grey zone, and which fraud flags refer.
- `pricing.json` — `pd_band`: PD band -> a position in [0, 1] inside the product's
  [rate_annual_min, rate_annual_max] (0 = the product's lowest rate, 1 = its highest).
- `limits.json` — `base_limit`: borrower kind x score band -> base limit in yuan;
  `affordability`: borrower kind -> the most of verified monthly income (individuals) or average
  monthly net cash inflow (businesses) that all debt service may take, and the cap that applies
  when that income is not verified.
- `version` — the version label of the set; the adapter appends a sha256 prefix of the JSON so
  a stored decision names exactly the tables that made it.

This module is the pure half: it hands facts to a `RulesEvaluator` (the zen-engine adapter in
`puhui.adapters.rules.zen`, or a fake) and turns the answers into a `PolicyResult`. The order is
product eligibility -> knock-outs -> pricing -> limits, because affordability is judged at the
offered rate. Tables only classify; every amount is computed here in Decimal (zen hands numbers
back as floats, so table constants are read back through `str`). The legal caps and per-borrower
limits are not policy either: they come from `puhui.domain.caps`, of which this module adopts the
optional R-4.2 natural-person ceiling. Its one number of its own is the 100-yuan step a limit is
rounded down to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any, Protocol

from puhui.domain.caps import (
    DEFAULT_CAP_RULES,
    DEFAULT_LIMITS,
    HUNDRED,
    LPR_TABLE,
    CapAction,
    ExposureRequest,
    LimitBreach,
    LimitConfig,
    check_borrower_limits,
)
from puhui.domain.enums import BorrowerKind, LenderType, RepaymentMethod
from puhui.domain.products import LoanProduct
from puhui.money import ZERO, round_money, round_rate

LIMIT_STEP_YUAN = Decimal(100)  # limits are offered in whole hundreds of yuan, rounded down
MONTHS_PER_YEAR = Decimal(12)
ONE = Decimal(1)

# R-4.2 (the 2020 online small-loan draft) is optional in caps.LimitConfig; the credit policy
# adopts its natural-person ceiling. The figure belongs in domain/caps.py once it is settled there.
R_4_2_NATURAL_PERSON_MAX = Decimal(300_000)
POLICY_LEGAL_LIMITS = replace(DEFAULT_LIMITS, natural_person_max=R_4_2_NATURAL_PERSON_MAX)


class Outcome(StrEnum):
    """The same values as puhui.risk.decision.Outcome (defined here so decision can import policy)."""

    APPROVED = "approved"
    DECLINED = "declined"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Reason:
    """The same shape as puhui.risk.decision.Reason."""

    code: str
    text_zh: str
    text_en: str


class PolicyTable(StrEnum):
    KNOCKOUTS = "knockouts"
    PRICING = "pricing"
    LIMITS = "limits"


@dataclass(frozen=True, slots=True)
class RulesOutcome:
    result: dict[str, Any]
    trace: dict[str, Any]  # the engine's trace of every node: the audit record


class RulesEvaluator(Protocol):
    """Evaluates a named policy table on a JSON-like context."""

    @property
    def policy_version(self) -> str: ...

    def evaluate(self, name: str, context: Mapping[str, object]) -> RulesOutcome: ...


class PolicyTableError(RuntimeError):
    """A table is missing, malformed, or answered something the policy cannot use."""


@dataclass(frozen=True, slots=True)
class PolicyInput:
    borrower_kind: BorrowerKind
    product: LoanProduct
    amount_requested: Decimal
    term_months: int
    decided_on: date
    pd: float  # the model's probability of default, 0..1
    score: int
    # individuals: verified monthly income; businesses: average monthly net cash inflow
    income_monthly_verified: Decimal | None = None
    debt_service_monthly: Decimal = ZERO  # existing installments, all lenders
    age_years: int | None = None  # the individual's, or the owner's for a business
    years_in_business: float | None = None
    bureau_max_dpd_24m: int | None = None  # None: no bureau file
    overdue_elsewhere: bool = False
    fraud_flags: tuple[str, ...] = ()  # risk.fraud.FraudFlag codes, e.g. "velocity"
    existing_exposure: Decimal = ZERO  # this borrower's outstanding with the lender
    lender_net_assets: Decimal | None = None  # prior year-end, for the 10 % rule of
    legal_limits: LimitConfig = POLICY_LEGAL_LIMITS

    def __post_init__(self) -> None:
        if not 0.0 <= self.pd <= 1.0:
            raise ValueError(f"pd must be a probability between 0 and 1, not {self.pd}")
        if self.amount_requested <= 0 or self.term_months <= 0:
            raise ValueError("the requested amount and term must be positive")
        amounts = (self.income_monthly_verified, self.debt_service_monthly, self.existing_exposure)
        if any(a is not None and a < 0 for a in amounts):
            raise ValueError("income, debt service and exposure cannot be negative")


class LimitSource(StrEnum):
    SCORE_BAND = "score_band"
    AFFORDABILITY = "affordability"
    UNVERIFIED_INCOME = "unverified_income"
    LEGAL = "legal"
    PRODUCT_MAX = "product_max"


@dataclass(frozen=True, slots=True)
class LimitCap:
    """One ceiling on the credit limit: the most `source` allows as a limit (yuan, already rounded
    down to the 100-yuan step), and why."""

    source: LimitSource
    amount: Decimal
    reason: Reason


@dataclass(frozen=True, slots=True)
class PolicyResult:
    outcome: Outcome
    credit_limit: Decimal  # rounded down to 100 yuan; 0 when declined
    approved_amount: Decimal  # min(requested, limit) when approved, else 0
    annual_rate: Decimal | None  # fraction, 4 decimals; None when declined
    reasons: tuple[Reason, ...]
    trace: dict[str, Any]  # table name -> zen trace, JSON-serialisable
    policy_version: str
    limit_caps: tuple[LimitCap, ...] = ()  # every ceiling considered, for the credit officer
    pd_band: str | None = None


POLICY_MET = Reason("POLICY_MET", "符合授信政策", "meets the credit policy")


def apply_policy(inputs: PolicyInput, rules: RulesEvaluator) -> PolicyResult:
    """The policy decision: declined, referred to a credit officer, or approved with a limit and rate."""
    run = _Run(rules)
    ineligible = _product_problems(inputs)
    if ineligible:
        return run.declined(ineligible)
    knockouts = run.evaluate(PolicyTable.KNOCKOUTS, _knockout_facts(inputs))
    decline = knockouts.get("decline")
    if decline is not None:
        return run.declined((_reason_of(decline, PolicyTable.KNOCKOUTS),))
    referrals = tuple(_reason_of(row, PolicyTable.KNOCKOUTS) for row in _rows(knockouts, "reviews"))
    price = _price(inputs, run.evaluate(PolicyTable.PRICING, {"pd": inputs.pd}))
    if price.rate is None:
        return run.declined(price.reasons, pd_band=price.band)
    limit = _assign_limit(inputs, price.rate, run.evaluate(PolicyTable.LIMITS, _limit_facts(inputs)))
    if limit.amount < inputs.product.amount_min:  # even when referred: there is nothing to approve
        return run.declined((*limit.reasons, _below_minimum(limit.amount, inputs.product)), limit.caps, price.band)
    outcome = Outcome.REVIEW if referrals else Outcome.APPROVED
    return PolicyResult(
        outcome=outcome,
        credit_limit=limit.amount,
        approved_amount=min(inputs.amount_requested, limit.amount) if outcome is Outcome.APPROVED else ZERO,
        annual_rate=price.rate,
        reasons=_unique((*(referrals or (POLICY_MET,)), *limit.reasons, *price.reasons)),
        trace=run.traces,
        policy_version=rules.policy_version,
        limit_caps=limit.caps,
        pd_band=price.band,
    )


@dataclass
class _Run:
    """One evaluation: the tables asked so far and their traces."""

    rules: RulesEvaluator
    traces: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, table: PolicyTable, facts: Mapping[str, object]) -> dict[str, Any]:
        outcome = self.rules.evaluate(table.value, facts)
        self.traces[table.value] = outcome.trace
        return outcome.result

    def declined(
        self, reasons: Sequence[Reason], caps: tuple[LimitCap, ...] = (), pd_band: str | None = None
    ) -> PolicyResult:
        return PolicyResult(
            Outcome.DECLINED, ZERO, ZERO, None, _unique(reasons), self.traces, self.rules.policy_version, caps, pd_band
        )


# --- product eligibility (the product's own rules, before any table) -------------------------------


def _product_problems(inputs: PolicyInput) -> tuple[Reason, ...]:
    product = inputs.product
    if inputs.borrower_kind not in product.borrower_kinds:
        return (
            Reason(
                "KIND_NOT_ELIGIBLE", "该产品不面向此类借款人", "this product is not offered to this kind of borrower"
            ),
        )
    problems: list[Reason] = []
    if inputs.term_months not in product.term_options_months:
        options = ", ".join(str(t) for t in product.term_options_months)
        problems.append(
            Reason(
                "OUTSIDE_PRODUCT",
                f"期限须为{options}个月之一",
                f"the term must be one of {options} months for {product.code}",
            )
        )
    if inputs.amount_requested < product.amount_min:
        problems.append(
            Reason(
                "OUTSIDE_PRODUCT",
                f"申请金额低于产品最低金额{_yuan(product.amount_min)}元",
                f"the amount requested is below the product minimum of {_yuan(product.amount_min)} yuan",
            )
        )
    # a bank's bullet consumer loan may not run longer than a year, whatever the amount
    for breach in _legal_breaches(inputs, inputs.amount_requested):
        if breach.field == "term_months":
            problems.append(Reason(f"LIMIT_{breach.rule_id}", "期限超过监管规定", breach.message))
    return tuple(problems)


# --- knock-outs -----------------------------------------------------------------------------------


def _knockout_facts(inputs: PolicyInput) -> dict[str, object]:
    return {
        "borrower_kind": inputs.borrower_kind.value,
        "amount_requested": float(inputs.amount_requested),  # a band look-up only (see the module docstring)
        "age_years": inputs.age_years,
        "years_in_business": inputs.years_in_business,
        "bureau_max_dpd_24m": inputs.bureau_max_dpd_24m,
        "overdue_elsewhere": inputs.overdue_elsewhere,
        "pd": inputs.pd,
        "fraud_flags": [str(flag) for flag in inputs.fraud_flags],
    }


# --- pricing --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Price:
    rate: Decimal | None  # None: the product cannot be priced under the legal cap
    band: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class RateCap:
    rule_id: str
    rate_annual: Decimal  # fraction


def blocking_rate_cap(lender_type: LenderType, on: date) -> RateCap | None:
    """The lowest blocking cap (domain/caps.py) on the rate of `lender_type`'s new loans on `on`."""
    caps = [
        RateCap(rule.rule_id, rule.limit_percent(on, LPR_TABLE) / HUNDRED)
        for rule in DEFAULT_CAP_RULES
        if rule.action is CapAction.BLOCK and lender_type in rule.lender_types and rule.in_force(on)
    ]
    return min(caps, key=lambda cap: cap.rate_annual, default=None)


def _price(inputs: PolicyInput, answer: Mapping[str, Any]) -> _Price:
    row = _section(answer, "price", PolicyTable.PRICING)
    band = _text(row, "pd_band", PolicyTable.PRICING)
    position = _number(row, "rate_position", PolicyTable.PRICING)
    if position > ONE:
        raise PolicyTableError(f"pricing.json: rate_position {position} is outside [0, 1]")
    product = inputs.product
    rate = round_rate(product.rate_annual_min + position * (product.rate_annual_max - product.rate_annual_min))
    rate = min(max(rate, product.rate_annual_min), product.rate_annual_max)
    cap = blocking_rate_cap(product.lender_type, inputs.decided_on)
    if cap is None or rate <= cap.rate_annual:
        return _Price(rate, band, ())
    cap_percent = _percent(cap.rate_annual)
    if cap.rate_annual < product.rate_annual_min:
        reason = Reason(
            f"CAP_{cap.rule_id}",
            f"产品最低利率高于监管上限{cap_percent}%",
            f"the product's lowest rate is above the {cap_percent} % legal cap ({cap.rule_id})",
        )
        return _Price(None, band, (reason,))
    reason = Reason(
        f"CAP_{cap.rule_id}",
        f"定价受监管利率上限约束，按{cap_percent}%执行",
        f"the risk-based rate is above the legal cap: priced at the {cap_percent} % cap ({cap.rule_id})",
    )
    return _Price(round_rate(cap.rate_annual), band, (reason,))


# --- limits ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Limit:
    amount: Decimal
    caps: tuple[LimitCap, ...]
    reasons: tuple[Reason, ...]  # the binding caps' reasons, and the unverified-income notice


def _limit_facts(inputs: PolicyInput) -> dict[str, object]:
    return {"borrower_kind": inputs.borrower_kind.value, "score": inputs.score}


def _assign_limit(inputs: PolicyInput, rate_annual: Decimal, answer: Mapping[str, Any]) -> _Limit:
    base = _section(answer, "base", PolicyTable.LIMITS)
    affordability = _section(answer, "affordability", PolicyTable.LIMITS)
    product = inputs.product
    caps = [
        _score_band_cap(base),
        _affordability_cap(inputs, rate_annual, affordability),
        LimitCap(
            LimitSource.PRODUCT_MAX,
            _round_down_to_step(product.amount_max),
            Reason(
                "LIMIT_PRODUCT_MAX",
                f"产品最高额度为{_yuan(product.amount_max)}元",
                f"the product lends at most {_yuan(product.amount_max)} yuan",
            ),
        ),
    ]
    caps += _legal_caps(inputs, min(cap.amount for cap in caps))
    lowest = min(cap.amount for cap in caps)
    binding = [cap.reason for cap in caps if cap.amount == lowest]
    notices = [cap.reason for cap in caps if cap.source is LimitSource.UNVERIFIED_INCOME]
    return _Limit(lowest, tuple(caps), _unique((*binding, *notices)))


def _score_band_cap(row: Mapping[str, Any]) -> LimitCap:
    band = _text(row, "score_band", PolicyTable.LIMITS)
    amount = _round_down_to_step(_number(row, "limit_yuan", PolicyTable.LIMITS))
    return LimitCap(
        LimitSource.SCORE_BAND,
        amount,
        Reason(
            "LIMIT_SCORE_BAND",
            f"评分档位{band}的基础额度为{_yuan(amount)}元",
            f"the base limit of score band {band} is {_yuan(amount)} yuan",
        ),
    )


def _affordability_cap(inputs: PolicyInput, rate_annual: Decimal, row: Mapping[str, Any]) -> LimitCap:
    income = inputs.income_monthly_verified
    if income is None:
        cap = _round_down_to_step(_number(row, "unverified_income_cap_yuan", PolicyTable.LIMITS))
        return LimitCap(
            LimitSource.UNVERIFIED_INCOME,
            cap,
            Reason(
                "LIMIT_INCOME_NOT_VERIFIED",
                f"收入未经核实，额度不超过{_yuan(cap)}元",
                f"income is not verified: the limit is at most {_yuan(cap)} yuan",
            ),
        )
    share = _number(row, "max_debt_service_share", PolicyTable.LIMITS)
    if share > ONE:
        raise PolicyTableError(f"limits.json: max_debt_service_share {share} is above 1")
    payment_max = share * income - inputs.debt_service_monthly
    amount = _round_down_to_step(max_affordable_principal(inputs.product, inputs.term_months, rate_annual, payment_max))
    individual = inputs.borrower_kind is BorrowerKind.INDIVIDUAL
    income_zh = "核实月收入" if individual else "月均经营净现金流入"
    income_en = "verified monthly income" if individual else "average monthly net cash inflow"
    debt = _yuan(inputs.debt_service_monthly)
    percent = _percent(share)
    return LimitCap(
        LimitSource.AFFORDABILITY,
        amount,
        Reason(
            "LIMIT_AFFORDABILITY",
            f"月供与现有月还款（{debt}元）合计不得超过{income_zh}（{_yuan(income)}元）的{percent}%，"
            f"额度以{_yuan(amount)}元为限",
            f"the installment plus existing debt service ({debt} yuan a month) may not exceed {percent} % of"
            f" {income_en} ({_yuan(income)} yuan): the limit is held to {_yuan(amount)} yuan",
        ),
    )


def max_affordable_principal(
    product: LoanProduct, term_months: int, rate_annual: Decimal, payment_max_monthly: Decimal
) -> Decimal:
    """The largest principal whose highest regular installment, fees included, is at most
    `payment_max_monthly` (what income leaves for a new loan beside the existing debt service)."""
    fees = product.fees
    room = payment_max_monthly - fees.per_period_amount
    if room <= 0:
        return ZERO
    return room / (installment_per_yuan(product.repayment_method, rate_annual, term_months) + fees.per_period_rate)


def installment_per_yuan(method: RepaymentMethod, rate_annual: Decimal, term_months: int) -> Decimal:
    """The highest regular monthly installment per yuan of principal (§2 formulas, annual / 12).

    Equal-principal and flat-rate loans pay most in the first month. Bullet loans (interest-only,
    revolving) are judged on the equal-installment payment: the interest alone would let a
    borrower take a principal they could never repay from income.
    """
    rate = rate_annual / MONTHS_PER_YEAR
    n = Decimal(term_months)
    if method in (RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.FLAT_RATE):
        return ONE / n + rate
    if rate == 0:
        return ONE / n
    growth = (ONE + rate) ** term_months
    return rate * growth / (growth - ONE)


def _legal_breaches(inputs: PolicyInput, amount: Decimal) -> list[LimitBreach]:
    product = inputs.product
    request = ExposureRequest(
        lender_type=product.lender_type,
        purpose=product.purpose,
        borrower_kind=inputs.borrower_kind,
        amount=amount,
        term_months=inputs.term_months,
        repayment_method=product.repayment_method,
        existing_exposure=inputs.existing_exposure,
        lender_net_assets=inputs.lender_net_assets,
    )
    return check_borrower_limits(request, inputs.legal_limits)


def _legal_caps(inputs: PolicyInput, candidate: Decimal) -> list[LimitCap]:
    """The per-borrower limits of rules.md rule 11 that `candidate` would breach, as ceilings on
    the new line: each limit on total exposure leaves room for the limit less what is owed now."""
    caps = []
    owed = inputs.existing_exposure
    for breach in _legal_breaches(inputs, candidate):
        if breach.field != "amount":
            continue
        room = _round_down_to_step(max(breach.limit - owed, ZERO))
        reason = Reason(
            f"LIMIT_{breach.rule_id}",
            f"受监管单户限额约束（{breach.rule_id}：上限{_yuan(breach.limit)}元，现有余额{_yuan(owed)}元）",
            f"the legal per-borrower limit of {_yuan(breach.limit)} yuan ({breach.rule_id}) leaves"
            f" {_yuan(room)} yuan beside the {_yuan(owed)} yuan already owed",
        )
        caps.append(LimitCap(LimitSource.LEGAL, room, reason))
    return caps


def _below_minimum(limit: Decimal, product: LoanProduct) -> Reason:
    return Reason(
        "LIMIT_BELOW_PRODUCT_MIN",
        f"核定额度{_yuan(limit)}元低于产品最低金额{_yuan(product.amount_min)}元",
        f"the limit of {_yuan(limit)} yuan is below the product minimum of {_yuan(product.amount_min)} yuan",
    )


def _round_down_to_step(amount: Decimal) -> Decimal:
    # Down, never half-up: rounding a limit up would lend past the cap that set it.
    steps = (amount / LIMIT_STEP_YUAN).to_integral_value(rounding=ROUND_FLOOR)
    return round_money(steps * LIMIT_STEP_YUAN)


# --- reading table answers ------------------------------------------------------------------------


def _section(answer: Mapping[str, Any], key: str, table: PolicyTable) -> Mapping[str, Any]:
    value = answer.get(key)
    if not isinstance(value, Mapping):
        raise PolicyTableError(f"{table.value}.json has no '{key}' row for these facts")
    return value


def _rows(answer: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = answer.get(key, [])
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        raise PolicyTableError(f"'{key}' must be a list of rows")
    return value


def _text(row: Mapping[str, Any], name: str, table: PolicyTable) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise PolicyTableError(f"{table.value}.json: '{name}' must be a non-empty string, not {value!r}")
    return value


def _number(row: Mapping[str, Any], name: str, table: PolicyTable) -> Decimal:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyTableError(f"{table.value}.json: '{name}' must be a number, not {value!r}")
    # zen returns JSON numbers as floats: through str, a table's 0.4 is read back as exactly 0.4
    number = Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise PolicyTableError(f"{table.value}.json: '{name}' must be a non-negative number, not {value!r}")
    return number


def _reason_of(row: object, table: PolicyTable) -> Reason:
    if not isinstance(row, Mapping):
        raise PolicyTableError(f"{table.value}.json: a reason row must be an object, not {row!r}")
    return Reason(_text(row, "code", table), _text(row, "text_zh", table), _text(row, "text_en", table))


# --- small helpers --------------------------------------------------------------------------------


def _unique(reasons: Sequence[Reason]) -> tuple[Reason, ...]:
    return tuple(dict.fromkeys(reasons))


def _yuan(amount: Decimal) -> str:
    """An amount for a reason's text: thousands separated, fen only when there are any."""
    rounded = round_money(amount)
    return f"{rounded:,.0f}" if rounded == rounded.to_integral_value() else f"{rounded:,}"


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * HUNDRED).normalize():f}"
