"""Servicing a loan after disbursement, as pure functions over integer fen.

- A schedule becomes installments with the number of days in each period.
- Interest accrues linearly over each period: on business date d the total accrued for the period
  is round(period interest x elapsed days / period days), so it never drifts and reaches the
  scheduled interest exactly on the due date. The end-of-day run evaluates the same formula in SQL
  (batch/eod.py); `accrued_target` is its reference.
- Penalty interest accrues on the overdue base (principal and interest billed and unpaid: unpaid
  interest compounds at the penalty rate, R-2.3) from the first overdue day, also without drift:
  round(sum of overdue base x days x penalty rate / basis) minus what is already posted.
- A payment is split over what is due in the product's allocation order; with a prepayment choice
  the rest pays the interest accrued so far in the current period and then principal not yet due.
  Whatever remains is the borrower's credit balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from puhui.domain.allocation import Dues, allocate
from puhui.domain.enums import DEFAULT_ALLOCATION_ORDER, AllocationTarget, RepaymentMethod
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.schedule import LoanTerms, Schedule, generate
from puhui.money import div_half_up, from_minor, to_minor

PPM = 1_000_000


class LoanStatus(StrEnum):
    PENDING_DISBURSEMENT = "pending_disbursement"
    DISBURSING = "disbursing"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"  # not yet due
    DUE = "due"  # billed, something still unpaid
    PAID = "paid"
    CANCELLED = "cancelled"  # replaced by a newer schedule version
    RESTRUCTURED = "restructured"  # its unpaid principal moved into a newer schedule version


class PrepaymentChoice(StrEnum):
    PAYOFF = "payoff"  # settle everything and close the loan
    SHORTER_TERM = "shorter_term"  # keep the installment, fewer periods
    SMALLER_INSTALLMENTS = "smaller_installments"  # keep the number of periods


# a shorter term keeps the installment and drops the last ones: only where each installment repays
# principal (an interest-only or revolving loan repays it at the end: a prepayment lowers the interest)
SHORTER_TERM_METHODS = frozenset(
    {RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.FLAT_RATE}
)


def prepayment_choices(method: RepaymentMethod) -> tuple[PrepaymentChoice, ...]:
    """The choices a borrower has for paying more than is due on a loan repaid by `method`."""
    if method in SHORTER_TERM_METHODS:
        return (PrepaymentChoice.SHORTER_TERM, PrepaymentChoice.SMALLER_INSTALLMENTS, PrepaymentChoice.PAYOFF)
    return (PrepaymentChoice.SMALLER_INSTALLMENTS, PrepaymentChoice.PAYOFF)


class ScheduleChangeKind(StrEnum):
    PREPAYMENT_SHORTER_TERM = "prepayment_shorter_term"
    PREPAYMENT_SMALLER_INSTALLMENTS = "prepayment_smaller_installments"
    RESTRUCTURE_EXTENSION = "restructure_extension"


@dataclass(frozen=True, slots=True)
class PlannedInstallment:
    seq: int
    due_date: date
    period_days: int
    principal_minor: int
    interest_minor: int
    fee_minor: int


def plan_installments(schedule: Schedule) -> list[PlannedInstallment]:
    rows: list[PlannedInstallment] = []
    previous = schedule.terms.start_date
    for i in schedule.installments:
        rows.append(
            PlannedInstallment(
                i.n,
                i.due_date,
                (i.due_date - previous).days,
                to_minor(i.principal),
                to_minor(i.interest),
                to_minor(i.fee),
            )
        )
        previous = i.due_date
    return rows


def accrued_target(period_interest_minor: int, period_start: date, period_days: int, on: date) -> int:
    """Interest the current period has earned by the end of business date `on`."""
    if period_days <= 0:
        return 0
    elapsed = min(max((on - period_start).days, 0), period_days)
    return div_half_up(period_interest_minor * elapsed, period_days)


def penalty_target(penalty_basis_days: int, penalty_rate_ppm: int, basis_days: int) -> int:
    """Penalty earned over the loan's life: round(overdue fen-days x penalty rate / basis)."""
    return div_half_up(penalty_basis_days * penalty_rate_ppm, basis_days * PPM)


def days_past_due(overdue_since: date | None, on: date) -> int:
    """An amount due on D is on time if paid on D; from D + 1 it is overdue."""
    if overdue_since is None or overdue_since >= on:
        return 0
    return (on - overdue_since).days


@dataclass(frozen=True, slots=True)
class Position:
    """What a borrower owes on a loan, in fen."""

    penalty_minor: int
    due_fee_minor: int
    due_interest_minor: int
    due_principal_minor: int
    accrued_interest_minor: int  # earned in the current period, not yet billed
    not_due_principal_minor: int

    @property
    def due_minor(self) -> int:
        return self.penalty_minor + self.due_fee_minor + self.due_interest_minor + self.due_principal_minor

    @property
    def payoff_minor(self) -> int:
        return self.due_minor + self.accrued_interest_minor + self.not_due_principal_minor

    @property
    def principal_minor(self) -> int:
        return self.due_principal_minor + self.not_due_principal_minor

    def dues(self) -> Dues:
        return Dues(
            penalty=from_minor(self.penalty_minor),
            fees=from_minor(self.due_fee_minor),
            interest=from_minor(self.due_interest_minor),
            principal=from_minor(self.due_principal_minor),
        )


@dataclass(frozen=True, slots=True)
class RepaymentPlan:
    penalty_minor: int
    fee_minor: int
    interest_minor: int  # billed interest plus, when prepaying, interest accrued in the period
    principal_minor: int  # billed principal plus any principal prepaid
    prepaid_interest_minor: int
    prepaid_principal_minor: int
    excess_minor: int
    closes_loan: bool

    @property
    def total_minor(self) -> int:
        return self.penalty_minor + self.fee_minor + self.interest_minor + self.principal_minor + self.excess_minor


def plan_repayment(
    position: Position,
    amount_minor: int,
    prepayment: PrepaymentChoice | None = None,
    order: Sequence[AllocationTarget] = DEFAULT_ALLOCATION_ORDER,
) -> RepaymentPlan:
    """Split a payment: dues in the product's order, then (only with a prepayment choice) the
    interest accrued so far and principal not yet due; the rest is kept as the borrower's credit."""
    if amount_minor <= 0:
        raise DomainValidationError([FieldProblem("amount", "must be positive")])
    if prepayment is PrepaymentChoice.PAYOFF and amount_minor < position.payoff_minor:
        raise DomainValidationError(
            [FieldProblem("amount", f"a payoff needs {from_minor(position.payoff_minor)} on this date")]
        )
    split = allocate(from_minor(amount_minor), position.dues(), order)
    rest = to_minor(split.excess)
    prepaid_interest = prepaid_principal = 0
    if prepayment is not None and rest > position.accrued_interest_minor and position.not_due_principal_minor > 0:
        # a prepayment settles the period's interest so far and then principal, and restarts the
        # schedule from today; less than that is kept as credit for the next installment
        prepaid_interest = position.accrued_interest_minor
        rest -= prepaid_interest
        prepaid_principal = min(rest, position.not_due_principal_minor)
        rest -= prepaid_principal
    principal = to_minor(split.principal) + prepaid_principal
    closes = (
        position.payoff_minor > 0
        and to_minor(split.penalty) + to_minor(split.fees) + to_minor(split.interest) + principal + prepaid_interest
        == position.payoff_minor
    )
    return RepaymentPlan(
        penalty_minor=to_minor(split.penalty),
        fee_minor=to_minor(split.fees),
        interest_minor=to_minor(split.interest) + prepaid_interest,
        principal_minor=principal,
        prepaid_interest_minor=prepaid_interest,
        prepaid_principal_minor=prepaid_principal,
        excess_minor=rest,
        closes_loan=closes,
    )


def reschedule(
    method: RepaymentMethod,
    remaining_principal_minor: int,
    rate_annual: Decimal,
    remaining_periods: int,
    start: date,
    fee_per_period_minor: int,
    choice: PrepaymentChoice | ScheduleChangeKind,
    current_payment_minor: int,
    base_terms: LoanTerms,
) -> Schedule:
    """The new schedule version after a partial prepayment or a term extension, starting today.

    Shorter term keeps the installment (the fewest periods whose first payment is no larger than
    the current one), for loans whose installments repay principal (`prepayment_choices`; a flat-rate
    loan's new installments take their flat interest on the principal left); smaller installments
    keep the number of periods."""
    if remaining_periods < 1:
        raise DomainValidationError([FieldProblem("term_months", "must be at least 1")])

    def build(periods: int) -> Schedule:
        return generate(
            LoanTerms(
                principal=from_minor(remaining_principal_minor),
                rate_annual=rate_annual,
                term_months=periods,
                method=method,
                start_date=start,
                upfront_fee=from_minor(0),
                fee_per_period=from_minor(fee_per_period_minor),
                day_count=base_terms.day_count,
                period_interest=base_terms.period_interest,
            )
        )

    if choice is PrepaymentChoice.SHORTER_TERM:
        if choice not in prepayment_choices(method):
            raise DomainValidationError(
                [FieldProblem("prepayment", f"a shorter term is not offered on {method.value} loans")]
            )
        for periods in range(1, remaining_periods + 1):
            candidate = build(periods)
            first = candidate.installments[0]
            if to_minor(first.principal + first.interest) <= current_payment_minor:
                return candidate
    return build(remaining_periods)
