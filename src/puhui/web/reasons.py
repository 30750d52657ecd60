"""The domain's and the services' reasons (FieldProblem messages, conflicts, rate-cap findings and
limit breaches from domain/ and services/: English, often with figures in them) in the reader's
language, for the portal and the console alike: each known reason is matched and given its
catalogue message (in `base.po`, which both applications read), with its figures carried over.
A group named `..._msg` is itself a message (a cap rule's description, what a limit is about) and
is translated too. A reason not listed stays in English: the page still says what is wrong, only
not in Chinese."""

from __future__ import annotations

import re
from collections.abc import Callable

from puhui.domain.accrual import CURE_REASON

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


DATE = r"\d{4}-\d\d-\d\d"
NUMBER = r"-?[\d.]+"

# (pattern of the service's text, the message with the pattern's groups as {fields}); the more
# particular pattern first where two could match
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
        # a product's fields (domain/products.py, services/products.py)
        (rf"^must be between (?P<low>{NUMBER}) and (?P<high>{NUMBER}) for overdue loans \(R-2\.3\)$",
         N_("must be between {low} and {high} for overdue loans (R-2.3)")),
        (rf"^must not be below amount_min \((?P<low>{NUMBER})\)$",
         N_("must not be below the smallest amount ({low})")),
        (rf"^must not be below rate_annual_min \((?P<low>{NUMBER})\)$",
         N_("must not be below the lowest annual rate ({low})")),
        (rf"^must be at most (?P<most>{NUMBER})$", N_("must be at most {most}")),
        (r"^must be a non-empty string$", N_("must not be empty")),
        (r"^must be text$", N_("must be text")),
        (r"^must be a non-negative number$", N_("must not be negative")),
        (r"^must be a decimal number written as a string$", N_("must be a number")),
        (r"^must have at most two decimals$", N_("can have at most two decimals (fen)")),
        (r'^is a fraction: 12 % is "0\.12"$', N_("must be at most 100 %")),
        (r"^must be a non-negative whole number$", N_("must be a whole number, not negative")),
        (r"^must be a non-empty list of months$", N_("must list at least one term in months")),
        (r"^every term must be a whole number of months from 1 to 360$",
         N_("every term must be a whole number of months from 1 to 360")),
        (r"^must list penalty, fees, interest and principal once each$",
         N_("must list penalty, fees, interest and principal once each")),
        (r"^the upfront fee would swallow the whole principal$",
         N_("the upfront fee would take the whole principal")),
        (r"^revolving lines are priced by their daily rate alone; fees are not supported$",
         N_("a revolving line is priced by its daily rate alone; it cannot have fees")),
        (r"^is not a known fee \(undisclosed charges are not allowed\)$",
         N_("is not a known fee (undisclosed charges are not allowed)")),
        (r"^cannot be changed here$", N_("cannot be changed here")),
        (r"^must be at most (?P<most>\d+) characters$", N_("must be at most {most} characters")),
        # rate caps and per-borrower limits (domain/caps.py, domain/pricing.py)
        (rf"^APR (?P<apr>{NUMBER}) % (exceeds|is above) the (?P<limit>{NUMBER}) % cap of rule (?P<rule>\S+) "
         r"\((?P<description_msg>.+)\)$",
         N_("an APR of {apr} % is above the {limit} % cap of rule {rule} ({description_msg})")),
        (rf"^with the fees, a (?P<amount>{NUMBER}) loan over (?P<term>\d+) months at the highest rate has an APR of "
         rf"(?P<apr>{NUMBER}) % \((?P<without>{NUMBER}) % without fees\): above the (?P<limit>{NUMBER}) % cap of "
         r"rule (?P<rule>\S+)$",
         N_("with the fees, a loan of {amount} over {term} months at the highest rate has an APR of {apr} % "
            "({without} % without fees): above the {limit} % cap of rule {rule}")),
        (rf"^(?P<what_msg>[a-z -]+) (?P<value>{NUMBER}) exceeds (?P<limit>{NUMBER}) \((?P<rule>R-[\d.]+)\)$",
         N_("{what_msg} of {value} is above the limit of {limit} ({rule})")),
        (r"^a bullet-repayment consumer loan may run at most (?P<months>\d+) months \(R-4\.3\)$",
         N_("a consumer loan repaid at the end may run at most {months} months (R-4.3)")),
        # amounts, terms and rates of a request (domain/pricing.py, money.py, services/reviews.py)
        (rf"^must be between (?P<low>{NUMBER}) and (?P<high>{NUMBER}) for \S+$",
         N_("must be between {low} and {high}")),
        (r"^must be one of (?P<options>[\d, ]+) for \S+$", N_("must be one of: {options}")),
        (r"^(amount )?must be positive$", N_("must be more than zero")),
        (r"^amount has more than two decimals$", N_("can have at most two decimals (fen)")),
        (r"^amount is too large$", N_("is too large")),
        (r"^.+ is not a number$", N_("is not a number")),
        (r"^is required$", N_("is required")),
        (r"^at most four decimals, e\.g\. 0\.1200$", N_("can have at most four decimals, e.g. 0.1200")),
        (r"^product (?P<code>\S+) is no longer offered$", N_("product {code} is no longer offered")),
        # repayments and quotes (services/servicing.py)
        (rf"^a payoff needs (?P<amount>{NUMBER}) on this date$", N_("paying off on this date needs ¥{amount}")),
        (rf"^must be (?P<date>{DATE}) or later$", N_("must be {date} or later")),
        (rf"^a quote can reach the next due date (?P<date>{DATE}) at the latest$",
         N_("a quote can reach the next due date, {date}, at the latest")),
        (r"^a shorter term is not offered on \S+ loans$",
         N_("a shorter term is not offered on this loan (its principal is repaid at the end); "
            "prepay for smaller installments instead")),
        (r"^loan \S+ is \w+; nothing is owed on it$", N_("nothing is owed on this loan any more")),
        (r"^loan \S+ is not active; there is nothing to pay off$", N_("this loan is not being repaid now")),
        (r"^loan \S+ has not been paid out yet; there is nothing to repay$",
         N_("the loan has not been paid out yet, so there is nothing to repay")),
        (rf"^the end-of-day run has not billed the installment due (?P<date>{DATE}); run it first$",
         N_("the installment due {date} is still being billed; try again in a few minutes")),
        (r"^channel reference \S+ was used for another payment$",
         N_("this payment was already made with other details; reload the page and pay again")),
        (r"^loan \S+ is \w+; only a signed loan waiting for its money can be paid out$",
         N_("only a signed loan waiting for its money can be paid out")),
        (r"^this Idempotency-Key was used for a different request$",
         N_("this form was already sent with other details; reload the page and try again")),
        (r"^a restructuring needs a recorded reason$", N_("a restructuring needs a recorded reason")),
        (r"^a write-off needs a recorded reason$", N_("a write-off needs a recorded reason")),
        # end of day, alerts (services/eod.py, services/fraud.py)
        (rf"^cannot close (?P<day>{DATE}) before it starts; today is (?P<today>{DATE})$",
         N_("{day} cannot be closed before it starts; today is {today}")),
        (r"^more than ten years to catch up$", N_("that is more than ten years to catch up")),
        (rf"^the end of day for (?P<day>{DATE}) is already running or done$",
         N_("the end of day for {day} is already running or done")),
        (r"^say what was found and done$", N_("say what was found and what was done")),
        (r"^a flag needs a recorded reason$", N_("a flag needs a recorded reason")),
        (r"^alert \S+ is already (?P<status>\w+)$", N_("this alert is already dealt with")),
        (r"^account \S+ is already flagged$", N_("this account is already flagged")),
        # the five-category class (domain/accrual.py)
        (rf"^{re.escape(CURE_REASON)}$",
         N_("cured: the overdue amounts were paid in full, then two installments in a row were paid on time over "
            "at least two months")),
        # a model's report (risk/training)
        (rf"^LightGBM is chosen only if its mean AUC beats the scorecard's by more than (?P<margin>{NUMBER})$",
         N_("LightGBM is chosen only if its mean AUC beats the scorecard's by more than {margin}")),
    )
)  # fmt: skip
SUBJECTS = {  # "resident ID number <reason>": the number the reason is about
    "resident ID number": N_("Resident ID number: {reason}"),
    "unified social credit code": N_("Unified social credit code: {reason}"),
}
# the messages inside reasons (`..._msg` groups): cap rules (domain/caps.py) and what a limit is about
INNER_MESSAGES = (
    N_("small-loan company: no new loan with a comprehensive cost above 24 %"),
    N_("small-loan company: bring new loans to at most 4 x LPR by end-2027"),
    N_("small-loan company: new loans at most 4 x LPR from 2028-01-01"),
    N_("bank loan facilitation (助贷): cost of a single loan at most 24 %"),
    N_("financial loan contracts: total cost above 24 % is not supported (SPC 2017)"),
    N_("consumption credit"),
    N_("business credit"),
    N_("single-borrower exposure"),
    N_("exposure with related parties"),
    N_("internet consumer credit"),
    N_("natural-person credit"),
    N_("credit against income"),
)


def known(message: str, _: Gettext) -> str | None:
    """The reason in the reader's language, or None when it is not a known one."""
    for subject, template in SUBJECTS.items():
        if message.startswith(subject + " "):
            reason = known(message[len(subject) + 1 :], _)
            return _(template).format(reason=reason) if reason else None
    for pattern, text in REASONS:
        found = pattern.match(message)
        if found:
            groups = {k: _(v) if k.endswith("_msg") else v for k, v in found.groupdict().items()}
            return _(text).format(**groups)
    return None


def reason(message: str, _: Gettext) -> str:
    """The reason in the reader's language; the service's English when it is not a known one."""
    return known(message, _) or message
