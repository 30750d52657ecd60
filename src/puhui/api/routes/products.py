"""The product catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.errors import not_found
from puhui.api.schemas.common import ERROR_RESPONSES, ErrorBody
from puhui.api.schemas.products import ProductCard, ProductChangeOut, ProductOut, ProductUpdateIn, ProductUpdateOut
from puhui.domain.apr import HUNDRED
from puhui.domain.pricing import cheapest_apr, worst_case_apr
from puhui.domain.products import LoanProduct
from puhui.money import format_rate
from puhui.services import catalogue, products

router = APIRouter(prefix="/v1/products", tags=["products"])


def _card(p: LoanProduct, container: ContainerDep) -> ProductCard:
    today = container.clock.business_date()
    return ProductCard(
        **ProductOut.of(p).model_dump(),
        apr_from=format_rate(cheapest_apr(p, today) / HUNDRED),
        apr_to=format_rate(worst_case_apr(p, today) / HUNDRED),
    )


@router.get("", response_model=list[ProductCard])
def list_products(container: ContainerDep) -> list[ProductCard]:
    return [_card(p, container) for p in catalogue.list_products(container.db)]


@router.get("/{code}", response_model=ProductCard, responses=ERROR_RESPONSES)
def get_product(code: str, container: ContainerDep) -> ProductCard:
    product = catalogue.get_product(container.db, code)
    if product is None:
        raise not_found("product", code)
    return _card(product, container)


UPDATE_RESPONSES = {
    **ERROR_RESPONSES,
    403: {"model": ErrorBody, "description": "Only risk and admin users change products"},
    422: {"model": ErrorBody, "description": "A field breaks a product rule or a legal cap; `fields` names it"},
}


@router.put("/{code}", response_model=ProductUpdateOut, responses=UPDATE_RESPONSES)
def update_product(
    code: str, body: ProductUpdateIn, container: ContainerDep, caller: CurrentPrincipal
) -> ProductUpdateOut:
    """Change a product's editable fields (those left out keep their value). The definition is
    checked as a product file is; loans already signed keep the version they were signed under."""
    change = products.update(container, code, body.model_dump(exclude_none=True), caller)
    return ProductUpdateOut(
        product=_card(change.product, container),
        version=change.version,
        active=change.active,
        changes=[ProductChangeOut(**c) for c in change.changes],
        warnings=[w.message for w in change.warnings],
    )
