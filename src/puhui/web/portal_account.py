"""The borrower's account pages: sign-in with a phone code, sign-out, registration, and one
consent screen per data scope (PIPL Art. 29: separate consent for a stated purpose)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, func, select

from puhui.adapters.db.tables import borrower_data
from puhui.api.deps import ContainerDep, client_ip
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import IdentifierError, mask_mobile, normalise_mobile
from puhui.money import MoneyError, parse_amount
from puhui.risk.data.formats import InputFormat
from puhui.risk.data.schemas import Source
from puhui.services import auth, borrowers, risk_data
from puhui.services.borrowers import BorrowerView, ConsentView, NewBorrower
from puhui.services.seeding import TYPICAL_MONTHLY_INCOME, cash_flow_history
from puhui.web.portal_common import (
    FIX_FIELDS,
    N_,
    PHONE_COOKIE,
    SERVICE_ERRORS,
    BorrowerDep,
    Form,
    FormDep,
    MaybeViewerDep,
    Notice,
    PageError,
    PortalRoute,
    Redirect,
    SignedInDep,
    borrower_id,
    explain,
    gettext_of,
    notice_of,
    seal_phone,
)
from puhui.web.render import render
from puhui.web.session import BORROWER_COOKIE, forget, keep

router = APIRouter(include_in_schema=False, route_class=PortalRoute)

CONSENT_TEXT_VERSION = "2026-01"  # the version of the consent texts below; stored with each consent

# --- sign-in ----------------------------------------------------------------------------------

SIGN_IN_HINTS = {"phone": N_("Enter your 11-digit mainland mobile number, e.g. 13812345678.")}


def masked_phone(phone: str) -> str:
    """The number as pages show it (139****5678); nothing when it is not a mobile number."""
    try:
        return mask_mobile(normalise_mobile(phone))
    except IdentifierError:
        return ""


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, viewer: MaybeViewerDep) -> Response:
    if viewer is not None:
        raise Redirect("/")
    return render(request, "portal/sign_in.html", step="phone", phone="", notice=notice_of(request))


@router.post("/sign-in/code", response_class=HTMLResponse)
def send_code(request: Request, container: ContainerDep, form: FormDep) -> Response:
    phone = form.text("phone")
    _ = gettext_of(request)
    try:
        sent = auth.request_otp(container, phone, client_ip(request))
    except SERVICE_ERRORS as exc:
        problem = explain(exc, _, SIGN_IN_HINTS)
        fields = {"phone": problem.fields.get("otp", problem.fields.get("phone", problem.message))}
        return render(
            request, "portal/sign_in.html", problem.status, step="phone", phone=phone, error=problem.message,
            errors=fields,
        )  # fmt: skip
    return render(
        request, "portal/sign_in.html", step="code", phone=phone, phone_masked=masked_phone(phone),
        demo_code=sent.demo_otp, minutes=sent.expires_in_s // 60,
    )  # fmt: skip


@router.get("/sign-in/code")
def send_code_again() -> Response:
    raise Redirect("/sign-in")  # the code step exists only as the answer to sending a code


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, container: ContainerDep, form: FormDep) -> Response:
    phone, code = form.text("phone"), form.text("otp")
    try:
        issued = auth.token_by_otp(container, phone, code)
    except SERVICE_ERRORS as exc:
        problem = explain(exc, gettext_of(request), SIGN_IN_HINTS)
        return render(
            request, "portal/sign_in.html", problem.status, step="code", phone=phone,
            phone_masked=masked_phone(phone), **problem.context()
        )  # fmt: skip
    response = RedirectResponse("/?done=signed_in", status_code=303)
    keep(response, BORROWER_COOKIE, issued.access_token, issued.expires_in_s)
    keep(response, PHONE_COOKIE, seal_phone(container, phone), issued.expires_in_s)
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/sign-in?done=signed_out", status_code=303)
    forget(response, BORROWER_COOKIE)
    forget(response, PHONE_COOKIE)
    return response


# --- registration -----------------------------------------------------------------------------

KIND_LABELS = {
    BorrowerKind.INDIVIDUAL: N_("Individual"),
    BorrowerKind.INDIVIDUAL_BUSINESS: N_("Individual business (个体工商户)"),
    BorrowerKind.ENTERPRISE: N_("Micro or small enterprise"),
}
SECTOR_LABELS = {
    Sector.AGRICULTURE: N_("Farming, forestry, fishing"),
    Sector.INDUSTRY: N_("Manufacturing and industry"),
    Sector.CONSTRUCTION: N_("Construction"),
    Sector.WHOLESALE: N_("Wholesale"),
    Sector.RETAIL: N_("Retail shop"),
    Sector.TRANSPORT: N_("Transport"),
    Sector.WAREHOUSING: N_("Warehousing"),
    Sector.POSTAL: N_("Postal and courier"),
    Sector.ACCOMMODATION: N_("Hotel and accommodation"),
    Sector.CATERING: N_("Restaurant and catering"),
    Sector.ICT: N_("Information and telecoms"),
    Sector.SOFTWARE: N_("Software and IT services"),
    Sector.REAL_ESTATE: N_("Real estate"),
    Sector.PROPERTY_MANAGEMENT: N_("Property management"),
    Sector.LEASING_BUSINESS_SERVICES: N_("Leasing and business services"),
    Sector.OTHER: N_("Other"),
}
REGIONS = {  # a few districts to pick from; any 6-digit division code may be typed
    "110108": N_("Beijing, Haidian"),
    "310115": N_("Shanghai, Pudong"),
    "330106": N_("Hangzhou, Xihu"),
    "440305": N_("Shenzhen, Nanshan"),
    "420111": N_("Wuhan, Hongshan"),
    "510107": N_("Chengdu, Wuhou"),
}
REGISTER_HINTS = {
    "id_number": N_(
        "Check the number: a resident ID has 18 characters (the last may be X); "
        "a company's unified social credit code also has 18."
    ),
    "phone": N_("Use the mobile number you signed in with."),
    "staff_count": N_("Enter the number of staff, and the annual revenue, so we can size your business."),
    "established_on": N_("Only businesses have a licence date; leave it empty for an individual."),
    "_conflict": N_("This ID number is already registered. Sign in with the phone it was registered with."),
}


def _register_page(
    request: Request, form: Form | None, phone: str | None, problem: PageError | None = None
) -> HTMLResponse:
    values = dict(form or {})
    values.setdefault("kind", BorrowerKind.INDIVIDUAL.value)
    return render(
        request,
        "portal/register.html",
        problem.status if problem else 200,
        values=values,
        kinds=KIND_LABELS,
        sectors=SECTOR_LABELS,
        regions=REGIONS,
        phone_masked=masked_phone(phone) if phone else None,
        **(problem.context() if problem else {}),
    )


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, viewer: SignedInDep) -> Response:
    if viewer.borrower is not None:
        raise Redirect("/")
    return _register_page(request, None, viewer.phone)


def _parsed_registration(form: Form, phone: str, today: date) -> tuple[NewBorrower | None, dict[str, str]]:
    """The form as the service's command, or the page's own problems (what the service cannot
    be asked without: a kind, a name, a region code, numbers that are numbers)."""
    problems: dict[str, str] = {}
    kind_raw = form.text("kind")
    kind = BorrowerKind(kind_raw) if kind_raw in BorrowerKind._value2member_map_ else None
    if kind is None:
        problems["kind"] = N_("Choose who is borrowing.")
    if not form.text("name"):
        problems["name"] = N_("Enter the name on your ID card or business licence.")
    if not form.text("id_number"):
        problems["id_number"] = N_("Enter your ID number (or the unified social credit code of your company).")
    region = form.text("region")
    if not (len(region) == 6 and region.isdigit()):
        problems["region"] = N_("Enter the 6-digit administrative division code, or pick one from the list.")
    revenue = _amount_or_none(form.text("annual_revenue"), problems)
    business = kind is not None and kind is not BorrowerKind.INDIVIDUAL
    staff = _staff_or_none(form.text("staff_count"), problems) if business else None
    opened = _past_date_or_none(form.text("established_on"), today, problems) if business else None
    industry = form.text("industry")
    sector = Sector(industry) if business and industry in Sector._value2member_map_ else None
    if problems or kind is None:
        return None, problems
    command = NewBorrower(
        kind=kind,
        name=form.text("name"),
        id_number=form.text("id_number"),
        phone=phone,
        region=region,
        industry=sector,
        staff_count=staff,
        annual_revenue=revenue,
        established_on=opened,
    )
    return command, {}


def _amount_or_none(raw: str, problems: dict[str, str]) -> Decimal | None:
    if not raw:
        return None
    try:
        return parse_amount(raw.replace(",", ""), allow_zero=True)
    except MoneyError:
        problems["annual_revenue"] = N_("Enter the amount in yuan, e.g. 180000.")
        return None


def _staff_or_none(raw: str, problems: dict[str, str]) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        problems["staff_count"] = N_("Enter the number of staff as a whole number, e.g. 4.")
        return None
    return int(raw)


def _past_date_or_none(raw: str, today: date, problems: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        problems["established_on"] = N_("Enter the date on your business licence, e.g. 2020-05-01.")
        return None
    if day >= today:
        problems["established_on"] = N_("The licence date must be in the past.")
    return day


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, container: ContainerDep, viewer: SignedInDep, form: FormDep) -> Response:
    if viewer.borrower is not None:
        raise Redirect("/")
    _ = gettext_of(request)
    # the number signed in with (kept sealed in a cookie); typed only when that cookie is gone
    phone = viewer.phone or form.text("phone")
    command, problems = _parsed_registration(form, phone, container.clock.business_date())
    if command is None:
        fields = {name: _(text) for name, text in problems.items()}
        return _register_page(request, form, viewer.phone, PageError(422, _(FIX_FIELDS), fields))
    try:
        borrowers.register(container, command, viewer.principal)
    except SERVICE_ERRORS as exc:
        problem = explain(exc, _, REGISTER_HINTS)
        if problem.status == 409:
            problem = PageError(409, problem.message, {"id_number": problem.message})
        return _register_page(request, form, viewer.phone, problem)
    raise Redirect("/consents?done=registered")


# --- consent ----------------------------------------------------------------------------------

SCOPE_TITLES = {
    ConsentScope.CREDIT_ASSESSMENT: N_("Credit assessment"),
    ConsentScope.TRANSACTIONS: N_("Bank and payment transactions"),
    ConsentScope.TAX_INVOICES: N_("Tax and e-invoice records"),
    ConsentScope.RELATIONS: N_("Relations, for fraud checks"),
    ConsentScope.CREDIT_BUREAU: N_("Credit bureau query"),
}
SCOPE_USES = {  # what the data is and what it is used for, in plain words
    ConsentScope.CREDIT_ASSESSMENT: N_(
        "We use the details you registered, and the data you allow below, to decide whether we can lend to you, "
        "how much and at what price. Without this consent we cannot show you a pre-approved line or decide an "
        "application."
    ),
    ConsentScope.TRANSACTIONS: N_(
        "Your account movements (dates, amounts, who paid you and whom you paid) and utility bills show your "
        "income and spending, so the line we offer fits what you can repay."
    ),
    ConsentScope.TAX_INVOICES: N_(
        "Your VAT e-invoices and tax records confirm your business's sales and how they grow. "
        "Used for business loans only."
    ),
    ConsentScope.RELATIONS: N_(
        "Phones, devices, addresses, guarantors and trading partners linked to you are checked against known "
        "fraud, so nobody can borrow in your name."
    ),
    ConsentScope.CREDIT_BUREAU: N_(
        "We ask a licensed credit-reporting agency about your loans and repayments at other lenders. "
        "We never receive personal data from platforms directly."
    ),
}


def _active(consents: list[ConsentView], scope: ConsentScope) -> list[ConsentView]:
    return [c for c in consents if c.scope is scope and c.revoked_at is None]


def _latest(consents: list[ConsentView], scope: ConsentScope) -> ConsentView | None:
    mine = [c for c in consents if c.scope is scope]
    return mine[-1] if mine else None


@router.get("/consents", response_class=HTMLResponse)
def consents_page(request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    consents = borrowers.list_consents(container, borrower_id(viewer), viewer.principal)
    scopes = [(scope, _latest(consents, scope), bool(_active(consents, scope))) for scope in ConsentScope]
    return render(
        request, "portal/consents.html", scopes=scopes, titles=SCOPE_TITLES, notice=notice_of(request)
    )  # fmt: skip


def _scope(raw: str) -> ConsentScope:
    if raw not in ConsentScope._value2member_map_:
        raise Redirect("/consents")
    return ConsentScope(raw)


def shared_rows(container: Container, owner: str, source: Source) -> int:
    """How many rows of `source` the borrower has shared so far."""

    def work(conn: Connection) -> int:
        query = select(func.count()).where(borrower_data.c.borrower_id == owner, borrower_data.c.source == source.value)
        return int(conn.execute(query).scalar_one())

    return int(container.db.read(work))


def _sharing(container: Container, viewer: Any, chosen: ConsentScope, active: bool) -> dict[str, Any]:
    """The account-connection box of the transactions page: what is shared, and (demo mode) the
    button that connects the demo bank account."""
    if chosen is not ConsentScope.TRANSACTIONS:
        return {"sharing": False}
    rows = shared_rows(container, borrower_id(viewer), Source.TRANSACTIONS) if active else 0
    return {"sharing": True, "shared_rows": rows, "demo": container.settings.is_demo}


@router.get("/consents/{scope}", response_class=HTMLResponse)
def consent_page(scope: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    chosen = _scope(scope)
    consents = borrowers.list_consents(container, borrower_id(viewer), viewer.principal)
    active = bool(_active(consents, chosen))
    return render(
        request,
        "portal/consent.html",
        scope=chosen,
        title=SCOPE_TITLES[chosen],
        uses=SCOPE_USES[chosen],
        latest=_latest(consents, chosen),
        active=active,
        text_version=CONSENT_TEXT_VERSION,
        notice=notice_of(request),
        **_sharing(container, viewer, chosen, active),
    )


@router.post("/consents/{scope}")
def decide_consent(scope: str, container: ContainerDep, viewer: BorrowerDep, form: FormDep) -> Response:
    """Grant (once: a second grant of an active scope adds nothing) or withdraw every active
    consent of the scope."""
    chosen = _scope(scope)
    who, owner = viewer.principal, borrower_id(viewer)
    active = _active(borrowers.list_consents(container, owner, who), chosen)
    if form.text("decision") == "revoke":
        for consent in active:
            borrowers.revoke_consent(container, owner, consent.id, who)
        raise Redirect(f"/consents/{chosen.value}?done={Notice.REVOKED.value}")
    if not active:
        borrowers.grant_consent(container, owner, chosen, CONSENT_TEXT_VERSION, who)
    raise Redirect(f"/consents/{chosen.value}?done={Notice.GRANTED.value}")


def _demo_income(borrower: BorrowerView) -> Decimal:
    """The monthly money received in the demo account: what an individual declared, else the
    typical figure of the borrower's kind."""
    declared = borrower.annual_revenue
    if borrower.kind is BorrowerKind.INDIVIDUAL and declared:
        return (declared / 12).quantize(Decimal("0.01"))
    return TYPICAL_MONTHLY_INCOME[borrower.kind]


@router.post("/consents/transactions/connect")
def connect_account(container: ContainerDep, viewer: BorrowerDep) -> Response:
    """Demo mode: connect the demo bank account, i.e. share a steady year of its movements (one
    fixed story per kind, as the tests do). A real lender receives these through its bank or
    payment partners, with the same consent."""
    if not container.settings.is_demo:
        raise Redirect("/consents/transactions")
    assert viewer.borrower is not None
    kind = viewer.borrower.kind
    today = container.clock.business_date()
    rows = cash_flow_history(f"steady-{kind.value}", kind, _demo_income(viewer.borrower), today)
    risk_data.ingest(container, borrower_id(viewer), Source.TRANSACTIONS, rows, InputFormat.JSON, viewer.principal)
    raise Redirect(f"/consents/transactions?done={Notice.SHARED.value}")
