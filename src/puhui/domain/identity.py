"""Personal and business identifiers: validation by checksum, and masking for every display.

- Resident ID (居民身份证号, GB 11643-1999): 17 digits + a check character (0-9 or X), with a
  real birth date in positions 7-14.
- Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a 31-letter
  alphabet with a mod-31 check character.
- Mainland mobile numbers: 11 digits starting 13-19.
- Bank cards: 12-19 digits passing the Luhn check.
"""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class IdentifierError(ValueError):
    """An identifier that fails its format or checksum; the message never repeats the value."""


def id_number_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalise_id_number(raw: str) -> str:
    """Validate an 18-character resident ID number; returns it upper-cased."""
    value = raw.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise IdentifierError("must be 18 characters: 17 digits and a check digit or X")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdentifierError("does not contain a valid birth date") from None
    if id_number_check_char(value[:17]) != value[17]:
        raise IdentifierError("check digit does not match (mistyped?)")
    return value


def birth_date_of(id_number: str) -> date:
    value = normalise_id_number(id_number)
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(raw: str) -> str:
    """Validate an 18-character unified social credit code; returns it upper-cased."""
    value = raw.strip().upper()
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        raise IdentifierError("must be 18 characters of digits and capital letters (no I, O, S, V, Z)")
    if uscc_check_char(value[:17]) != value[17]:
        raise IdentifierError("check character does not match (mistyped?)")
    return value


def normalise_mobile(raw: str) -> str:
    value = re.sub(r"[\s-]", "", raw.strip())
    if value.startswith("+86"):
        value = value[3:]
    if not _MOBILE.match(value):
        raise IdentifierError("must be an 11-digit mainland mobile number starting 13-19")
    return value


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body` + digit pass the Luhn check (for generated demo and test cards)."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


def normalise_bank_card(raw: str) -> str:
    value = re.sub(r"\s", "", raw)
    if not value.isdigit() or not 12 <= len(value) <= 19 or not luhn_valid(value):
        raise IdentifierError("must be a 12-19 digit card number passing the Luhn check")
    return value


def mask(value: str, keep_start: int, keep_end: int) -> str:
    """Mask the middle of an identifier: mask("13812345678", 3, 4) -> "138****5678"."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_id_number(value: str) -> str:
    return mask(value, 3, 4)  # region prefix and last four; the birth date stays hidden


def mask_mobile(value: str) -> str:
    return mask(value, 3, 4)


def mask_bank_card(value: str) -> str:
    return mask(value, 6, 4)  # at most first six and last four (PCI DSS 3.3)


def mask_uscc(value: str) -> str:
    return mask(value, 4, 4)
