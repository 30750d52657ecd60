"""Borrowing: the loan calculator (a live schedule over htmx), applying and the decision in plain
words, the contract (preview, PDF, signing with a fresh SMS code) and asking for the payout."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from puhui.api.deps import ContainerDep, client_ip
from puhui.clock import CHINA_TZ, as_utc
from puhui.domain.identity import IdentifierError, mask_bank_card, normalise_bank_card
from puhui.domain.servicing import LoanStatus
from puhui.risk.policy import Outcome
from puhui.services import auth, contracts, disbursement, origination
from puhui.services.origination import ApplicationView, NewApplication
from puhui.web.i18n import Language
from puhui.web.portal_common import (
    N_,
    SERVICE_ERRORS,
    BorrowerDep,
    FormDep,
    MaybeViewerDep,
    Notice,
    PageError,
    PortalRoute,
    Redirect,
    Viewer,
    borrower_id,
    explain,
    gettext_of,
    is_htmx,
    language,
    notice_of,
)
from puhui.web.portal_loans import STATUS_LABELS, loan_details
from puhui.web.portal_products import card_of, default_amount, default_term, parse_terms, pick, products_for, quote
from puhui.web.render import render

router = APIRouter(include_in_schema=False, route_class=PortalRoute)

# --- the calculator ---------------------------------------------------------------------------


def _calculator_context(
    request: Request, container: ContainerDep, viewer: Viewer | None, params: dict[str, str]
) -> tuple[dict[str, Any], int]:
    _ = gettext_of(request)
    kind = viewer.borrower.kind if viewer and viewer.borrower else None
    products = products_for(container.db, kind)
    product = pick(products, params.get("product"))
    if product is None:
        return {"cards": [], "card": None, "quote": None}, 200
    amount_raw = params.get("amount") or str(default_amount(product))
    term_raw = params.get("term_months") or str(default_term(product))
    today = container.clock.business_date()
    priced = quote(product, amount_raw, term_raw, today, _)
    problem = priced if isinstance(priced, PageError) else None
    context = {
        "cards": [card_of(p, language(request), today, _) for p in products],
        "card": card_of(product, language(request), today, _),
        "amount": amount_raw,
        "term": term_raw,
        "quote": None if problem else priced,
        "signed_in": viewer is not None,
        **(problem.context() if problem else {}),
    }
    return context, problem.status if problem else 200


@router.get("/calculator", response_class=HTMLResponse)
def calculator(request: Request, container: ContainerDep, viewer: MaybeViewerDep) -> Response:
    context, status = _calculator_context(request, container, viewer, dict(request.query_params))
    return render(request, "portal/calculator.html", status, **context)


@router.get("/calculator/quote", response_class=HTMLResponse)
def calculator_quote(request: Request, container: ContainerDep, viewer: MaybeViewerDep) -> Response:
    """The schedule card alone, for htmx to swap in as the amount or term changes."""
    context, status = _calculator_context(request, container, viewer, dict(request.query_params))
    return render(request, "portal/_quote.html", status, fragment=True, **context)


# --- applying ---------------------------------------------------------------------------------

APPLY_HINTS = {"purpose": N_("Say in a few words what the money is for, e.g. new stock for the shop.")}


def _apply_page(
    request: Request, container: ContainerDep, viewer: Viewer, values: dict[str, str], problem: PageError | None = None
) -> HTMLResponse:
    _ = gettext_of(request)
    assert viewer.borrower is not None
    today = container.clock.business_date()
    products = products_for(container.db, viewer.borrower.kind)
    product = pick(products, values.get("product"))
    return render(
        request,
        "portal/apply.html",
        problem.status if problem else 200,
        cards=[card_of(p, language(request), today, _) for p in products],
        card=card_of(product, language(request), today, _) if product else None,
        values={
            "amount": str(default_amount(product)) if product else "",
            "term_months": str(default_term(product)) if product else "",
            **values,
        },
        **(problem.context() if problem else {}),
    )


@router.get("/apply", response_class=HTMLResponse)
def apply_page(request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return _apply_page(request, container, viewer, dict(request.query_params))


@router.post("/apply", response_class=HTMLResponse)
def apply(request: Request, container: ContainerDep, viewer: BorrowerDep, form: FormDep) -> Response:
    _ = gettext_of(request)
    assert viewer.borrower is not None
    product = pick(products_for(container.db, viewer.borrower.kind), form.text("product"))
    if product is None:
        raise Redirect("/")
    parsed = parse_terms(product, form.text("amount"), form.text("term_months"), _)
    if isinstance(parsed, PageError) or not form.text("purpose"):
        fields = parsed.fields if isinstance(parsed, PageError) else {}
        if not form.text("purpose"):
            fields = {**fields, "purpose": _(APPLY_HINTS["purpose"])}
        problem = PageError(422, _("Some details need correcting: see the messages next to the fields."), fields)
        return _apply_page(request, container, viewer, dict(form), problem)
    command = NewApplication(
        borrower_id(viewer), product.code, parsed[0], parsed[1], form.text("purpose"), None, client_ip(request)
    )
    try:
        made = origination.apply(container, command, viewer.principal)
    except SERVICE_ERRORS as exc:
        return _apply_page(request, container, viewer, dict(form), explain(exc, _, APPLY_HINTS))
    raise Redirect(f"/applications/{made.id}")


OUTCOME_TITLES = {
    Outcome.APPROVED: N_("Approved: here is your offer"),
    Outcome.REVIEW: N_("A credit officer is looking at your application"),
    Outcome.DECLINED: N_("We cannot lend to you this time"),
}
OUTCOME_BADGES = {
    Outcome.APPROVED: N_("Approved"),
    Outcome.REVIEW: N_("In review"),
    Outcome.DECLINED: N_("Not approved"),
}
OUTCOME_NEXT = {
    Outcome.APPROVED: N_("Read the offer, then accept it to see the contract. Nothing is signed yet."),
    Outcome.REVIEW: N_("We will send you an SMS when there is a decision, usually within one working day."),
    Outcome.DECLINED: N_("The reasons are below. You may apply again when they have changed."),
}


def china_time(moment: Any) -> str:
    """A stored moment in China time, to the minute ("2026-12-05 11:54")."""
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return as_utc(moment).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _decision_words(decision: dict[str, Any], lang: Language) -> tuple[list[str], list[dict[str, Any]]]:
    """The policy's reasons and the model's factors, each once, in the page's language (`text` is
    Chinese, `text_en` English); the model's factors also appear among the reasons."""
    key = "text_en" if lang is Language.EN else "text"
    factor_codes = {f["code"] for f in decision.get("factors", [])}
    reasons = [r[key] for r in decision.get("reasons", []) if r["code"] not in factor_codes]
    factors = [{"text": f[key], "impact": f.get("impact")} for f in decision.get("factors", [])]
    return reasons, factors


def _application_page(request: Request, view: ApplicationView, problem: PageError | None = None) -> HTMLResponse:
    outcome = Outcome(view.decision["outcome"]) if view.decision["outcome"] in Outcome._value2member_map_ else None
    reasons, factors = _decision_words(view.decision, language(request))
    offer = view.offer
    return render(
        request,
        "portal/application.html",
        problem.status if problem else 200,
        application=view,
        outcome=outcome,
        title=OUTCOME_TITLES.get(outcome) if outcome else view.status,
        badge=OUTCOME_BADGES.get(outcome) if outcome else view.status,
        next_step=OUTCOME_NEXT.get(outcome) if outcome else "",
        reasons=reasons,
        factors=factors,
        offer=offer,
        valid_until=china_time(offer["valid_until"]) if offer else None,
        offer_interest=sum((Decimal(i["interest"]) for i in offer["schedule"]), Decimal(0)) if offer else None,
        **(problem.context() if problem else {}),
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(application_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return _application_page(request, origination.get_application(container, application_id, viewer.principal))


@router.post("/applications/{application_id}", response_class=HTMLResponse)
def accept_offer(application_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """Accepting is idempotent in the service: a second press opens the same contract."""
    try:
        contract = contracts.accept(container, application_id, viewer.principal)
    except SERVICE_ERRORS as exc:
        view = origination.get_application(container, application_id, viewer.principal)
        return _application_page(request, view, explain(exc, gettext_of(request)))
    raise Redirect(f"/contracts/{contract.id}")


# --- the contract -----------------------------------------------------------------------------

SIGN_HINTS = {"otp": N_("Enter the 6-digit code from the SMS we just sent.")}


def _contract_page(
    request: Request,
    container: ContainerDep,
    viewer: Viewer,
    contract_id: str,
    problem: PageError | None = None,
    **extra: Any,
) -> HTMLResponse:
    view = contracts.get(container, contract_id, viewer.principal)
    return render(
        request,
        "portal/contract.html",
        problem.status if problem else 200,
        contract=view,
        terms=view.terms,
        net=Decimal(view.terms["amount"]) - Decimal(view.terms["upfront_fee"]),
        needs_phone=viewer.phone is None,
        **(problem.context() if problem else {}),
        **extra,
    )


@router.get("/contracts/{contract_id}", response_class=HTMLResponse)
def contract_page(contract_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return _contract_page(request, container, viewer, contract_id)


@router.get("/contracts/{contract_id}/document", response_class=HTMLResponse)
def contract_document(contract_id: str, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """The stored document of record, for the preview frame (no script may run in it)."""
    html = contracts.document(container, contract_id, viewer.principal)
    csp = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


@router.get("/contracts/{contract_id}/contract.pdf")
def contract_pdf(contract_id: str, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """What `GET /v1/contracts/{id}/pdf` gives, for the cookie's borrower (no bearer token here)."""
    pdf = contracts.document_pdf(container, contract_id, viewer.principal)
    disposition = f'inline; filename="contract-{contract_id}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.post("/contracts/{contract_id}/code", response_class=HTMLResponse)
def send_signing_code(
    contract_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep, form: FormDep
) -> Response:
    """A fresh code for signing (the sign-in code was spent on signing in)."""
    phone = viewer.phone or form.text("phone")
    template = "portal/_sign_code.html" if is_htmx(request) else None
    try:
        sent = auth.request_otp(container, phone, client_ip(request))
    except SERVICE_ERRORS as exc:
        problem = explain(exc, gettext_of(request), {"phone": N_("Use the mobile number you signed in with.")})
        if template:
            return render(request, template, problem.status, code_sent=False, **problem.context())
        return _contract_page(request, container, viewer, contract_id, problem)
    extra: dict[str, Any] = {"code_sent": True, "demo_code": sent.demo_otp, "minutes": sent.expires_in_s // 60}
    if template:
        return render(request, template, **extra)
    return _contract_page(request, container, viewer, contract_id, **extra)


@router.get("/contracts/{contract_id}/code")
def signing_code_again(contract_id: str) -> Response:
    raise Redirect(f"/contracts/{contract_id}")


@router.post("/contracts/{contract_id}", response_class=HTMLResponse)
def sign_contract(
    contract_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep, form: FormDep
) -> Response:
    _ = gettext_of(request)
    if form.text("agree") != "yes":
        text = _("Tick the box to confirm you have read the contract and agree to it.")
        return _contract_page(request, container, viewer, contract_id, PageError(422, text, {"agree": text}))
    try:
        signed = contracts.sign(container, contract_id, form.text("otp"), viewer.principal)
    except SERVICE_ERRORS as exc:
        return _contract_page(request, container, viewer, contract_id, explain(exc, _, SIGN_HINTS))
    raise Redirect(f"/loans/{signed.loan_id}/payout?done={Notice.SIGNED.value}")


# --- the payout -------------------------------------------------------------------------------

CARD_HINTS = {"account_number": N_("Check the card number: 16 to 19 digits, as printed on your debit card.")}


def _payout_page(
    request: Request, container: ContainerDep, viewer: Viewer, loan_id: str, problem: PageError | None = None
) -> HTMLResponse:
    details = loan_details(container, loan_id, viewer.principal)
    if details.loan["status"] != LoanStatus.PENDING_DISBURSEMENT.value and problem is None:
        raise Redirect(f"/loans/{loan_id}")
    return render(
        request,
        "portal/payout.html",
        problem.status if problem else 200,
        loan=details.loan,
        terms=details.terms,
        net=Decimal(details.terms["amount"]) - Decimal(details.terms["upfront_fee"]) if details.terms else None,
        key=uuid.uuid4().hex,  # one payout per press: the service replays a repeated key
        notice=notice_of(request),
        **(problem.context() if problem else {}),
    )


@router.get("/loans/{loan_id}/payout", response_class=HTMLResponse)
def payout_page(loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return _payout_page(request, container, viewer, loan_id)


@router.post("/loans/{loan_id}/payout", response_class=HTMLResponse)
def request_payout(
    loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep, form: FormDep
) -> Response:
    _ = gettext_of(request)
    card = form.text("account_number")
    try:
        stored = disbursement.request_disbursement(
            container, loan_id, card, form.text("key") or uuid.uuid4().hex, viewer.principal
        )
    except SERVICE_ERRORS as exc:
        return _payout_page(request, container, viewer, loan_id, explain(exc, _, CARD_HINTS))
    if stored.status_code >= 400:  # intercepted by the payout checks: risk staff will look at it
        text = _("We held this payout for a security check. We will contact you; nothing has been paid out yet.")
        return _payout_page(request, container, viewer, loan_id, PageError(409, text, {"account_number": text}))
    details = loan_details(container, loan_id, viewer.principal)
    return render(
        request,
        "portal/payout_sent.html",
        loan=details.loan,
        statuses=STATUS_LABELS,
        card=_masked(card),
        status=stored.body.get("status"),
    )


def _masked(card: str) -> str:
    try:
        return mask_bank_card(normalise_bank_card(card))
    except IdentifierError:
        return ""
