"""Repayment schedules for the four fixed-term methods and the revolving daily-interest line.

Conventions (DESIGN.md, "Money, time and the ledger"):
- due date k = start + k months, clipped to the month end, always computed from the start;
- every component is rounded half-up to the fen by `money.round_money`;
- the last installment settles the remainder, so principal sums exactly to the amount lent;
- periodic rate = annual / 12 (the §2 formulas), unless the terms ask for actual days, then
  interest = balance x annual x days in the period / the day-count basis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from puhui.domain.dates import due_dates
from puhui.domain.enums import DayCount, PeriodInterest, RepaymentMethod
from puhui.money import ZERO, round_money

TWELVE = Decimal(12)
ONE = Decimal(1)


class ScheduleError(ValueError):
    """Terms from which no schedule can be made; `field` names the offending input."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LoanTerms:
    principal: Decimal
    rate_annual: Decimal
    term_months: int
    method: RepaymentMethod
    start_date: date
    upfront_fee: Decimal = ZERO
    fee_per_period: Decimal = ZERO
    day_count: DayCount = DayCount.ACT_365
    period_interest: PeriodInterest = PeriodInterest.MONTHLY_RATE


class Installment(NamedTuple):
    n: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    payment: Decimal  # principal + interest + fee: everything due that period
    balance: Decimal  # principal still owed after this installment


@dataclass(frozen=True, slots=True)
class Schedule:
    terms: LoanTerms
    installments: tuple[Installment, ...]

    @property
    def total_principal(self) -> Decimal:
        return sum((i.principal for i in self.installments), ZERO)

    @property
    def total_interest(self) -> Decimal:
        return sum((i.interest for i in self.installments), ZERO)

    @property
    def total_fees(self) -> Decimal:
        """Upfront fee plus every per-period fee: all fees the borrower bears."""
        return self.terms.upfront_fee + sum((i.fee for i in self.installments), ZERO)

    @property
    def total_payments(self) -> Decimal:
        return sum((i.payment for i in self.installments), ZERO)


def validate_terms(terms: LoanTerms) -> None:
    if not terms.method.is_fixed_term:
        raise ScheduleError("method", "revolving lines have no fixed schedule; use RevolvingLine")
    if terms.principal <= 0 or terms.principal != round_money(terms.principal):
        raise ScheduleError("principal", "must be a positive amount in whole fen")
    if not 1 <= terms.term_months <= 600:
        raise ScheduleError("term_months", "must be between 1 and 600")
    if terms.rate_annual < 0 or terms.rate_annual > 1:
        raise ScheduleError("rate_annual", "must be a fraction between 0 and 1")
    for name, fee in (("upfront_fee", terms.upfront_fee), ("fee_per_period", terms.fee_per_period)):
        if fee < 0 or fee != round_money(fee):
            raise ScheduleError(name, "must be a non-negative amount in whole fen")
    if terms.upfront_fee >= terms.principal:
        raise ScheduleError("upfront_fee", "must be less than the principal")


def generate(terms: LoanTerms) -> Schedule:
    """The full schedule for fixed-term `terms`."""
    validate_terms(terms)
    dates = due_dates(terms.start_date, terms.term_months)
    interest_of = _interest_function(terms, dates)
    builder = _BUILDERS[terms.method]
    return Schedule(terms, tuple(builder(terms, dates, interest_of)))


InterestOf = Callable[[int, Decimal], Decimal]  # (period index from 0, opening balance) -> interest


def _interest_function(terms: LoanTerms, dates: tuple[date, ...]) -> InterestOf:
    # Multiply first, divide last: annual / 12 (or / basis) is not a finite decimal, and a
    # pre-divided rate can turn an exact half fen (x.xx5) into x.xx4999... that rounds down.
    annual = terms.rate_annual
    if terms.period_interest is PeriodInterest.MONTHLY_RATE:
        return lambda _k, balance: round_money(balance * annual / TWELVE)
    basis = terms.day_count.basis_days
    starts = (terms.start_date, *dates[:-1])
    days = tuple((end - begin).days for begin, end in zip(starts, dates, strict=True))
    return lambda k, balance: round_money(balance * annual * days[k] / basis)


def annuity_payment(principal: Decimal, rate_periodic: Decimal, periods: int) -> Decimal:
    """M = P r (1+r)^n / ((1+r)^n - 1), rounded to the fen; P / n when the rate is zero."""
    if rate_periodic == 0:
        return round_money(principal / periods)
    growth = (ONE + rate_periodic) ** periods
    return round_money(principal * rate_periodic * growth / (growth - ONE))


def _equal_installment(terms: LoanTerms, dates: tuple[date, ...], interest_of: InterestOf) -> list[Installment]:
    n = terms.term_months
    payment = annuity_payment(terms.principal, terms.rate_annual / TWELVE, n)
    fee = terms.fee_per_period
    balance = terms.principal
    rows: list[Installment] = []
    for k in range(n):
        interest = interest_of(k, balance)
        principal = balance if k == n - 1 else min(balance, max(payment - interest, ZERO))
        balance -= principal
        rows.append(Installment(k + 1, dates[k], principal, interest, fee, principal + interest + fee, balance))
    return rows


def _equal_principal(terms: LoanTerms, dates: tuple[date, ...], interest_of: InterestOf) -> list[Installment]:
    n = terms.term_months
    part = round_money(terms.principal / n)
    fee = terms.fee_per_period
    balance = terms.principal
    rows: list[Installment] = []
    for k in range(n):
        interest = interest_of(k, balance)
        principal = balance if k == n - 1 else min(part, balance)
        balance -= principal
        rows.append(Installment(k + 1, dates[k], principal, interest, fee, principal + interest + fee, balance))
    return rows


def _interest_only(terms: LoanTerms, dates: tuple[date, ...], interest_of: InterestOf) -> list[Installment]:
    n = terms.term_months
    fee = terms.fee_per_period
    rows: list[Installment] = []
    for k in range(n):
        interest = interest_of(k, terms.principal)
        principal = terms.principal if k == n - 1 else ZERO
        balance = ZERO if k == n - 1 else terms.principal
        rows.append(Installment(k + 1, dates[k], principal, interest, fee, principal + interest + fee, balance))
    return rows


def _flat_rate(terms: LoanTerms, dates: tuple[date, ...], interest_of: InterestOf) -> list[Installment]:
    """等本等息: interest every period on the ORIGINAL principal, principal in equal parts."""
    n = terms.term_months
    part = round_money(terms.principal / n)
    fee = terms.fee_per_period
    balance = terms.principal
    rows: list[Installment] = []
    for k in range(n):
        interest = interest_of(k, terms.principal)
        principal = balance if k == n - 1 else min(part, balance)
        balance -= principal
        rows.append(Installment(k + 1, dates[k], principal, interest, fee, principal + interest + fee, balance))
    return rows


_Builder = Callable[[LoanTerms, tuple[date, ...], InterestOf], list[Installment]]
_BUILDERS: dict[RepaymentMethod, _Builder] = {
    RepaymentMethod.EQUAL_INSTALLMENT: _equal_installment,
    RepaymentMethod.EQUAL_PRINCIPAL: _equal_principal,
    RepaymentMethod.INTEREST_ONLY: _interest_only,
    RepaymentMethod.FLAT_RATE: _flat_rate,
}


# --- revolving daily-interest line (随借随还) -------------------------------------------------


class RevolvingError(ValueError):
    """A draw or repayment the line cannot take."""


class RepaymentSplit(NamedTuple):
    interest: Decimal
    principal: Decimal
    excess: Decimal  # paid beyond everything owed: kept as the borrower's credit


@dataclass(frozen=True, slots=True)
class RevolvingLine:
    """A credit line: draw within the limit, interest = sum of daily balance x rate / basis.

    Interest accrues for each night the principal is out (draw on day d, repay on day d + k:
    k days). Accrued interest is kept exact as balance-days and rounded only when it is read,
    so it never drifts. Repayments settle interest first, then principal.
    """

    limit: Decimal
    rate_annual: Decimal
    day_count: DayCount
    as_of: date
    principal: Decimal = ZERO
    balance_days: Decimal = ZERO  # sum of end-of-day principal over days not yet settled
    interest_paid: Decimal = ZERO  # interest paid against the current balance_days
    history: tuple[tuple[date, str, Decimal], ...] = field(default=())

    @property
    def rate_daily(self) -> Decimal:
        return self.rate_annual / self.day_count.basis_days

    @property
    def available(self) -> Decimal:
        return self.limit - self.principal

    def accrued_interest(self, on: date) -> Decimal:
        """Interest owed on `on`, before any event of that day."""
        days = self._days_until(on)
        return round_money(self._exact_interest(self.balance_days + self.principal * days)) - self.interest_paid

    def _exact_interest(self, balance_days: Decimal) -> Decimal:
        # Multiply first, divide last, so an exact half fen is not lost to a pre-divided daily rate.
        return balance_days * self.rate_annual / self.day_count.basis_days

    def draw(self, on: date, amount: Decimal) -> RevolvingLine:
        if amount <= 0 or amount != round_money(amount):
            raise RevolvingError("draw amount must be a positive amount in whole fen")
        if amount > self.available:
            raise RevolvingError(f"draw of {amount} exceeds the available {self.available}")
        rolled = self._roll_to(on)
        return replace(
            rolled,
            principal=rolled.principal + amount,
            history=(*rolled.history, (on, "draw", amount)),
        )

    def repay(self, on: date, amount: Decimal) -> tuple[RevolvingLine, RepaymentSplit]:
        if amount <= 0 or amount != round_money(amount):
            raise RevolvingError("repayment must be a positive amount in whole fen")
        rolled = self._roll_to(on)
        owed_interest = rolled.accrued_interest(on)
        interest = min(amount, owed_interest)
        principal = min(amount - interest, rolled.principal)
        split = RepaymentSplit(interest, principal, amount - interest - principal)
        line = replace(
            rolled,
            principal=rolled.principal - principal,
            interest_paid=rolled.interest_paid + interest,
            history=(*rolled.history, (on, "repay", amount)),
        )
        return line._settle_if_clear(), split

    def _days_until(self, on: date) -> int:
        days = (on - self.as_of).days
        if days < 0:
            raise RevolvingError(f"{on} is before the line's last event on {self.as_of}")
        return days

    def _roll_to(self, on: date) -> RevolvingLine:
        days = self._days_until(on)
        return replace(self, as_of=on, balance_days=self.balance_days + self.principal * days)

    def _settle_if_clear(self) -> RevolvingLine:
        """Once the interest paid equals the EXACT interest accrued, restart the accumulator (keeps
        it from growing). Restarting when only the rounded amount is paid would drop or double
        the sub-fen remainder at every repayment, and the total charged would drift."""
        if self._exact_interest(self.balance_days) == self.interest_paid:
            return replace(self, balance_days=ZERO, interest_paid=ZERO)
        return self
