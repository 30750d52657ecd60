"""The operations console (desktop first): the dashboard, the application queue and manual review,
borrowers and loans, products, policy tables, models, end of day and reconciliation, the SMS outbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from puhui.api.deps import ContainerDep
from puhui.web.render import render
from puhui.web.session import staff_of

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, container: ContainerDep) -> HTMLResponse:
    who = staff_of(request, container)
    return render(request, "console/dashboard.html", staff=who)
