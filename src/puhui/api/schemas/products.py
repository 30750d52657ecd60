"""Product and quote schemas."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from puhui.api.schemas.common import AmountIn, IsoDate, RateIn
from puhui.domain.apr import HUNDRED
from puhui.domain.caps import CapFinding
from puhui.domain.pricing import Quote
from puhui.domain.products import LoanProduct
from puhui.money import format_amount, format_rate


class FeesOut(BaseModel):
    upfront_amount: str
    upfront_rate: str
    per_period_amount: str
    per_period_rate: str


class ProductOut(BaseModel):
    code: str
    name: str = Field(description="in Chinese")
    name_en: str = Field(description='in English; "" when the definition has no English name')
    description: str = Field(description='in English; "" when the definition has none')
    description_zh: str = Field(description='in Chinese; "" when the definition has none (show `description`)')
    borrower_kinds: list[str]
    purpose: str
    lender_type: str
    amount_min: str
    amount_max: str
    term_options_months: list[int]
    repayment_method: str
    annual_rate_min: str
    annual_rate_max: str
    daily_rate_min: str = Field(description="annual_rate_min / day-count basis")
    daily_rate_max: str
    day_count: str
    period_interest: str
    fees: FeesOut
    penalty_multiplier: str
    grace_days: int
    allocation_order: list[str]

    @classmethod
    def of(cls, p: LoanProduct) -> ProductOut:
        return ProductOut(
            code=p.code,
            name=p.name,
            name_en=p.name_en,
            description=p.description,
            description_zh=p.description_zh,
            borrower_kinds=[k.value for k in p.borrower_kinds],
            purpose=p.purpose.value,
            lender_type=p.lender_type.value,
            amount_min=format_amount(p.amount_min),
            amount_max=format_amount(p.amount_max),
            term_options_months=list(p.term_options_months),
            repayment_method=p.repayment_method.value,
            annual_rate_min=format_rate(p.rate_annual_min),
            annual_rate_max=format_rate(p.rate_annual_max),
            daily_rate_min=str(p.rate_daily(p.rate_annual_min).quantize(HUNDRED**-3)),
            daily_rate_max=str(p.rate_daily(p.rate_annual_max).quantize(HUNDRED**-3)),
            day_count=p.day_count.value,
            period_interest=p.period_interest.value,
            fees=FeesOut(
                upfront_amount=format_amount(p.fees.upfront_amount),
                upfront_rate=format_rate(p.fees.upfront_rate),
                per_period_amount=format_amount(p.fees.per_period_amount),
                per_period_rate=format_rate(p.fees.per_period_rate),
            ),
            penalty_multiplier=str(p.penalty_multiplier),
            grace_days=p.grace_days,
            allocation_order=[a.value for a in p.allocation_order],
        )


class ProductCard(ProductOut):
    apr_from: str = Field(description='lowest APR the product can show, fraction ("0.0720")')
    apr_to: str = Field(description="highest APR the product can show, fraction")


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_code: str = Field(min_length=1, max_length=40)
    amount: AmountIn
    term_months: int = Field(ge=1, le=360)
    annual_rate: RateIn | None = Field(default=None, description="defaults to the product's lowest rate")
    start_date: IsoDate | None = Field(default=None, description="defaults to today's business date")


class InstallmentOut(BaseModel):
    n: int
    due_date: date
    principal: str
    interest: str
    fee: str
    payment: str
    balance: str


class WarningOut(BaseModel):
    rule: str
    message: str

    @classmethod
    def of(cls, f: CapFinding) -> WarningOut:
        return cls(rule=f.rule_id, message=f.message)


class QuoteOut(BaseModel):
    product_code: str
    repayment_method: str
    amount: str
    term_months: int
    start_date: date
    annual_rate: str
    daily_rate: str
    day_count: str
    installments: list[InstallmentOut]
    upfront_fee: str
    net_disbursed: str
    total_interest: str
    total_fees: str
    total_repayment: str
    apr: str = Field(description='APR by the IRR method, as a fraction with four decimals ("0.1783")')
    apr_percent: str = Field(description='the same APR as a percentage with two decimals ("17.83")')
    warnings: list[WarningOut]

    @classmethod
    def of(cls, q: Quote) -> QuoteOut:
        s = q.schedule
        return cls(
            product_code=q.product.code,
            repayment_method=q.product.repayment_method.value,
            amount=format_amount(q.amount),
            term_months=q.term_months,
            start_date=s.terms.start_date,
            annual_rate=format_rate(q.rate_annual),
            daily_rate=str(q.rate_daily.quantize(HUNDRED**-3)),
            day_count=q.product.day_count.value,
            installments=[
                InstallmentOut(
                    n=i.n,
                    due_date=i.due_date,
                    principal=format_amount(i.principal),
                    interest=format_amount(i.interest),
                    fee=format_amount(i.fee),
                    payment=format_amount(i.payment),
                    balance=format_amount(i.balance),
                )
                for i in s.installments
            ],
            upfront_fee=format_amount(q.upfront_fee),
            net_disbursed=format_amount(q.amount - q.upfront_fee),
            total_interest=format_amount(s.total_interest),
            total_fees=format_amount(s.total_fees),
            total_repayment=format_amount(s.total_payments),
            apr=format_rate(q.apr_percent / HUNDRED),
            apr_percent=str(q.apr_percent),
            warnings=[WarningOut.of(w) for w in q.warnings],
        )


DecimalText = Field(default=None, max_length=32, description='a decimal written as a string ("0.1200", "5000.00")')


class FeesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upfront_amount: str | None = DecimalText
    upfront_rate: str | None = DecimalText
    per_period_amount: str | None = DecimalText
    per_period_rate: str | None = DecimalText


class ProductUpdateIn(BaseModel):
    """The fields staff may change; those left out keep their value. Rates are fractions."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, description="in Chinese")
    name_en: str | None = Field(default=None, max_length=200, description='in English; "" removes it')
    description: str | None = Field(default=None, max_length=500, description='in English; "" removes it')
    description_zh: str | None = Field(default=None, max_length=500, description='in Chinese; "" removes it')
    amount_min: str | None = DecimalText
    amount_max: str | None = DecimalText
    term_options_months: list[int] | None = Field(default=None, max_length=24)
    rate_annual_min: str | None = DecimalText
    rate_annual_max: str | None = DecimalText
    fees: FeesIn | None = None
    penalty_multiplier: str | None = DecimalText
    grace_days: int | None = Field(default=None, ge=0, le=100_000)  # the domain says "at most 30"
    active: bool | None = None


class ProductChangeOut(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class ProductUpdateOut(BaseModel):
    product: ProductCard
    version: int
    active: bool
    changes: list[ProductChangeOut]
    warnings: list[str] = Field(description="cap findings that do not block, e.g. above 4 x LPR before 2028")
