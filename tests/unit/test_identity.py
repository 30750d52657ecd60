"""Identifier checksums and masking, with expectations computed by hand from the standards."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.identity import (
    IdentifierError,
    mask_bank_card,
    mask_id_number,
    mask_mobile,
    normalise_bank_card,
    normalise_id_number,
    normalise_mobile,
    normalise_uscc,
)


def test_resident_id_from_gb11643_example() -> None:
    # the standard's worked example: 11010519491231002X
    assert normalise_id_number("11010519491231002x") == "11010519491231002X"
    with pytest.raises(IdentifierError, match="check digit"):
        normalise_id_number("110105194912310021")
    with pytest.raises(IdentifierError, match="birth date"):
        normalise_id_number("110105194913310027")
    with pytest.raises(IdentifierError, match="18 characters"):
        normalise_id_number("1101051949123100")


def _id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # the standard's definition of the weights
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


@given(st.integers(0, 10**17 - 1), st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
def test_any_single_digit_change_is_caught(serial: int, born: date) -> None:
    first17 = f"110105{born:%Y%m%d}{serial % 1000:03d}"
    valid = first17 + _id_check(first17)
    assert normalise_id_number(valid) == valid
    pos = serial % 17
    if pos in range(6, 14):
        return  # changing the birth date may make it invalid for another reason
    wrong_digit = str((int(valid[pos]) + 1 + serial % 9) % 10)
    if wrong_digit == valid[pos]:
        return
    with pytest.raises(IdentifierError):
        normalise_id_number(valid[:pos] + wrong_digit + valid[pos + 1 :])


def test_unified_social_credit_code() -> None:
    assert normalise_uscc("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(IdentifierError, match="check character"):
        normalise_uscc("91350100M000100Y44")
    with pytest.raises(IdentifierError, match="no I, O, S, V, Z"):
        normalise_uscc("91350100M000100YO3")


def test_mobile_numbers() -> None:
    assert normalise_mobile("+86 138-1234-5678") == "13812345678"
    for bad in ("12812345678", "1381234567", "phone"):
        with pytest.raises(IdentifierError):
            normalise_mobile(bad)


def test_bank_cards_pass_luhn() -> None:
    assert normalise_bank_card("4111 1111 1111 1111") == "4111111111111111"
    with pytest.raises(IdentifierError):
        normalise_bank_card("4111 1111 1111 1112")


def test_masks_hide_the_middle_and_never_show_the_whole() -> None:
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_bank_card("4111111111111111") == "411111******1111"
