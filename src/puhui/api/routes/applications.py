"""Loan applications: an instant decision and, when approved, an offer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from puhui.api.deps import ContainerDep, CurrentPrincipal, client_ip
from puhui.api.schemas.applications import ApplicationIn, ApplicationOut
from puhui.api.schemas.common import ERROR_RESPONSES
from puhui.services import origination

router = APIRouter(prefix="/v1/applications", tags=["applications"])


@router.post("", status_code=201, response_model=ApplicationOut, responses=ERROR_RESPONSES)
def apply(body: ApplicationIn, request: Request, container: ContainerDep, caller: CurrentPrincipal) -> ApplicationOut:
    command = origination.NewApplication(
        body.borrower_id,
        body.product_code,
        body.amount,
        body.term_months,
        body.purpose,
        body.device_id,
        client_ip(request),
    )
    return ApplicationOut.of(origination.apply(container, command, caller))


@router.get("/{application_id}", response_model=ApplicationOut, responses=ERROR_RESPONSES)
def get_application(application_id: str, container: ContainerDep, caller: CurrentPrincipal) -> ApplicationOut:
    return ApplicationOut.of(origination.get_application(container, application_id, caller))
