"""Money: one rounding policy (half-up to the fen), exact minor units, no floats, no currency mixing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.money import (
    Money,
    MoneyError,
    format_amount,
    format_rate,
    from_minor,
    parse_amount,
    parse_rate,
    round_money,
    round_percent,
    to_minor,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.005", "0.01"),  # a half fen goes up
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # banker's rounding would give 0.02
        ("2.675", "2.68"),  # binary floating point would give 2.67
        ("100.0049", "100.00"),
        ("100.0050", "100.01"),
        ("888.4879", "888.49"),
        ("-0.005", "-0.01"),  # half-up is away from zero, also for negatives
        ("12000", "12000.00"),
    ],
)
def test_round_money_is_half_up_to_the_fen(raw: str, expected: str) -> None:
    result = round_money(Decimal(raw))
    assert result == Decimal(expected)
    assert str(result) == expected  # always two decimals


def test_round_percent_is_half_up_to_two_decimals() -> None:
    assert round_percent(Decimal("17.825")) == Decimal("17.83")
    assert round_percent(Decimal("17.8249999")) == Decimal("17.82")


@pytest.mark.parametrize(("amount", "fen"), [("0.00", 0), ("0.01", 1), ("12000.00", 1_200_000), ("-3.50", -350)])
def test_to_minor_gives_integer_fen(amount: str, fen: int) -> None:
    result = to_minor(Decimal(amount))
    assert result == fen
    assert type(result) is int


@pytest.mark.parametrize("amount", ["0.001", "1.005", "12000.999", "0.0001"])
def test_to_minor_refuses_sub_fen_amounts_instead_of_rounding(amount: str) -> None:
    with pytest.raises(MoneyError, match="more than two decimals"):
        to_minor(Decimal(amount))


def test_to_minor_accepts_trailing_zeros_beyond_the_fen() -> None:
    assert to_minor(Decimal("1.2300")) == 123


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_from_minor_to_minor_round_trip(fen: int) -> None:
    amount = from_minor(fen)
    assert amount.as_tuple().exponent == -2
    assert to_minor(amount) == fen
    assert amount == Decimal(fen) / 100


def test_from_minor_formats_two_decimals() -> None:
    assert str(from_minor(1_200_000)) == "12000.00"
    assert str(from_minor(5)) == "0.05"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12000.00", "12000.00"),
        ("12000", "12000.00"),
        (" 0.5 ", "0.50"),
        (12000, "12000.00"),
        (Decimal("99.9"), "99.90"),
        ("1.230", "1.23"),  # trailing zero, still whole fen
    ],
)
def test_parse_amount_accepts_strings_ints_and_decimals(raw: object, expected: str) -> None:
    result = parse_amount(raw)
    assert result == Decimal(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (12000.0, "floating point"),
        (0.1, "floating point"),
        (True, "floating point"),  # bool is an int subclass: refused all the same
        (False, "floating point"),
        ("-1.00", "positive"),
        (-5, "positive"),
        ("0", "positive"),
        ("1.005", "more than two decimals"),
        ("0.001", "more than two decimals"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("twelve", "not a number"),
        ("", "not a number"),
        ("1e30", "too large"),  # more digits than the decimal context: refused, not a crash
        ("1e400000000", "too large"),
        ("1" + "0" * 28, "too large"),
        (None, "decimal string"),
        ([1], "decimal string"),
    ],
)
def test_parse_amount_refuses(raw: object, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason):
        parse_amount(raw)


def test_parse_amount_allows_zero_only_when_asked() -> None:
    assert parse_amount("0", allow_zero=True) == Decimal("0.00")
    with pytest.raises(MoneyError):
        parse_amount("-0.01", allow_zero=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.12", "0.12"), ("0.1200", "0.12"), ("0", "0"), ("1", "1"), (0, "0"), (Decimal("0.0005"), "0.0005")],
)
def test_parse_rate_accepts_fractions(raw: object, expected: str) -> None:
    assert parse_rate(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (0.12, "floating point"),
        (True, "floating point"),
        ("12", "fraction"),  # 12 % must be written 0.12
        ("1.0001", "fraction"),
        (2, "fraction"),
        ("-0.01", "non-negative"),
        ("NaN", "non-negative"),
        ("abc", "not a number"),
        (None, "decimal string"),
    ],
)
def test_parse_rate_refuses(raw: object, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason):
        parse_rate(raw)


def test_json_forms_of_amounts_and_rates() -> None:
    assert format_amount(Decimal("12000")) == "12000.00"
    assert format_amount(Decimal("0.125")) == "0.13"
    assert format_rate(Decimal("0.12")) == "0.1200"
    assert format_rate(Decimal("0.17825")) == "0.1783"


def test_money_arithmetic_stays_exact() -> None:
    total = Money(Decimal("0.10")) + Money(Decimal("0.20"))
    assert total == Money(Decimal("0.30"))  # 0.1 + 0.2 == 0.3, unlike floats
    assert Money(Decimal("100.00")) - Money(Decimal("0.01")) == Money(Decimal("99.99"))
    assert total.currency == "CNY"
    assert str(total) == "CNY 0.30"


def test_money_minor_units() -> None:
    assert Money.of_minor(123_456).amount == Decimal("1234.56")
    assert Money(Decimal("1234.56")).minor == 123_456
    assert Money.of_minor(7, "USD") == Money(Decimal("0.07"), "USD")


def test_money_refuses_sub_fen_amounts() -> None:
    with pytest.raises(MoneyError, match="whole number of fen"):
        Money(Decimal("1.005"))


def test_money_refuses_mixing_currencies() -> None:
    yuan = Money(Decimal("10.00"))
    dollars = Money(Decimal("10.00"), "USD")
    with pytest.raises(MoneyError, match="cannot mix CNY and USD"):
        _ = yuan + dollars
    with pytest.raises(MoneyError, match="cannot mix"):
        _ = dollars - yuan
    assert yuan != dollars
