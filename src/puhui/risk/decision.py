"""The credit decision: features -> model -> fraud flags -> policy tables -> a priced offer.

`decide_with_risk` is what the application flow and `POST /v1/risk/decisions` use (through
services/decisions.py, which gathers the inputs from the database): the model's PD, score and
adverse factors, the policy's knock-outs, risk-based rate and limit (with affordability and the
legal limits), and the quote with its APR by the IRR method. Everything it reads is in
`RiskInputs`, so a stored decision replays to the same result.

`decide_by_product_rules` is the first version (the product's own rules, priced at its top
rate); it stays for a lender running without a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from puhui.domain.caps import ExposureRequest, RateCapExceeded, check_borrower_limits
from puhui.domain.enums import BorrowerKind
from puhui.domain.errors import DomainValidationError
from puhui.domain.pricing import Quote, make_quote
from puhui.domain.products import LoanProduct
from puhui.money import ZERO
from puhui.risk.model import CreditModel, ReasonCode
from puhui.risk.policy import Outcome, PolicyInput, Reason, RulesEvaluator, apply_policy

POLICY_VERSION = "product-rules-v1"
MANUAL_REVIEW_ABOVE = Decimal(500_000)  # tickets above this go to a credit officer


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    approved_amount: Decimal
    credit_limit: Decimal
    rate_annual: Decimal | None
    apr_percent: Decimal | None
    reasons: tuple[Reason, ...]
    quote: Quote | None
    policy_version: str = POLICY_VERSION
    model_version: str | None = None
    pd: float | None = None
    score: int | None = None
    factors: tuple[ReasonCode, ...] = ()  # the model's top adverse factors
    trace: dict[str, Any] = field(default_factory=dict)  # the policy tables' trace


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    product: LoanProduct
    borrower_kind: BorrowerKind
    amount: Decimal
    term_months: int
    on: date
    existing_exposure: Decimal = ZERO


def decide(req: DecisionRequest) -> Decision:
    """The product's rules alone (a lender without a model; the first version of the flow)."""
    return decide_by_product_rules(req)


# Province of a 6-digit administrative division code (GB/T 2260), spelt as the training data spells
# it; a province the model never saw is an unseen category, which the model scores as such.
PROVINCES = {
    "11": "beijing", "12": "tianjin", "13": "hebei", "14": "shanxi", "15": "inner_mongolia", "21": "liaoning",
    "22": "jilin", "23": "heilongjiang", "31": "shanghai", "32": "jiangsu", "33": "zhejiang", "34": "anhui",
    "35": "fujian", "36": "jiangxi", "37": "shandong", "41": "henan", "42": "hubei", "43": "hunan",
    "44": "guangdong", "45": "guangxi", "46": "hainan", "50": "chongqing", "51": "sichuan", "52": "guizhou",
    "53": "yunnan", "54": "tibet", "61": "shaanxi", "62": "gansu", "63": "qinghai", "64": "ningxia",
    "65": "xinjiang",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Applicant:
    """What the lender knows of the borrower without alternative data."""

    kind: BorrowerKind
    region_code: str
    industry: str | None
    age_years: int | None  # the individual's, or the owner's (from the resident ID)
    years_in_business: float | None
    staff_count: int | None
    declared_annual_revenue: Decimal | None


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """Everything a decision is made from (stored with it, so it replays)."""

    request: DecisionRequest
    applicant: Applicant
    features: Mapping[str, float | int | None]  # risk.features.build_features, one borrower
    income_monthly_verified: Decimal | None  # individuals: income; businesses: net cash inflow
    debt_service_monthly: Decimal
    bureau_max_dpd_24m: int | None
    overdue_elsewhere: bool
    fraud_flags: tuple[str, ...]


def model_row(inputs: RiskInputs) -> dict[str, float | int | str | None]:
    """The model's input: the application fields under the training data's names, then the features."""
    a, r = inputs.applicant, inputs.request
    row: dict[str, float | int | str | None] = {
        "kind": a.kind.value,
        "region": PROVINCES.get(a.region_code[:2], f"region_{a.region_code[:2]}"),
        "industry": a.industry,
        "age": a.age_years,
        "years_in_business": a.years_in_business,
        "staff_count": a.staff_count,
        "declared_annual_revenue": float(a.declared_annual_revenue) if a.declared_annual_revenue is not None else None,
        "requested_amount": float(r.amount),
        "requested_term_months": r.term_months,
        "loan_purpose": r.product.purpose.value,
    }
    row.update(inputs.features)
    return row


def decide_with_risk(inputs: RiskInputs, model: CreditModel, rules: RulesEvaluator) -> Decision:
    """The model scores, the policy decides (knock-outs, rate, limit), the quote prices it."""
    req = inputs.request
    row = model_row(inputs)
    prediction = model.predict({name: row.get(name) for name in model.features})
    policy = apply_policy(
        PolicyInput(
            borrower_kind=req.borrower_kind,
            product=req.product,
            amount_requested=req.amount,
            term_months=req.term_months,
            decided_on=req.on,
            pd=prediction.pd,
            score=prediction.score,
            income_monthly_verified=inputs.income_monthly_verified,
            debt_service_monthly=inputs.debt_service_monthly,
            age_years=inputs.applicant.age_years,
            years_in_business=inputs.applicant.years_in_business,
            bureau_max_dpd_24m=inputs.bureau_max_dpd_24m,
            overdue_elsewhere=inputs.overdue_elsewhere,
            fraud_flags=inputs.fraud_flags,
            existing_exposure=req.existing_exposure,
        ),
        rules,
    )
    factors = prediction.reasons
    reasons = (*policy.reasons, *(Reason(f.code, f.text_zh, f.text_en) for f in factors))
    base = Decision(
        outcome=policy.outcome,
        approved_amount=ZERO,
        credit_limit=policy.credit_limit,
        rate_annual=None,
        apr_percent=None,
        reasons=reasons,
        quote=None,
        policy_version=policy.policy_version,
        model_version=model.version,
        pd=prediction.pd,
        score=prediction.score,
        factors=factors,
        trace=policy.trace,
    )
    if policy.outcome is Outcome.DECLINED or policy.annual_rate is None:
        return base
    offered = policy.approved_amount if policy.outcome is Outcome.APPROVED else min(req.amount, policy.credit_limit)
    try:
        quote = make_quote(req.product, offered, req.term_months, policy.annual_rate, req.on)
    except RateCapExceeded as exc:  # fees can lift the APR over a cap the nominal rate is under
        capped = tuple(Reason(f"CAP_{f.rule_id}", "综合融资成本超过上限", f.message) for f in exc.findings)
        return replace(base, outcome=Outcome.DECLINED, credit_limit=ZERO, reasons=(*capped, *reasons))
    return replace(
        base,
        approved_amount=policy.approved_amount,
        rate_annual=quote.rate_annual,
        apr_percent=quote.apr_percent,
        quote=quote,
    )


def _declined(*reasons: Reason) -> Decision:
    return Decision(Outcome.DECLINED, ZERO, ZERO, None, None, reasons, None)


def decide_by_product_rules(req: DecisionRequest) -> Decision:
    product = req.product
    if req.borrower_kind not in product.borrower_kinds:
        return _declined(
            Reason(
                "KIND_NOT_ELIGIBLE", "该产品不面向此类借款人", "this product is not offered to this kind of borrower"
            )
        )
    breaches = check_borrower_limits(
        ExposureRequest(
            lender_type=product.lender_type,
            purpose=product.purpose,
            borrower_kind=req.borrower_kind,
            amount=req.amount,
            term_months=req.term_months,
            repayment_method=product.repayment_method,
            existing_exposure=req.existing_exposure,
        )
    )
    if breaches:
        return _declined(*(Reason(f"LIMIT_{b.rule_id}", "超过监管规定的单户额度", b.message) for b in breaches))
    try:
        # product rules price at the product's highest rate until risk-based pricing lands
        quote = make_quote(product, req.amount, req.term_months, product.rate_annual_max, req.on)
    except RateCapExceeded as exc:
        return _declined(*(Reason(f"CAP_{f.rule_id}", "综合融资成本超过上限", f.message) for f in exc.findings))
    except DomainValidationError as exc:
        return _declined(
            *(Reason("OUTSIDE_PRODUCT", "申请超出产品范围", f"{p.path}: {p.message}") for p in exc.problems)
        )
    if req.amount > MANUAL_REVIEW_ABOVE:
        reason = Reason(
            "LARGE_TICKET",
            "大额申请转人工审核",
            f"amounts above {MANUAL_REVIEW_ABOVE} are reviewed by a credit officer",
        )
        return Decision(Outcome.REVIEW, ZERO, req.amount, quote.rate_annual, quote.apr_percent, (reason,), quote)
    reason = Reason("PRODUCT_RULES_MET", "符合产品准入规则", "meets the product's rules")
    return Decision(Outcome.APPROVED, req.amount, req.amount, quote.rate_annual, quote.apr_percent, (reason,), quote)
