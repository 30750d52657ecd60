"""Who is looking at a page: a bearer token kept in an HttpOnly, SameSite=Strict cookie (the same
tokens the API issues), one cookie for the borrower portal and one for the console."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from puhui.bootstrap import Container
from puhui.domain.access import Principal, SubjectKind
from puhui.services import auth

BORROWER_COOKIE = "puhui_session"
STAFF_COOKIE = "puhui_staff"


def principal_from(request: Request, container: Container, cookie: str) -> Principal | None:
    token = request.cookies.get(cookie)
    if not token:
        return None
    return auth.authenticate_token(container, token)


def borrower_of(request: Request, container: Container) -> Principal | None:
    who = principal_from(request, container, BORROWER_COOKIE)
    return who if who is not None and who.kind is SubjectKind.PHONE else None


def staff_of(request: Request, container: Container) -> Principal | None:
    who = principal_from(request, container, STAFF_COOKIE)
    return who if who is not None and who.kind is SubjectKind.STAFF else None


def keep(response: Response, cookie: str, token: str, max_age_s: int) -> None:
    response.set_cookie(cookie, token, max_age=max_age_s, httponly=True, samesite="strict")


def forget(response: Response, cookie: str) -> None:
    response.delete_cookie(cookie)
