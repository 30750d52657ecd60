"""What every portal page shares: who is looking (the cookie's borrower), reading a posted form,
turning a service error into a message on the page (with the field named and a 4xx status), and a
route class that turns "sign in first" and unexpected service errors into pages, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from puhui.api.deps import ContainerDep
from puhui.bootstrap import Container
from puhui.domain.access import MissingConsent, Principal
from puhui.domain.caps import RateCapExceeded
from puhui.domain.errors import DomainValidationError
from puhui.domain.identity import IdentifierError, normalise_mobile
from puhui.domain.schedule import ScheduleError
from puhui.money import MoneyError
from puhui.services import auth, borrowers
from puhui.services.auth import AuthError, RateLimited
from puhui.services.borrowers import BorrowerView, Conflict, Forbidden, NotFound
from puhui.services.contracts import OfferExpired
from puhui.web import portal_reasons as reasons
from puhui.web.i18n import Domain, Language, gettext_for
from puhui.web.render import language_of, render
from puhui.web.session import borrower_of

log = logging.getLogger(__name__)

Gettext = Callable[[str], str]
PHONE_COOKIE = "puhui_phone"
PHONE_CONTEXT = "portal.phone-cookie"
MAX_FORM_BYTES = 64 * 1024


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


def gettext_of(request: Request) -> Gettext:
    return gettext_for(language_of(request), Domain.PORTAL)


def language(request: Request) -> Language:
    return language_of(request)


# --- forms ------------------------------------------------------------------------------------


class Form(dict[str, str]):
    """A posted urlencoded form (the fields as typed; the last value of a repeated name wins)."""

    def text(self, name: str) -> str:
        return self.get(name, "").strip()


async def read_form(request: Request) -> Form:
    """Forms are parsed here rather than by FastAPI's Form(), which needs python-multipart (not
    installed): pages post `application/x-www-form-urlencoded` (browsers and htmx do by default)."""
    if request.method != "POST":
        return Form()
    body = await request.body()
    return Form(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", errors="replace"), keep_blank_values=True))


FormDep = Annotated[Form, Depends(read_form)]


def clean_amount(raw: str) -> str:
    """What people type for money: "6,000", "¥6000", "6 000.50" -> "6000.50" (parse_amount checks it)."""
    return "".join(ch for ch in raw if ch not in ",，¥￥ \u00a0")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- who is looking -------------------------------------------------------------------------


class Redirect(Exception):
    """Leave this page for another (PortalRoute answers 303 See Other)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in borrower: the token's principal, their registration (if any) and their phone
    number (kept encrypted in a cookie: the token names the phone only by its hash, and signing a
    contract needs a code sent to the number)."""

    principal: Principal
    borrower: BorrowerView | None
    phone: str | None


def viewer_of(request: Request, container: Container) -> Viewer | None:
    principal = borrower_of(request, container)
    if principal is None:
        return None
    mine = borrowers.list_for(container, principal, limit=1)
    return Viewer(principal, mine[0] if mine else None, remembered_phone(request, container, principal))


def remembered_phone(request: Request, container: Container, principal: Principal) -> str | None:
    sealed = request.cookies.get(PHONE_COOKIE)
    if not sealed:
        return None
    try:
        number = container.cipher.decrypt(sealed, PHONE_CONTEXT)
    except Exception:  # a stale or tampered cookie is simply not used
        return None
    # only the number the session was opened with (a cookie from another session is ignored)
    return number if auth.phone_hash(container, number) == principal.subject_id else None


def seal_phone(container: Container, phone: str) -> str:
    return container.cipher.encrypt(normalise_mobile(phone), PHONE_CONTEXT)


def maybe_viewer(request: Request, container: ContainerDep) -> Viewer | None:
    return viewer_of(request, container)


def signed_in(request: Request, container: ContainerDep) -> Viewer:
    viewer = viewer_of(request, container)
    if viewer is None:
        raise Redirect("/sign-in")
    return viewer


def registered(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    if viewer.borrower is None:
        raise Redirect("/register")
    return viewer


MaybeViewerDep = Annotated[Viewer | None, Depends(maybe_viewer)]
SignedInDep = Annotated[Viewer, Depends(signed_in)]
BorrowerDep = Annotated[Viewer, Depends(registered)]


def borrower_id(viewer: Viewer) -> str:
    assert viewer.borrower is not None  # BorrowerDep guarantees it
    return viewer.borrower.id


# --- service errors -> messages on the page ---------------------------------------------------

SERVICE_ERRORS: tuple[type[Exception], ...] = (
    DomainValidationError,
    MoneyError,
    ScheduleError,
    RateCapExceeded,
    MissingConsent,
    RateLimited,
    AuthError,
    Conflict,
    OfferExpired,
    NotFound,
    Forbidden,
    IdentifierError,
)


@dataclass(frozen=True, slots=True)
class PageError:
    """A failure as the page shows it: what happened and what to do, and the message for each
    field next to that field."""

    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    consent: str | None = None  # the scope to consent to, when that is what is missing

    def context(self) -> dict[str, Any]:
        return {"error": self.message, "errors": self.fields, "consent_needed": self.consent}


FIX_FIELDS = N_("Some details need correcting: see the messages next to the fields.")


def explain(exc: Exception, _: Gettext, hints: Mapping[str, str] | None = None) -> PageError:
    """The page's words for a service error. `hints` are the page's own (untranslated) messages
    for a field, used instead of the service's technical text where the page knows better."""
    hints = hints or {}
    if isinstance(exc, DomainValidationError):
        return PageError(422, _(FIX_FIELDS), {p.path: _field_text(p.path, p.message, hints, _) for p in exc.problems})
    if isinstance(exc, ScheduleError):
        return PageError(422, _(FIX_FIELDS), {exc.field: _field_text(exc.field, exc.reason, hints, _)})
    if isinstance(exc, RateCapExceeded):
        return PageError(422, _("This price would be above the legal rate cap, so it cannot be offered."))
    if isinstance(exc, MissingConsent):
        text = _(
            "This needs your consent to use your data for: {purpose}. Give it on the consent page, then try again."
        )
        return PageError(409, text.format(purpose=_(exc.scope.purpose)), consent=exc.scope.value)
    if isinstance(exc, RateLimited):
        text = _("Too many codes were requested. Wait {seconds} seconds, then ask for a new code.")
        return PageError(429, text.format(seconds=exc.retry_after_s), {"otp": text.format(seconds=exc.retry_after_s)})
    if isinstance(exc, AuthError):
        text = _("The code is wrong or has expired. Ask for a new code and enter it within 5 minutes.")
        return PageError(401, text, {"otp": text})
    if isinstance(exc, OfferExpired):
        return PageError(409, _("This offer has expired. Apply again to get a new offer."))
    if isinstance(exc, Conflict):
        fields = {exc.field: _field_text(exc.field, str(exc), hints, _)} if exc.field else {}
        general = _(hints["_conflict"]) if "_conflict" in hints else _("This cannot be done now: {reason}.")
        return PageError(409, general.format(reason=reasons.reason(str(exc), _).rstrip("。.")), fields)
    if isinstance(exc, NotFound):
        return PageError(404, _("We could not find that page. It may belong to another account or no longer exist."))
    if isinstance(exc, Forbidden):
        return PageError(403, _("Only the borrower can do this, signed in with their own phone."))
    if isinstance(exc, MoneyError | IdentifierError):
        return PageError(422, _(FIX_FIELDS), {"amount": reasons.reason(str(exc), _)})
    raise exc


def summarise_unshown(problem: PageError, shown: Mapping[str, str], labels: Mapping[str, str], _: Gettext) -> PageError:
    """A page shows each field's message next to its field (`shown`: the fields it has). A message
    for a field it does not show goes into the summary at the top, after the field's name in the
    reader's words (`labels`), so that no refusal is left as "some details need correcting" alone."""
    hidden = {path: text for path, text in problem.fields.items() if path not in shown}
    kept = {path: text for path, text in problem.fields.items() if path in shown}
    named = [
        _("{field}: {reason}").format(field=_(labels.get(path) or shown.get(path) or path), reason=text.rstrip("。."))
        for path, text in hidden.items()
        if text.rstrip("。.") not in problem.message  # a conflict's summary says its reason already
    ]
    if not named:
        return replace(problem, fields=kept) if hidden else problem
    details = _("; ").join(named)
    if kept:
        message = _("{summary} Also: {details}.").format(summary=problem.message, details=details)
    elif problem.message == _(FIX_FIELDS):
        message = _("This cannot be done as it is: {details}.").format(details=details)
    else:
        message = _("{summary} {details}.").format(summary=problem.message, details=details)
    return replace(problem, message=message, fields=kept)


def _field_text(path: str, message: str, hints: Mapping[str, str], _: Gettext) -> str:
    """The service's reason in the reader's words when the portal knows it, then the page's hint
    for the field (what to do); the service's English only when neither is known."""
    reason = reasons.known(message, _)
    hint = _(hints[path]) if path in hints else None
    if reason and hint:
        return _("{reason}. {hint}").format(reason=reason.rstrip("。."), hint=hint)
    return reason or hint or message


def error_page(request: Request, problem: PageError) -> HTMLResponse:
    return render(request, "portal/problem.html", status_code=problem.status, **problem.context())


class Notice(StrEnum):
    """What just happened, carried across a redirect as `?done=` (Post/Redirect/Get)."""

    SIGNED_IN = "signed_in"
    REGISTERED = "registered"
    GRANTED = "granted"
    REVOKED = "revoked"
    SHARED = "shared"
    SIGNED = "signed"
    REPAID = "repaid"
    SIGNED_OUT = "signed_out"


NOTICES: dict[Notice, str] = {
    Notice.SIGNED_IN: N_("You are signed in."),
    Notice.REGISTERED: N_("Your details are saved. Next, choose which data we may use to assess your loan."),
    Notice.GRANTED: N_("Thank you: your consent is recorded. You can withdraw it here at any time."),
    Notice.REVOKED: N_("Your consent is withdrawn. We no longer use this data for new decisions."),
    Notice.SHARED: N_("Your account is connected: a year of its movements is shared for your assessment."),
    Notice.SIGNED: N_("The contract is signed. Tell us where to send the money."),
    Notice.REPAID: N_("Thank you: your payment is posted. It is listed under the payments below."),
    Notice.SIGNED_OUT: N_("You are signed out."),
}


def notice_of(request: Request) -> str | None:
    done = request.query_params.get("done")
    if done is None or done not in Notice._value2member_map_:
        return None
    return gettext_of(request)(NOTICES[Notice(done)])


# --- the route class --------------------------------------------------------------------------


class PortalRoute(APIRoute):
    """Pages answer with pages: a Redirect becomes 303, a service error nobody handled becomes
    the problem page with its status, an unreadable query a 422 page (not the API's JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except Redirect as go:
                return RedirectResponse(go.location, status_code=303)
            except SERVICE_ERRORS as exc:
                return error_page(request, explain(exc, gettext_of(request)))
            except RequestValidationError:
                _ = gettext_of(request)
                return error_page(request, PageError(422, _("That address is not complete. Start again from home.")))

        return page
