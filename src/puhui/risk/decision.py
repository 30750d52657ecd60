"""The credit decision. FIRST VERSION: product rules only (no model, no alternative data).

`decide` is the one function the application flow calls. Today it delegates to
`decide_by_product_rules`: borrower kind allowed by the product, amount and term inside the
product, the legal per-borrower limits (rules.md rule 11), the rate caps (rule 4), and a manual
review for large tickets. The risk-control issue replaces the body with features -> model ->
policy tables -> fraud checks, keeping this signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from puhui.domain.caps import ExposureRequest, RateCapExceeded, check_borrower_limits
from puhui.domain.enums import BorrowerKind
from puhui.domain.errors import DomainValidationError
from puhui.domain.pricing import Quote, make_quote
from puhui.domain.products import LoanProduct
from puhui.money import ZERO
from puhui.risk.policy import Outcome, Reason

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


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    product: LoanProduct
    borrower_kind: BorrowerKind
    amount: Decimal
    term_months: int
    on: date
    existing_exposure: Decimal = ZERO


def decide(req: DecisionRequest) -> Decision:
    """The application flow's single entry point (product rules until the risk engine lands)."""
    return decide_by_product_rules(req)


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
