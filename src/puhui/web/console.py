"""The operations console (desktop first): the dashboard, the application queue and manual review,
borrowers and loans, products, policy tables, models, end of day and reconciliation, the alert
queue and the demo SMS outbox.

Routes only translate: a form into a service call, a service's answer into a page. The figures
come from `services.reports`; who may open what is in `console_support.PAGES`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from puhui.api.deps import ContainerDep
from puhui.bootstrap import Container
from puhui.domain.access import Principal
from puhui.domain.accrual import UPGRADE_TARGETS, RiskClass, npl_upgrade_checks
from puhui.domain.apr import HUNDRED
from puhui.domain.errors import DomainValidationError
from puhui.domain.pricing import cheapest_apr, worst_case_apr
from puhui.domain.servicing import LoanStatus
from puhui.money import MoneyError, parse_amount
from puhui.services import (
    accounting,
    auth,
    borrowers,
    catalogue,
    classification,
    decisions,
    disbursement,
    eod,
    fraud,
    monitoring,
    reports,
    reviews,
)
from puhui.services import products as product_service
from puhui.services.borrowers import Conflict, NotFound
from puhui.web import console_products as product_form
from puhui.web import console_views as views
from puhui.web.console_support import (
    REFUSALS,
    Action,
    ConsoleRoute,
    Done,
    Form,
    FormProblem,
    Page,
    Refused,
    act,
    done,
    is_htmx,
    page,
    problem_page,
    require_action,
    staff_for,
)
from puhui.web.i18n import Domain, gettext_for
from puhui.web.render import language_of, render
from puhui.web.session import STAFF_COOKIE, forget, keep, staff_of

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
PAGE_SIZE = 50

Dashboard = Annotated[Principal, Depends(staff_for(Page.DASHBOARD))]
Reviewer = Annotated[Principal, Depends(staff_for(Page.APPLICATIONS))]
BorrowersPage = Annotated[Principal, Depends(staff_for(Page.BORROWERS))]
LoansPage = Annotated[Principal, Depends(staff_for(Page.LOANS))]
ProductsPage = Annotated[Principal, Depends(staff_for(Page.PRODUCTS))]
PolicyPage = Annotated[Principal, Depends(staff_for(Page.POLICY))]
ModelsPage = Annotated[Principal, Depends(staff_for(Page.MODELS))]
EodPage = Annotated[Principal, Depends(staff_for(Page.EOD))]
ReconciliationPage = Annotated[Principal, Depends(staff_for(Page.RECONCILIATION))]
AlertsPage = Annotated[Principal, Depends(staff_for(Page.ALERTS))]
SmsPage = Annotated[Principal, Depends(staff_for(Page.SMS))]
Offset = Annotated[int, Query(ge=0)]


# --- signing in and out ------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a console path: never another site (an open redirect) or the sign-in page itself."""
    if not target or not target.startswith("/console") or target.startswith("/console/login"):
        return "/console"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, container: ContainerDep, next: str | None = None) -> Response:
    if staff_of(request, container) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    _ = gettext_for(language_of(request), Domain.CONSOLE)
    notice = _("You are signed out.") if request.query_params.get("done") == Done.SIGNED_OUT else None
    demo = container.settings.is_demo
    return render(request, "console/login.html", next=_safe_next(next), notice=notice, demo=demo)


@router.post("/login")
def login(request: Request, container: ContainerDep, form: Form) -> Response:
    try:
        issued = auth.token_by_password(container, form.get("username", ""), form.get("password", ""))
    except (auth.AuthError, auth.RateLimited) as exc:
        return problem_page(request, exc)
    response = done(request, _safe_next(form.get("next")))
    keep(response, STAFF_COOKIE, issued.access_token, issued.expires_in_s)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    response = done(request, "/console/login", Done.SIGNED_OUT)
    forget(response, STAFF_COOKIE)
    return response


# --- the dashboard -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, container: ContainerDep, who: Dashboard) -> HTMLResponse:
    figures = reports.dashboard(container)
    lang = language_of(request)
    charts = views.dashboard_charts(figures, gettext_for(lang, Domain.CONSOLE), lang)
    return page(request, container, who, "console/dashboard.html", d=figures, charts=charts)


# --- applications and manual review --------------------------------------------------------------


@router.get("/applications", response_class=HTMLResponse)
def applications(request: Request, container: ContainerDep, who: Reviewer, offset: Offset = 0) -> HTMLResponse:
    queue = reviews.list_queue(container, who, PAGE_SIZE, offset)
    decided = reports.decided_on_review(container)
    names = reports.staff_names(container, [r.actor for r in decided])
    return page(request, container, who, "console/applications.html", queue=queue, decided=decided, names=names)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application(request: Request, application_id: str, container: ContainerDep, who: Reviewer) -> HTMLResponse:
    review = reviews.get_review(container, application_id, who)
    decision_id = review.decision.get("decision_id")
    decision = decisions.get_decision(container, decision_id, who) if decision_id else {}
    model = decisions.risk_engine(container).model
    context: dict[str, Any] = {
        "review": review,
        "decision": decision,
        "product": catalogue.get_product(container.db, review.product_code),
        "features": _features(decision, model.metadata, request),
        "trace": _trace_steps(decision.get("trace", {})),
        "names": reports.staff_names(container, [a.actor for a in review.actions]),
        "i_proposed": review.proposed is not None and review.proposed.actor == who.subject_id,
    }
    return page(request, container, who, "console/application.html", **context)


def _features(decision: dict[str, Any], metadata: Mapping[str, Any], request: Request) -> list[tuple[str, Any]]:
    lang = language_of(request)
    found = decision.get("features", {})
    return sorted(((views.feature_label(metadata, k, lang), v) for k, v in found.items()), key=lambda kv: kv[0])


def _trace_steps(trace: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per policy table, its decision nodes in order: the rule(s) that matched and what they gave."""
    tables = []
    for table, nodes in trace.items():
        steps = []
        for node in sorted(nodes.values(), key=lambda n: n.get("order", 0)):
            data = node.get("traceData")
            if data is None and node.get("output") is None:
                continue
            matched = data if isinstance(data, list) else [data] if data else []
            rules = [m.get("rule", {}) for m in matched if isinstance(m, dict)]
            steps.append({"name": node.get("name", ""), "rules": rules, "output": node.get("output")})
        tables.append((table, steps))
    return tables


def _terms(form: dict[str, str]) -> reviews.ProposedTerms:
    problems: list[tuple[str, str]] = []
    amount = term = rate = None
    try:
        amount = parse_amount(form.get("amount", ""))
    except MoneyError:
        problems.append(("amount", "must be an amount in yuan, e.g. 600000.00"))
    try:
        term = int(form.get("term_months", ""))
    except ValueError:
        problems.append(("term_months", "must be a whole number of months"))
    try:
        rate = Decimal(form.get("annual_rate", "")) / HUNDRED  # staff type percent: 12.00 means 0.1200
    except InvalidOperation:
        problems.append(("annual_rate", "must be a percentage, e.g. 12.00"))
    if problems or amount is None or term is None or rate is None:
        raise FormProblem(problems)
    return reviews.ProposedTerms(amount, term, rate, form.get("note", ""))


def _application_url(application_id: str) -> str:
    return f"/console/applications/{application_id}"


@router.post("/applications/{application_id}/terms")
def propose_terms(
    request: Request, application_id: str, container: ContainerDep, who: Reviewer, form: Form
) -> Response:
    def run() -> None:
        reviews.propose_terms(container, application_id, _terms(form), who)

    return act(request, run, _application_url(application_id), Done.PROPOSED)


@router.post("/applications/{application_id}/approve")
def approve(request: Request, application_id: str, container: ContainerDep, who: Reviewer, form: Form) -> Response:
    def run() -> None:
        reviews.approve(container, application_id, form.get("note", ""), who)

    return act(request, run, _application_url(application_id), Done.APPROVED)


@router.post("/applications/{application_id}/decline")
def decline(request: Request, application_id: str, container: ContainerDep, who: Reviewer, form: Form) -> Response:
    def run() -> None:
        if not form.get("reason"):
            raise FormProblem([("reason", "is required")])
        reviews.decline(container, application_id, form["reason"], who)

    return act(request, run, _application_url(application_id), Done.DECLINED)


# --- borrowers and loans -------------------------------------------------------------------------


@router.get("/borrowers", response_class=HTMLResponse)
def borrower_list(request: Request, container: ContainerDep, who: BorrowersPage, offset: Offset = 0) -> HTMLResponse:
    found = borrowers.list_for(container, who, PAGE_SIZE + 1, offset)  # one more: is there a next page?
    return page(
        request,
        container,
        who,
        "console/borrowers.html",
        borrowers=found[:PAGE_SIZE],
        offset=offset,
        more=len(found) > PAGE_SIZE,
        page_size=PAGE_SIZE,
    )


@router.get("/borrowers/{borrower_id}", response_class=HTMLResponse)
def borrower(request: Request, borrower_id: str, container: ContainerDep, who: BorrowersPage) -> HTMLResponse:
    view = borrowers.get(container, borrower_id, who)
    loans, _total = reports.loan_list(container, None, 200, 0, borrower_id=borrower_id)
    apps = reports.borrower_applications(container, borrower_id)
    return page(request, container, who, "console/borrower.html", b=view, loans=loans, applications=apps)


def _loan_status(raw: str | None) -> LoanStatus | None:
    return LoanStatus(raw) if raw and raw in LoanStatus._value2member_map_ else None


@router.get("/loans", response_class=HTMLResponse)
def loan_list(
    request: Request, container: ContainerDep, who: LoansPage, status: str | None = None, offset: Offset = 0
) -> HTMLResponse:
    wanted = _loan_status(status)
    rows, total = reports.loan_list(container, wanted, PAGE_SIZE, offset)
    context: dict[str, Any] = {
        "loans": rows,
        "total": total,
        "status": wanted,
        "offset": offset,
        "page_size": PAGE_SIZE,
    }
    return page(request, container, who, "console/loans.html", **context)


@router.get("/loans/{loan_id}", response_class=HTMLResponse)
def loan(request: Request, loan_id: str, container: ContainerDep, who: LoansPage) -> HTMLResponse:
    detail = reports.loan_detail(container, loan_id)
    names = reports.staff_names(container, [e.actor for e in detail.events if e.actor])
    context: dict[str, Any] = {"detail": detail, "l": detail.loan, "names": names, "payout_key": str(uuid.uuid4())}
    context["upgrade"] = _upgrade_checklist(container, detail.loan)
    return page(request, container, who, "console/loan.html", **context)


def _upgrade_checklist(container: Container, loan: Mapping[str, Any]) -> dict[str, Any] | None:
    """For an active non-performing loan (`loan`: servicing.loan_view, already read for the page):
    each condition of an officer's upgrade, met or not. Other loans read nothing more."""
    if loan["status"] != LoanStatus.ACTIVE.value or not RiskClass[loan["risk_class"].upper()].is_npl:
        return None
    facts = classification.upgrade_facts(container, loan["id"])
    if facts is None:  # paid off or written off since the page's own read
        return None
    checks = npl_upgrade_checks(facts)
    return {"facts": facts, "checks": checks, "ready": all(checks.values()), "targets": UPGRADE_TARGETS}


@router.post("/loans/{loan_id}/class-upgrade")
def upgrade_class(request: Request, loan_id: str, container: ContainerDep, who: LoansPage, form: Form) -> Response:
    require_action(who, Action.UPGRADE_CLASS)

    def run() -> None:
        targets = {c.name.lower(): c for c in UPGRADE_TARGETS}
        problems = [("to_class", "is required")] if form.get("to_class") not in targets else []
        problems += [("assessment", "is required")] if not form.get("assessment") else []
        if problems:
            raise FormProblem(problems)
        classification.upgrade_class(container, loan_id, targets[form["to_class"]], form["assessment"], who)

    return act(request, run, f"/console/loans/{loan_id}", Done.CLASS_UPGRADED)


@router.get("/loans/{loan_id}/status", response_class=HTMLResponse)
def loan_status(request: Request, loan_id: str, container: ContainerDep, who: LoansPage) -> Response:
    """Polled while a payout is with the bank: the whole page reloads once the bank has answered."""
    status = reports.loan_status(container, loan_id)
    if status is None:
        raise NotFound(f"loan {loan_id} was not found")
    if status != LoanStatus.DISBURSING.value:
        return Response(headers={"HX-Refresh": "true"})
    return render(request, "console/_loan_status.html", l={"id": loan_id, "status": status}, label=views.label)


class PayoutRefused(Conflict):
    """The payout service answered with a refusal it keeps under the idempotency key (an intercept)."""


@router.post("/loans/{loan_id}/payout")
def payout(request: Request, loan_id: str, container: ContainerDep, who: LoansPage, form: Form) -> Response:
    require_action(who, Action.PAYOUT)

    def run() -> None:
        key = form.get("key") or str(uuid.uuid4())
        stored = disbursement.request_disbursement(container, loan_id, form.get("account_number", ""), key, who)
        if stored.status_code >= 400:
            raise PayoutRefused(str(stored.body["error"]["message"]))

    return act(request, run, f"/console/loans/{loan_id}", Done.PAYOUT)


# --- products, policy, models --------------------------------------------------------------------


@router.get("/products", response_class=HTMLResponse)
def products(request: Request, container: ContainerDep, who: ProductsPage) -> HTMLResponse:
    today = container.clock.business_date()
    cards = [
        (p, cheapest_apr(p, today) / HUNDRED, worst_case_apr(p, today) / HUNDRED)
        for p in catalogue.list_products(container.db)
    ]
    listed = {p.code for p, _low, _high in cards}
    inactive = [p for p, active, _v in product_service.list_all(container) if not active and p.code not in listed]
    context: dict[str, Any] = {"cards": cards, "inactive": inactive, "may_edit": product_service.may_edit(who)}
    return page(request, container, who, "console/products.html", **context)


def _product_page(
    request: Request, container: ContainerDep, who: Principal, code: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    found = product_service.get_any(container, code)
    if found is None:
        raise NotFound(f"product {code} was not found")
    product, active, version = found
    values = context.pop("values", None) or product_form.values(product, active)
    history = product_service.history(container, code)
    names = reports.staff_names(container, [h.changed_by for h in history])
    return page(
        request,
        container,
        who,
        "console/product.html",
        status_code=status_code,
        p=product,
        active=active,
        version=version,
        values=values,
        errors=context.pop("errors", {}),
        problem=context.pop("problem", None),
        history=history,
        names=names,
        may_edit=product_service.may_edit(who),
        views_fields=product_form.FIELDS,
        texts=product_form.TEXTS,
        long_texts=product_form.LONG_TEXTS,
        **context,
    )


@router.get("/products/{code}", response_class=HTMLResponse)
def product(request: Request, code: str, container: ContainerDep, who: ProductsPage) -> HTMLResponse:
    return _product_page(request, container, who, code)


@router.post("/products/{code}")
def edit_product(request: Request, code: str, container: ContainerDep, who: ProductsPage, form: Form) -> Response:
    """Save the form; a refusal shows each message beside its field, with what was typed kept."""
    if not product_service.may_edit(who):
        raise Refused(who, product_service.EDIT_ROLES)
    _ = gettext_for(language_of(request), Domain.CONSOLE)
    try:
        edits = product_form.edits(form)
        product_service.update(container, code, edits, who)
    except (FormProblem, DomainValidationError) as exc:
        errors = product_form.errors(exc, _)
        problem = _("Please correct the fields below.")
        status = 200 if is_htmx(request) else 422  # htmx swaps only 2xx answers (console_support)
        template_page = _product_page(
            request, container, who, code, status, values=dict(form), errors=errors, problem=problem
        )
        if is_htmx(request):
            template_page.headers["HX-Retarget"] = "#product-form"
            template_page.headers["HX-Reselect"] = "#product-form"
            template_page.headers["HX-Reswap"] = "outerHTML"
        return template_page
    except REFUSALS as exc:
        return problem_page(request, exc)
    return done(request, f"/console/products/{code}", Done.PRODUCT_SAVED)


@router.get("/policy", response_class=HTMLResponse)
def policy(request: Request, container: ContainerDep, who: PolicyPage) -> HTMLResponse:
    rules = decisions.risk_engine(container).rules
    tables = views.policy_tables(rules.directory)
    return page(request, container, who, "console/policy.html", tables=tables, version=rules.policy_version)


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, container: ContainerDep, who: ModelsPage) -> HTMLResponse:
    model = decisions.risk_engine(container).model
    monitored = monitoring.monitor(container, who, 90)
    context: dict[str, Any] = {
        "m": model.metadata,
        "version": model.version,
        "candidates": views.cv_candidates(model.metadata),
        "monitored": monitored,
        "psi_chart": views.psi_chart(monitored, gettext_for(language_of(request), Domain.CONSOLE)),
    }
    return page(request, container, who, "console/models.html", **context)


# --- end of day, reconciliation ------------------------------------------------------------------


@router.get("/eod", response_class=HTMLResponse)
def eod_page(request: Request, container: ContainerDep, who: EodPage) -> HTMLResponse:
    runs = eod.recent_runs(container)
    today = container.clock.business_date()
    closed = any(r["business_date"] == today.isoformat() and r["status"] == "done" for r in runs)
    return page(request, container, who, "console/eod.html", runs=runs, today=today, closed=closed)


@router.post("/eod")
def close_day(request: Request, container: ContainerDep, who: EodPage) -> Response:
    require_action(who, Action.CLOSE_DAY)
    return act(
        request, lambda: eod.run_eod(container, container.clock.business_date()), "/console/eod", Done.DAY_CLOSED
    )


RECONCILE_COUNTS = ("checked", "resubmitted", "posted", "failed", "still_pending")


def _reconciled(request: Request) -> dict[str, int] | None:
    """What the last run did, carried in the redirect after it (absent when none just ran)."""
    if request.query_params.get("done") != Done.RECONCILED:
        return None
    try:
        return {k: max(0, int(request.query_params.get(k, ""))) for k in RECONCILE_COUNTS}
    except ValueError:
        return None


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(
    request: Request, container: ContainerDep, who: ReconciliationPage, check: bool = False
) -> HTMLResponse:
    context: dict[str, Any] = {
        "tb": accounting.get_trial_balance(container.db),
        "outbox": reports.open_outbox(container),
        # comparing every account with the sum of its entries reads the whole ledger: on request only
        "unreconciled": accounting.unreconciled_accounts(container.db) if check else None,
        "ran": _reconciled(request),
    }
    return page(request, container, who, "console/reconciliation.html", **context)


@router.post("/reconciliation")
def reconcile(request: Request, container: ContainerDep, who: ReconciliationPage) -> Response:
    """Ask the bank about every open payout, then show what that did and check the ledger for breaks."""
    require_action(who, Action.RECONCILE)
    try:
        report = disbursement.reconcile(container)
    except REFUSALS as exc:
        return problem_page(request, exc)
    counts = "&".join(f"{k}={getattr(report, k)}" for k in RECONCILE_COUNTS)
    return done(request, f"/console/reconciliation?check=true&{counts}", Done.RECONCILED)


# --- alerts and the SMS outbox -------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, container: ContainerDep, who: AlertsPage, status: str = "open") -> HTMLResponse:
    shown = status if status in ("open", "resolved") else "open"
    found = fraud.list_alerts(container, who, shown, PAGE_SIZE, 0)
    names = reports.staff_names(container, [a["resolved_by"] for a in found if a["resolved_by"]])
    return page(request, container, who, "console/alerts.html", alerts=found, status=shown, names=names)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(request: Request, alert_id: str, container: ContainerDep, who: AlertsPage, form: Form) -> Response:
    def run() -> None:
        if not form.get("resolution"):
            raise FormProblem([("resolution", "is required")])
        fraud.resolve_alert(container, alert_id, form["resolution"], who)

    return act(request, run, "/console/alerts", Done.RESOLVED)


@router.get("/sms", response_class=HTMLResponse)
def sms(request: Request, container: ContainerDep, who: SmsPage) -> HTMLResponse:
    if not container.settings.is_demo:  # a real gateway sends them; nobody reads codes here
        raise NotFound("the SMS outbox is shown in demo mode only")
    return page(request, container, who, "console/sms.html", messages=reports.sms_messages(container))
