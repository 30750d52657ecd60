"""The services' reasons for refusing a field, in Chinese on Chinese portal pages: each common
FieldProblem of domain/ and services/ (identity numbers, phone, card, amount, term) has its
catalogue message with its figures carried over; an unknown reason stays in English."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import (
    IdentifierError,
    normalise_bank_card,
    normalise_id_number,
    normalise_mobile,
    normalise_uscc,
)
from puhui.domain.pricing import check_request
from puhui.services.catalogue import DEMO_PRODUCTS_DIR, read_definition, validate_definition
from puhui.web import portal_reasons as reasons
from puhui.web.i18n import Domain, Language, gettext_for
from puhui.web.portal_account import REGISTER_HINTS
from puhui.web.portal_common import explain
from tests.helpers import resident_id

ZH = gettext_for(Language.ZH, Domain.PORTAL)
EN = gettext_for(Language.EN, Domain.PORTAL)


def _refusal(check: Callable[[], object]) -> str:
    with pytest.raises((IdentifierError, DomainValidationError)) as caught:
        check()
    exc = caught.value
    return exc.problems[0].message if isinstance(exc, DomainValidationError) else str(exc)


def _product_problems() -> list[FieldProblem]:
    product, _w = validate_definition(read_definition(DEMO_PRODUCTS_DIR / "ph-flat.toml"), date(2026, 11, 22))
    with pytest.raises(DomainValidationError) as caught:
        check_request(product, Decimal("999999.00"), 7, product.rate_annual_min)
    return caught.value.problems


good = resident_id(5)
SERVICE_REASONS = {
    "length": lambda: normalise_id_number("12345"),
    "check digit": lambda: normalise_id_number(good[:-1] + ("0" if good[-1] != "0" else "1")),
    "uscc": lambda: normalise_uscc("12345"),
    "mobile": lambda: normalise_mobile("12345"),
    "card": lambda: normalise_bank_card("1234"),
}


@pytest.mark.parametrize("source", list(SERVICE_REASONS))
def test_identity_reasons_are_in_chinese(source: str) -> None:
    message = _refusal(SERVICE_REASONS[source])
    shown = reasons.known(message, ZH)
    assert shown is not None, message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in shown), shown
    assert reasons.known(message, EN) is not None  # the English page has the portal's wording too


def test_amount_and_term_reasons_keep_their_figures() -> None:
    shown = {p.path: reasons.reason(p.message, ZH) for p in _product_problems()}
    assert shown == {"amount": "须在 1000.00 至 50000.00 之间", "term_months": "须为以下之一：6, 12"}
    english = {p.path: reasons.reason(p.message, EN) for p in _product_problems()}
    assert english == {"amount": "must be between 1000.00 and 50000.00", "term_months": "must be one of: 6, 12"}


def test_registration_shows_the_reason_then_what_to_do() -> None:
    problem = FieldProblem("id_number", f"resident ID number {_refusal(SERVICE_REASONS['check digit'])}")
    page = explain(DomainValidationError([problem]), ZH, REGISTER_HINTS)
    assert page.fields["id_number"].startswith("居民身份证号码：校验码不符：是否有数字输错？。")
    assert ZH(REGISTER_HINTS["id_number"]) in page.fields["id_number"]
    english = explain(DomainValidationError([problem]), EN, REGISTER_HINTS).fields["id_number"]
    assert english.startswith("Resident ID number: the check digit does not match")


def test_an_unknown_reason_stays_in_english() -> None:
    assert reasons.reason("is something new the portal has not seen", ZH) == "is something new the portal has not seen"
    page = explain(DomainValidationError([FieldProblem("amount", "is odd")]), ZH)
    assert page.fields == {"amount": "is odd"}
