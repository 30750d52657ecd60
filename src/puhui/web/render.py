"""Rendering a page: one Jinja2 environment (autoescaped), the request's language, and the small
filters every page needs (money with thousands separators, percentages, dates)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from puhui.web.i18n import Domain, Language, gettext_for, pick

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANG_COOKIE = "puhui_lang"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _yuan(value: Any) -> str:
    """ "12345.6" -> "12,345.60" (amounts arrive as strings or Decimals, never floats)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


def _percent(value: Any, places: int = 2) -> str:
    """A rate as a fraction ("0.1234") -> "12.34%"."""
    try:
        return f"{Decimal(str(value)) * 100:.{places}f}%"
    except (InvalidOperation, ValueError):
        return str(value)


_env.filters["yuan"] = _yuan
_env.filters["percent"] = _percent


def language_of(request: Request) -> Language:
    return pick(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    gettext = gettext_for(language, Domain.of_template(template))
    other = Language.EN if language is Language.ZH else Language.ZH
    page = _env.get_template(template).render(
        request=request, lang=language, other_lang=other, _=gettext, path=request.url.path, **context
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") == language.value:  # remember an explicit choice
        response.set_cookie(LANG_COOKIE, language.value, max_age=365 * 24 * 3600, samesite="lax")
    return response
