"""The borrower portal (mobile first): sign-in with a phone code, consent per data source, the
pre-approved line, the loan calculator, applying, the contract, my loans and repaying."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from puhui.api.deps import ContainerDep
from puhui.web.render import render
from puhui.web.session import borrower_of

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, container: ContainerDep) -> HTMLResponse:
    who = borrower_of(request, container)
    return render(request, "portal/home.html", signed_in=who is not None)
