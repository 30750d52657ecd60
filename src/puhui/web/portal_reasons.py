"""The services' reasons for refusing a field (FieldProblem messages from domain/ and services/,
English and sometimes with figures in them) in the portal's words: each common reason is matched
and given its catalogue message, with its figures carried over. A reason not listed stays in
English: the page still says what is wrong, only not in Chinese."""

from __future__ import annotations

import re
from collections.abc import Callable

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


# (pattern of the service's text, the portal's message with the pattern's groups as {fields})
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        # identity numbers (domain/identity.py, services/borrowers.py)
        (r"^must be 18 characters: 17 digits and a check digit or X$",
         N_("must have 18 characters: 17 digits and a check digit (a digit or X)")),
        (r"^does not contain a valid birth date$", N_("does not contain a valid date of birth")),
        (r"^check digit does not match \(mistyped\?\)$", N_("the check digit does not match: is a digit mistyped?")),
        (r"^must be 18 characters of digits and capital letters \(no I, O, S, V, Z\)$",
         N_("must have 18 digits and capital letters (no I, O, S, V or Z)")),
        (r"^check character does not match \(mistyped\?\)$",
         N_("the check character does not match: is a character mistyped?")),
        (r"^must be an 11-digit mainland mobile number starting 13-19$",
         N_("must be an 11-digit mainland mobile number starting with 13 to 19")),
        (r"^must be a 12-19 digit card number passing the Luhn check$",
         N_("must be a bank card number of 12 to 19 digits; check that none is mistyped")),
        (r"^applies to individual businesses and enterprises only$",
         N_("applies to individual businesses and enterprises only")),
        (r"^must be the phone you signed in with$", N_("must be the phone number you signed in with")),
        # amounts, terms and rates of a product (domain/pricing.py, money.py)
        (r"^must be between (?P<low>[\d.]+) and (?P<high>[\d.]+) for \S+$", N_("must be between {low} and {high}")),
        (r"^must be one of (?P<options>[\d, ]+) for \S+$", N_("must be one of: {options}")),
        (r"^(amount )?must be positive$", N_("must be more than zero")),
        (r"^amount has more than two decimals$", N_("can have at most two decimals (fen)")),
        (r"^amount is too large$", N_("is too large")),
        (r"^.+ is not a number$", N_("is not a number")),
        (r"^is required$", N_("is required")),
        # repayments and quotes (services/servicing.py)
        (r"^a payoff needs (?P<amount>[\d.]+) on this date$", N_("paying off on this date needs ¥{amount}")),
        (r"^must be (?P<date>\d{4}-\d\d-\d\d) or later$", N_("must be {date} or later")),
        (r"^a quote can reach the next due date (?P<date>\d{4}-\d\d-\d\d) at the latest$",
         N_("a quote can reach the next due date, {date}, at the latest")),
        (r"^a shorter term is not offered on \S+ loans$",
         N_("a shorter term is not offered on this loan (its principal is repaid at the end); "
            "prepay for smaller installments instead")),
        (r"^loan \S+ is \w+; nothing is owed on it$", N_("nothing is owed on this loan any more")),
        (r"^loan \S+ is not active; there is nothing to pay off$", N_("this loan is not being repaid now")),
        (r"^loan \S+ has not been paid out yet; there is nothing to repay$",
         N_("the loan has not been paid out yet, so there is nothing to repay")),
        (r"^the end-of-day run has not billed the installment due (?P<date>\d{4}-\d\d-\d\d); run it first$",
         N_("the installment due {date} is still being billed; try again in a few minutes")),
        (r"^channel reference \S+ was used for another payment$",
         N_("this payment was already made with other details; reload the page and pay again")),
    )
)  # fmt: skip
SUBJECTS = {  # "resident ID number <reason>": the number the reason is about
    "resident ID number": N_("Resident ID number: {reason}"),
    "unified social credit code": N_("Unified social credit code: {reason}"),
}


def known(message: str, _: Gettext) -> str | None:
    """The reason in the reader's language, or None when the portal does not know it."""
    for subject, template in SUBJECTS.items():
        if message.startswith(subject + " "):
            reason = known(message[len(subject) + 1 :], _)
            return _(template).format(reason=reason) if reason else None
    for pattern, text in REASONS:
        found = pattern.match(message)
        if found:
            return _(text).format(**found.groupdict())
    return None


def reason(message: str, _: Gettext) -> str:
    """The reason in the reader's language; the service's English when it is not a known one."""
    return known(message, _) or message
