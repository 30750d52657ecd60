"""APR by the IRR method (PBOC 2021 No.3; rules.md R-1.2, rule 1).

Solve  sum_t CF_t / (1 + r)^t = net amount received  for the periodic rate r, then
APR = r x periods per year (nominal, not compounded), shown to two decimals of a percent.
The net amount is the principal less every upfront fee; the cash flows are every scheduled
payment: principal, interest and fees. Decimal arithmetic throughout: no float touches money.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

from puhui.domain.enums import DayCount
from puhui.domain.schedule import Schedule
from puhui.money import round_percent

HUNDRED = Decimal(100)
_TOLERANCE = Decimal("1e-20")
_MAX_ITERATIONS = 100


class AprError(ValueError):
    """Cash flows with no meaningful IRR (nothing received, or nothing repaid)."""


def periodic_irr(net_received: Decimal, payments: Sequence[Decimal]) -> Decimal:
    """The rate r with sum(payments[t-1] / (1+r)^t) == net_received, by Newton then bisection."""
    if net_received <= 0:
        raise AprError("the borrower must receive a positive net amount")
    if not payments or sum(payments) <= 0:
        raise AprError("there must be at least one positive payment")
    with localcontext() as ctx:
        ctx.prec = 34
        rate = _newton(net_received, payments)
        if rate is None:
            rate = _bisect(net_received, payments)
        return rate


def _npv_and_slope(rate: Decimal, net: Decimal, payments: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    discount = 1 / (1 + rate)
    factor = discount
    value = -net
    slope = Decimal(0)
    for t, payment in enumerate(payments, start=1):
        value += payment * factor
        slope -= t * payment * factor * discount
        factor *= discount
    return value, slope


def _newton(net: Decimal, payments: Sequence[Decimal]) -> Decimal | None:
    rate = Decimal("0.01")
    for _ in range(_MAX_ITERATIONS):
        value, slope = _npv_and_slope(rate, net, payments)
        if slope == 0:
            return None
        step = value / slope
        rate -= step
        if rate <= -1:
            return None
        if abs(step) < _TOLERANCE:
            return rate
    return None


def _bisect(net: Decimal, payments: Sequence[Decimal]) -> Decimal:
    low, high = Decimal("-0.99"), Decimal(10)
    for _ in range(400):
        mid = (low + high) / 2
        value, _ = _npv_and_slope(mid, net, payments)
        if value > 0:
            low = mid
        else:
            high = mid
        if high - low < _TOLERANCE:
            break
    return (low + high) / 2


def apr_of_cash_flows(net_received: Decimal, payments: Sequence[Decimal], periods_per_year: int = 12) -> Decimal:
    """APR as a percentage rounded to two decimals (Decimal("17.83") means 17.83 %)."""
    rate = periodic_irr(net_received, payments)
    return round_percent(rate * periods_per_year * HUNDRED)


def apr_of_schedule(schedule: Schedule) -> Decimal:
    """APR (percent, two decimals) of a fixed-term schedule, upfront fees netted from principal."""
    net = schedule.terms.principal - schedule.terms.upfront_fee
    return apr_of_cash_flows(net, [i.payment for i in schedule.installments], 12)


def apr_of_daily_rate(rate_daily: Decimal, day_count: DayCount) -> Decimal:
    """Revolving lines: APR = daily rate x basis days (0.05 % a day on ACT/365 -> 18.25 %)."""
    return round_percent(rate_daily * day_count.basis_days * HUNDRED)


def percent_to_fraction(apr_percent: Decimal) -> Decimal:
    return apr_percent / HUNDRED
