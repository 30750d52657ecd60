"""The console's plumbing: who may open which page, rendering a page with its navigation, reading
a submitted form, and answering an action — a redirect when it worked, the reason in the
reader's language when it did not.

Actions are forms that htmx submits (`hx-post`) and that also work without JavaScript. To htmx a
refusal is answered with 200 and the message, swapped into the form's message slot: htmx swaps only
2xx answers, and the browser reports every 4xx answer as a console error, which would hide real
ones. Without htmx the same refusal is a page with its real status (403, 409, 422...).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from puhui.api.deps import ContainerDep
from puhui.bootstrap import Container
from puhui.domain.access import MissingConsent, Principal, Role
from puhui.domain.caps import RateCapExceeded
from puhui.domain.errors import DomainValidationError
from puhui.domain.ledger import LedgerError
from puhui.domain.schedule import ScheduleError
from puhui.money import MoneyError
from puhui.services import classification, fraud, monitoring, reports, reviews
from puhui.services.auth import AuthError, RateLimited
from puhui.services.borrowers import Conflict, Forbidden, NotFound
from puhui.web import console_views as views
from puhui.web import reasons
from puhui.web.console_views import N_
from puhui.web.i18n import Domain, gettext_for
from puhui.web.render import language_of, render
from puhui.web.session import staff_of

STAFF = (Role.OFFICER, Role.RISK, Role.OPS, Role.FINANCE)  # and admin (Principal.has_any)
MAX_FORM_BYTES = 64 * 1024


class Page(StrEnum):
    DASHBOARD = "dashboard"
    APPLICATIONS = "applications"
    BORROWERS = "borrowers"
    LOANS = "loans"
    PRODUCTS = "products"
    POLICY = "policy"
    MODELS = "models"
    EOD = "eod"
    RECONCILIATION = "reconciliation"
    ALERTS = "alerts"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class PageSpec:
    path: str
    title: str  # message id
    roles: tuple[Role, ...]


PAGES: dict[Page, PageSpec] = {
    Page.DASHBOARD: PageSpec("/console", N_("Dashboard"), STAFF),
    Page.APPLICATIONS: PageSpec("/console/applications", N_("Applications"), reviews.REVIEWER_ROLES),
    Page.BORROWERS: PageSpec("/console/borrowers", N_("Borrowers"), STAFF),
    Page.LOANS: PageSpec("/console/loans", N_("Loans"), STAFF),
    Page.PRODUCTS: PageSpec("/console/products", N_("Products"), STAFF),
    Page.POLICY: PageSpec("/console/policy", N_("Policy tables"), (Role.RISK, Role.OFFICER)),
    Page.MODELS: PageSpec("/console/models", N_("Models"), monitoring.MONITOR_ROLES),
    Page.EOD: PageSpec("/console/eod", N_("End of day"), (Role.OPS, Role.FINANCE)),
    Page.RECONCILIATION: PageSpec("/console/reconciliation", N_("Reconciliation"), (Role.FINANCE, Role.OPS)),
    Page.ALERTS: PageSpec("/console/alerts", N_("Alerts"), fraud.ALERT_ROLES),
    Page.SMS: PageSpec("/console/sms", N_("SMS outbox"), STAFF),
}


class Action(StrEnum):
    REVIEW = "review"
    PAYOUT = "payout"
    CLOSE_DAY = "close_day"
    RECONCILE = "reconcile"
    RESOLVE_ALERT = "resolve_alert"
    UPGRADE_CLASS = "upgrade_class"


# Payouts: the API lets any staff user (and the borrower) ask for a signed loan's money; in the
# console it is an operations task (DESIGN.md: operations run disbursement).
ACTION_ROLES: dict[Action, tuple[Role, ...]] = {
    Action.REVIEW: reviews.REVIEWER_ROLES,
    Action.PAYOUT: (Role.OPS,),
    Action.CLOSE_DAY: (Role.OPS,),
    Action.RECONCILE: (Role.OPS,),
    Action.RESOLVE_ALERT: fraud.ALERT_ROLES,
    Action.UPGRADE_CLASS: classification.UPGRADE_ROLES,
}


class Done(StrEnum):
    """What just worked, named in the redirect (?done=) and shown as a notice on the next page."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"
    PAYOUT = "payout"
    DAY_CLOSED = "day_closed"
    RECONCILED = "reconciled"
    RESOLVED = "resolved"
    SIGNED_OUT = "signed_out"
    PRODUCT_SAVED = "product_saved"
    CLASS_UPGRADED = "class_upgraded"


DONE_NOTICES = {
    Done.PROPOSED: N_("The terms are proposed. Another officer or risk user approves them."),
    Done.APPROVED: N_("Approved: the borrower now has an offer to accept."),
    Done.DECLINED: N_("Declined. The borrower sees that the application was declined on review."),
    Done.PAYOUT: N_("Payout sent to the bank. The loan becomes active when the bank confirms it."),
    Done.DAY_CLOSED: N_("The business day is closed."),
    Done.RECONCILED: N_("Reconciliation finished."),
    Done.CLASS_UPGRADED: N_("Upgraded, with your assessment recorded; the provision follows at the end of day."),
    Done.RESOLVED: N_("The alert is resolved."),
    Done.SIGNED_OUT: N_("You are signed out."),
    Done.PRODUCT_SAVED: N_("Saved as a new version: new quotes use it; loans already signed keep their terms."),
}


# --- who may look ------------------------------------------------------------------------------


class SignInNeeded(Exception):
    pass


class Refused(Exception):
    def __init__(self, who: Principal, roles: Sequence[Role]) -> None:
        super().__init__("refused")
        self.who = who
        self.roles = tuple(roles)


def may(who: Principal, page: Page) -> bool:
    return who.has_any(PAGES[page].roles)


def may_act(who: Principal, action: Action) -> bool:
    return who.has_any(ACTION_ROLES[action])


def staff_for(page: Page) -> Callable[[Request, Container], Principal]:
    """A dependency: the signed-in staff user if their role may open `page`."""

    def check(request: Request, container: ContainerDep) -> Principal:
        who = staff_of(request, container)
        if who is None:
            raise SignInNeeded()
        if not may(who, page):
            raise Refused(who, PAGES[page].roles)
        return who

    return check


def require_action(who: Principal, action: Action) -> None:
    if not may_act(who, action):
        raise Refused(who, ACTION_ROLES[action])


class ConsoleRoute(APIRoute):
    """Turns 'sign in first' into a redirect to the sign-in page, and a refusal or an absence
    into a page that says so (the API's exception handlers answer JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if is_htmx(request):  # the session ran out while the page was open
                    return Response(headers={"HX-Redirect": f"/console/login?next={quote(target)}"})
                return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
            except Refused as exc:
                return refused_page(request, exc)
            except NotFound as exc:
                return problem_page(request, exc)

        return guarded


def refused_page(request: Request, exc: Refused) -> Response:
    _ = gettext_for(language_of(request), Domain.CONSOLE)
    names = ", ".join(_(views.ROLES[r]) for r in (*exc.roles, Role.ADMIN))
    message = _("This needs one of the roles: %(roles)s. You are signed in as %(role)s.") % {
        "roles": names,
        "role": _(views.label(views.ROLES, exc.who.role)),
    }
    if is_htmx(request):
        return render(request, "console/_problem.html", problem=Problem(403, message))
    container: Container = request.app.state.container
    return page(request, container, exc.who, "console/refused.html", status_code=403, message=message)


# --- rendering a page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    title: str
    current: bool


def nav_for(who: Principal, path: str, demo: bool) -> list[NavItem]:
    items = []
    for key, spec in PAGES.items():
        if key is Page.SMS and not demo:  # the SMS outbox is the demo gateway's; production sends SMS
            continue
        if may(who, key):
            current = path == spec.path if key is Page.DASHBOARD else path.startswith(spec.path)
            items.append(NavItem(spec.path, spec.title, current))
    return items


def page(
    request: Request, container: Container, who: Principal, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A console page: the signed-in user, the pages their role opens, the helpers every page uses."""
    lang = language_of(request)
    done = request.query_params.get("done") or ""
    notice = DONE_NOTICES.get(Done(done)) if done in Done._value2member_map_ else None
    _ = gettext_for(lang, Domain.CONSOLE)
    return render(
        request,
        template,
        status_code=status_code,
        who=who,
        username=reports.staff_names(container, [who.subject_id]).get(who.subject_id, who.subject_id),
        nav=nav_for(who, request.url.path, container.settings.is_demo),
        notice=_(notice) if notice else context.pop("notice", None),
        views=views,
        label=views.label,
        when=views.when,
        pick=views.chooser(lang),
        reason=lambda text: reasons.reason(str(text), _),  # a service's or a model's English, where known
        may_act=lambda action: may_act(who, Action(action)),
        **context,
    )


# --- reading a form ----------------------------------------------------------------------------


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of an application/x-www-form-urlencoded body (what browsers and htmx send);
    the last value of a repeated field wins."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[-1].strip() for key, values in parsed.items()}


Form = Annotated[dict[str, str], Depends(form_fields)]


class FormProblem(Exception):
    """A field the console could not read (empty, not a number...), before any service is called."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        super().__init__("form problem")
        self.problems = list(problems)  # (field, message id)


# --- answering an action -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    message: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (field label, message)


FIELD_LABELS = {
    "username": N_("Username"),
    "password": N_("Password"),
    "amount": N_("Amount (yuan)"),
    "term_months": N_("Term (months)"),
    "annual_rate": N_("Annual interest rate (%)"),
    "apr": N_("APR"),
    "note": N_("Note"),
    "reason": N_("Reason"),
    "account_number": N_("Bank card number"),
    "resolution": N_("What was found and done"),
    "assessment": N_("Your assessment"),
    "to_class": N_("New class"),
    "business_date": N_("Business date"),
}

FORM_MESSAGES = (
    N_("is required"),
    N_("must be an amount in yuan, e.g. 600000.00"),
    N_("must be a whole number of months"),
    N_("must be a percentage, e.g. 12.00"),
)


MAKER_CHECKER = N_("Maker–checker: you proposed these terms, so another officer or risk user has to approve them.")
NOT_IN_REVIEW = N_("This application is no longer waiting for review; reload the page to see what happened.")
LOCKED_OUT = N_(
    "Too many failed sign-ins: the account is locked for 15 minutes. Try again later or ask an administrator."
)


def describe(exc: Exception, _: Callable[[str], str]) -> Problem:
    """A refusal in the reader's language; fields as the service named them, each reason in the
    reader's language where it is a known one (`puhui.web.reasons`)."""
    fields = _fields(exc, _)
    known: list[tuple[type[Exception], int, str]] = [
        (reviews.MakerCheckerConflict, 409, MAKER_CHECKER),
        (reviews.NotInReview, 409, NOT_IN_REVIEW),
        (AuthError, 401, N_("Wrong username or password.")),
        (RateLimited, 429, LOCKED_OUT),
        (Forbidden, 403, N_("Your role may not do this.")),
        (NotFound, 404, N_("Not found: it may have been removed, or the link is wrong.")),
        (FormProblem, 422, N_("Please correct the fields below.")),
        (DomainValidationError, 422, N_("Please correct the fields below.")),
        (RateCapExceeded, 422, N_("The price breaks a legal rate cap; choose a lower rate.")),
        (ScheduleError, 422, N_("These terms do not make a valid schedule.")),
        (MoneyError, 422, N_("An amount is not valid; write it like 600000.00.")),
        (MissingConsent, 409, N_("The borrower has not given the consent this needs.")),
    ]
    for kind, status, message in known:
        if isinstance(exc, kind):
            return Problem(status, _(message), fields)
    if isinstance(exc, Conflict | LedgerError):
        return Problem(409, f"{_('This cannot be done now:')} {reasons.reason(str(exc), _)}", fields)
    raise exc


def _fields(exc: Exception, _: Callable[[str], str]) -> list[tuple[str, str]]:
    def name(path: str) -> str:
        return _(FIELD_LABELS.get(path, path))

    if isinstance(exc, FormProblem):
        return [(name(path), _(message)) for path, message in exc.problems]
    if isinstance(exc, DomainValidationError):
        return [(name(p.path), reasons.reason(p.message, _)) for p in exc.problems]
    if isinstance(exc, RateCapExceeded):
        return [(name("apr"), reasons.reason(f.message, _)) for f in exc.findings]
    if isinstance(exc, ScheduleError):
        return [(name(exc.field), reasons.reason(exc.reason, _))]
    if isinstance(exc, MoneyError):
        return [(name("amount"), reasons.reason(str(exc), _))]
    if isinstance(exc, Conflict) and exc.field:
        return []
    return []


REFUSALS = (
    AuthError,
    RateLimited,
    NotFound,
    Forbidden,
    Conflict,
    FormProblem,
    DomainValidationError,
    RateCapExceeded,
    ScheduleError,
    MoneyError,
    MissingConsent,
    LedgerError,
)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def done(request: Request, url: str, what: Done | None = None) -> Response:
    target = f"{url}{'&' if '?' in url else '?'}done={what.value}" if what else url
    if is_htmx(request):
        return Response(headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def act(request: Request, run: Callable[[], object], url: str, what: Done | None = None) -> Response:
    """Run an action; on success go to `url` with a notice, on a refusal say why."""
    try:
        run()
    except REFUSALS as exc:
        return problem_page(request, exc)
    return done(request, url, what)


def problem_page(request: Request, exc: Exception) -> Response:
    problem = describe(exc, gettext_for(language_of(request), Domain.CONSOLE))
    if is_htmx(request):
        return render(request, "console/_problem.html", problem=problem)  # 200: see the module docstring
    back = request.headers.get("referer") or "/console"
    return render(request, "console/problem.html", status_code=problem.status, problem=problem, back=back)
