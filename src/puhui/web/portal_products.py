"""Products as the portal shows them (name and description in the page's language, the other
language where the product has no text in this one; amounts, terms, APR range),
the default product for each kind of borrower, and the calculator's quote with its problems
worded against the product's own range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from puhui.adapters.db.database import Database
from puhui.domain.apr import HUNDRED
from puhui.domain.caps import RateCapExceeded
from puhui.domain.enums import BorrowerKind, RepaymentMethod
from puhui.domain.errors import DomainValidationError
from puhui.domain.pricing import Quote, cheapest_apr, make_quote, worst_case_apr
from puhui.domain.products import LoanProduct
from puhui.domain.schedule import ScheduleError
from puhui.money import MoneyError, parse_amount
from puhui.services import catalogue
from puhui.web.i18n import Language
from puhui.web.portal_common import N_, Gettext, PageError, clean_amount

# The product a borrower sees first: consumer installments for individuals, the working-capital
# loan for businesses. Any other product they may borrow is offered beside it.
DEFAULT_PRODUCT = {
    BorrowerKind.INDIVIDUAL: "PH-FLAT",
    BorrowerKind.INDIVIDUAL_BUSINESS: "PH-EI",
    BorrowerKind.ENTERPRISE: "PH-EI",
}
METHOD_LABELS = {
    RepaymentMethod.EQUAL_INSTALLMENT: N_("Equal monthly installments"),
    RepaymentMethod.EQUAL_PRINCIPAL: N_("Equal principal, falling installments"),
    RepaymentMethod.INTEREST_ONLY: N_("Interest monthly, principal at the end"),
    RepaymentMethod.FLAT_RATE: N_("Flat rate: interest on the original amount every month"),
    RepaymentMethod.REVOLVING_DAILY: N_("Draw and repay any day, interest by the day"),
}
PREFERRED_AMOUNT = Decimal("10000.00")
PREFERRED_TERM_MONTHS = 12


@dataclass(frozen=True, slots=True)
class ProductCard:
    product: LoanProduct
    name: str
    description: str  # "" when the product has none in either language
    method: str
    apr_from: Decimal  # fractions, as the `percent` filter takes them
    apr_to: Decimal

    @property
    def code(self) -> str:
        return self.product.code


def in_language(zh: str, en: str, lang: Language) -> str:
    """The text in the page's language, the other one when the product has none in it."""
    return (zh or en) if lang is Language.ZH else (en or zh)


def card_of(product: LoanProduct, lang: Language, today: date, _: Gettext) -> ProductCard:
    return ProductCard(
        product,
        in_language(product.name, product.name_en, lang),
        in_language(product.description_zh, product.description, lang),
        _(METHOD_LABELS[product.repayment_method]),
        cheapest_apr(product, today) / HUNDRED,
        worst_case_apr(product, today) / HUNDRED,
    )


def products_for(db: Database, kind: BorrowerKind | None) -> list[LoanProduct]:
    """Active products the borrower may take (all of them for a visitor), the default first."""
    found = [p for p in catalogue.list_products(db) if kind is None or kind in p.borrower_kinds]
    first = DEFAULT_PRODUCT.get(kind) if kind else DEFAULT_PRODUCT[BorrowerKind.INDIVIDUAL]
    return sorted(found, key=lambda p: (p.code != first, p.code))


def pick(products: list[LoanProduct], code: str | None) -> LoanProduct | None:
    chosen = [p for p in products if p.code == code]
    return chosen[0] if chosen else (products[0] if products else None)


def default_amount(product: LoanProduct) -> Decimal:
    return min(max(PREFERRED_AMOUNT, product.amount_min), product.amount_max)


def default_term(product: LoanProduct) -> int:
    terms = product.term_options_months
    return PREFERRED_TERM_MONTHS if PREFERRED_TERM_MONTHS in terms else terms[-1]


def yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def range_messages(product: LoanProduct, _: Gettext) -> dict[str, str]:
    """What to enter instead, in the product's own terms."""
    terms = " / ".join(str(t) for t in product.term_options_months)
    return {
        "amount": _("Enter an amount from ¥{low} to ¥{high}.").format(
            low=yuan(product.amount_min), high=yuan(product.amount_max)
        ),
        "term_months": _("Choose a term of {terms} months.").format(terms=terms),
    }


def parse_terms(product: LoanProduct, amount_raw: str, term_raw: str, _: Gettext) -> tuple[Decimal, int] | PageError:
    """The amount and term typed, or the range to keep to (nothing is asked of a service yet)."""
    ranges = range_messages(product, _)
    fields: dict[str, str] = {}
    amount = Decimal(0)
    try:
        amount = parse_amount(clean_amount(amount_raw))
    except MoneyError:
        fields["amount"] = ranges["amount"]
    term = int(term_raw) if term_raw.isdigit() else 0
    if term not in product.term_options_months:
        fields["term_months"] = ranges["term_months"]
    if amount and not product.amount_min <= amount <= product.amount_max:
        fields["amount"] = ranges["amount"]
    if fields:
        return PageError(422, _("Keep to this product's range: see the messages next to the fields."), fields)
    return amount, term


def quote(product: LoanProduct, amount_raw: str, term_raw: str, start: date, _: Gettext) -> Quote | PageError:
    """The schedule, fees and APR at the product's lowest rate (the decision sets the borrower's)."""
    parsed = parse_terms(product, amount_raw, term_raw, _)
    if isinstance(parsed, PageError):
        return parsed
    try:
        return make_quote(product, parsed[0], parsed[1], None, start)
    except (DomainValidationError, ScheduleError):
        return PageError(422, _("Keep to this product's range: see the messages next to the fields."))
    except RateCapExceeded:
        return PageError(422, _("This price would be above the legal rate cap, so it cannot be offered."))
