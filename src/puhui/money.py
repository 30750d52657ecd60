"""Exact money: Decimal amounts, the ONE rounding policy, conversion to integer minor units.

Every amount in the domain is a `Decimal` quantized to the fen (0.01). Storage keeps BIGINT
minor units. JSON carries amounts as strings with two decimals and rates as decimal fractions.
No float may ever become an amount: `parse_amount` refuses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CURRENCY = "CNY"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MINOR_PER_UNIT = 100
RATE_PLACES = Decimal("0.0001")
PERCENT_PLACES = Decimal("0.01")
ROUNDING = ROUND_HALF_UP  # the one rounding mode of the platform


class MoneyError(ValueError):
    """An amount or rate that is not acceptable as money."""


def round_money(value: Decimal) -> Decimal:
    """Round to the fen, half-up: the rounding policy for every installment component."""
    return value.quantize(CENT, rounding=ROUNDING)


def round_rate(value: Decimal) -> Decimal:
    """Round a rate fraction to four decimals (0.1200 = 12.00 %) for display and JSON."""
    return value.quantize(RATE_PLACES, rounding=ROUNDING)


def round_percent(value: Decimal) -> Decimal:
    """Round a percentage to two decimals (the APR is shown as 17.83)."""
    return value.quantize(PERCENT_PLACES, rounding=ROUNDING)


def to_minor(amount: Decimal) -> int:
    """Convert an amount to integer fen; refuses sub-fen precision rather than rounding silently."""
    minor = amount * MINOR_PER_UNIT
    if minor != minor.to_integral_value():
        raise MoneyError(f"{amount} has more than two decimals")
    return int(minor)


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded half-up, for fen computed from integer inputs (the end-of-day run
    evaluates the same formula in SQL as (2n + d) / (2d) on non-negative integers)."""
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    if numerator < 0:
        return -div_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def rate_ppm(rate: Decimal) -> int:
    """A rate fraction in parts per million (0.12 -> 120000), exact or refused."""
    ppm = rate * 1_000_000
    if ppm != ppm.to_integral_value():
        raise MoneyError(f"{rate} has more than six decimals")
    return int(ppm)


def from_minor(minor: int) -> Decimal:
    """Convert integer fen back to a two-decimal amount."""
    return Decimal(minor).scaleb(-2)


def parse_amount(raw: object, *, allow_zero: bool = False) -> Decimal:
    """Parse user input (str, int or Decimal) into an amount; floats and > 2 decimals are refused."""
    if isinstance(raw, (bool, float)):
        raise MoneyError('send amounts as strings like "12000.00", never as floating point')
    if not isinstance(raw, str | int | Decimal):
        raise MoneyError('amount must be a decimal string such as "12000.00"')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{raw!r} is not a number") from exc
    if not value.is_finite():
        raise MoneyError("amount must be finite")
    try:
        whole_fen = value.quantize(CENT, rounding=ROUNDING)
    except InvalidOperation as exc:  # more digits than the decimal context holds, e.g. "1e30"
        raise MoneyError("amount is too large") from exc
    if value != whole_fen:
        raise MoneyError("amount has more than two decimals")
    if value < 0 or (value == 0 and not allow_zero):
        raise MoneyError("amount must be positive")
    return whole_fen


def parse_rate(raw: object) -> Decimal:
    """Parse a rate given as a decimal fraction ("0.12" = 12 %); floats are refused."""
    if isinstance(raw, (bool, float)):
        raise MoneyError('send rates as strings like "0.1200", never as floating point')
    if not isinstance(raw, str | int | Decimal):
        raise MoneyError('rate must be a decimal string such as "0.1200"')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{raw!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise MoneyError("rate must be a non-negative decimal fraction")
    if value > 1:
        raise MoneyError('rate is a fraction: 12 % is "0.12"')
    return value


def format_amount(amount: Decimal) -> str:
    """The JSON form of an amount: a string with exactly two decimals."""
    return str(round_money(amount))


def format_rate(rate: Decimal) -> str:
    """The JSON form of a rate: a fraction string with four decimals ("0.1200")."""
    return str(round_rate(rate))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its currency, for the places where the currency travels with it."""

    amount: Decimal
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        if self.amount != round_money(self.amount):
            raise MoneyError(f"{self.amount} is not a whole number of fen")

    @classmethod
    def of_minor(cls, minor: int, currency: str = CURRENCY) -> Money:
        return cls(from_minor(minor), currency)

    @property
    def minor(self) -> int:
        return to_minor(self.amount)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.currency} {format_amount(self.amount)}"
