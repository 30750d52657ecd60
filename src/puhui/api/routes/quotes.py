"""Quotes: the full price of a loan before anyone applies."""

from __future__ import annotations

from fastapi import APIRouter

from puhui.api.deps import ContainerDep
from puhui.api.errors import ApiError
from puhui.api.schemas.common import ERROR_RESPONSES
from puhui.api.schemas.products import QuoteOut, QuoteRequest
from puhui.domain.pricing import make_quote
from puhui.services import catalogue

router = APIRouter(prefix="/v1/quotes", tags=["quotes"])


@router.post("", response_model=QuoteOut, responses=ERROR_RESPONSES)
def create_quote(body: QuoteRequest, container: ContainerDep) -> QuoteOut:
    product = catalogue.get_product(container.db, body.product_code)
    if product is None:
        raise ApiError(
            422,
            "unknown_product",
            f"product {body.product_code} does not exist",
            [{"path": "product_code", "message": "no such product"}],
        )
    start = body.start_date or container.clock.business_date()
    quote = make_quote(product, body.amount, body.term_months, body.annual_rate, start)
    return QuoteOut.of(quote)
