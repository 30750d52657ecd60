"""The borrower portal (mobile first): sign-in with a phone code, consent per data source, the
pre-approved line, the loan calculator, applying, the contract, my loans and repaying.

This module is the home page and gathers the portal's routers (account, credit, loans); the pages
call the services in-process, exactly as the API routes do, and never touch the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from puhui.api.deps import ContainerDep
from puhui.domain.access import ConsentScope
from puhui.services import borrowers, decisions
from puhui.web import portal_account, portal_credit, portal_loans
from puhui.web.portal_common import (
    SERVICE_ERRORS,
    BorrowerDep,
    MaybeViewerDep,
    PortalRoute,
    Redirect,
    Viewer,
    borrower_id,
    explain,
    gettext_of,
    language,
    notice_of,
)
from puhui.web.portal_loans import my_loans, reminders
from puhui.web.portal_products import DEFAULT_PRODUCT, card_of, pick, products_for
from puhui.web.render import render

router = APIRouter(include_in_schema=False, route_class=PortalRoute)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, container: ContainerDep, viewer: MaybeViewerDep) -> Response:
    _ = gettext_of(request)
    today = container.clock.business_date()
    if viewer is None:
        cards = [card_of(p, language(request), today, _) for p in products_for(container.db, None)]
        return render(request, "portal/home.html", signed_in=False, cards=cards, notice=notice_of(request))
    if viewer.borrower is None:
        raise Redirect("/register")
    loans = my_loans(container, viewer)
    return render(
        request,
        "portal/home.html",
        signed_in=True,
        borrower=viewer.borrower,
        loans=loans,
        reminders=reminders(container, viewer, loans, today),
        statuses=portal_loans.STATUS_LABELS,
        notice=notice_of(request),
    )


def _has_credit_consent(container: ContainerDep, viewer: Viewer) -> bool:
    consents = borrowers.list_consents(container, borrower_id(viewer), viewer.principal)
    return any(c.scope is ConsentScope.CREDIT_ASSESSMENT and c.revoked_at is None for c in consents)


@router.get("/pre-approval", response_class=HTMLResponse)
def pre_approval(request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """The line and price for the default product of the borrower's kind: a pre-approval asked
    at the product's largest amount and longest term (the decision cuts it to the line), and only
    with the credit-assessment consent; without it, the way to give it."""
    _ = gettext_of(request)
    assert viewer.borrower is not None
    if not _has_credit_consent(container, viewer):
        return render(request, "portal/_pre_approval.html", consent_needed=True)
    product = pick(products_for(container.db, viewer.borrower.kind), DEFAULT_PRODUCT[viewer.borrower.kind])
    if product is None:
        return render(request, "portal/_pre_approval.html", result=None)
    term = max(product.term_options_months)
    try:
        result = decisions.pre_approve(
            container, borrower_id(viewer), product.code, product.amount_max, term, viewer.principal
        )
    except SERVICE_ERRORS as exc:
        problem = explain(exc, _)
        return render(request, "portal/_pre_approval.html", problem.status, result=None, **problem.context())
    card = card_of(product, language(request), container.clock.business_date(), _)
    return render(request, "portal/_pre_approval.html", result=_line(result), card=card, term=term)


def _line(result: dict[str, Any]) -> dict[str, Any]:
    """The decision as the card shows it: an approval with a line above zero, or not."""
    approved = result.get("outcome") == "approved" and Decimal(result.get("credit_limit") or 0) > 0
    return {**result, "approved": approved}


for part in (portal_account.router, portal_credit.router, portal_loans.router):
    router.include_router(part)
