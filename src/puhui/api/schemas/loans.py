"""Loan schemas: the loan and what it owes, its schedule, its history, payoffs and repayments.
The services build these bodies (services/servicing.py); the models say what is in them."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from puhui.api.schemas.common import AmountStr, Passthrough


class PositionOut(Passthrough):
    """What the loan owes on a date."""

    penalty: AmountStr
    fees: AmountStr
    interest: AmountStr = Field(description="billed interest due")
    principal: AmountStr = Field(description="billed principal due")
    accrued_interest: AmountStr = Field(description="earned since the last due date, not yet billed")
    principal_not_due: AmountStr
    due_now: AmountStr
    payoff: AmountStr = Field(description="everything, to close the loan on the date")


class PayoutOut(Passthrough):
    id: str
    status: str
    net_amount: AmountStr
    account: str = Field(description="masked (first 6, last 4)")
    failure_reason: str | None


class LoanOut(Passthrough):
    """A loan; the servicing fields are there once it has been paid out."""

    id: str
    borrower_id: str
    status: str
    product_code: str
    principal: AmountStr
    annual_rate: str
    term_months: int
    opened_on: date | None = None
    closed_on: date | None = None
    schedule_version: int | None = None
    next_due_date: date | None = None
    days_past_due: int | None = None
    max_days_past_due: int | None = None
    risk_class: str | None = None
    risk_class_zh: str | None = None
    ifrs9_stage: int | None = None
    provision: AmountStr | None = None
    written_off: AmountStr | None = None
    recovered: AmountStr | None = None
    outstanding: PositionOut | None = None


class LoanDetailOut(LoanOut):
    disbursements: list[PayoutOut]


class LoanListOut(Passthrough):
    loans: list[LoanOut]
    limit: int
    offset: int


class PayoffOut(Passthrough):
    """What paying the loan off on `date` takes (PositionOut's fields, after the loan and date)."""

    loan_id: str
    date: date
    penalty: AmountStr
    fees: AmountStr
    interest: AmountStr
    principal: AmountStr
    accrued_interest: AmountStr
    principal_not_due: AmountStr
    due_now: AmountStr
    payoff: AmountStr


class InstallmentOut(Passthrough):
    version: int
    n: int
    due_date: date
    principal: AmountStr
    interest: AmountStr
    fee: AmountStr
    payment: AmountStr
    paid: AmountStr
    status: str
    paid_on: date | None


class ScheduleOut(Passthrough):
    loan_id: str
    installments: list[InstallmentOut]


class AllocationOut(Passthrough):
    penalty: AmountStr
    fees: AmountStr
    interest: AmountStr
    principal: AmountStr
    credit: AmountStr = Field(description="beyond what was owed: kept as the borrower's credit")


class RepaymentLineOut(Passthrough):
    id: str
    kind: str
    paid_on: date
    amount: AmountStr
    channel: str
    channel_reference: str
    allocation: AllocationOut


class TransactionsOut(Passthrough):
    loan_id: str
    repayments: list[RepaymentLineOut]


class RepaymentOut(Passthrough):
    id: str
    loan_id: str
    kind: str
    paid_on: date
    amount: AmountStr
    channel: str
    channel_reference: str
    allocation: AllocationOut
    loan_status: str
    schedule_version: int
    outstanding: PositionOut
