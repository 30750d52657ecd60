"""The manual review queue (maker–checker) for applications decided `review`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.schemas.common import ERROR_RESPONSES, ErrorBody, PageLimit, PageOffset
from puhui.api.schemas.reviews import ApproveIn, DeclineIn, ReviewOut, ReviewQueueOut, TermsIn
from puhui.domain.access import Principal
from puhui.services import reviews


def _reviewer(principal: CurrentPrincipal) -> Principal:
    # a dependency, so a borrower gets 404 (and other staff 403) before the body is even read
    return reviews.require_reviewer(principal)


Reviewer = Annotated[Principal, Depends(_reviewer)]
RESPONSES = {
    **ERROR_RESPONSES,
    403: {"model": ErrorBody, "description": "Staff without the officer, risk or admin role"},
    409: {"model": ErrorBody, "description": "Not awaiting review, or maker–checker: the maker cannot approve"},
}

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


@router.get("", response_model=ReviewQueueOut, responses=RESPONSES)
def queue(
    container: ContainerDep,
    caller: Reviewer,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> ReviewQueueOut:
    return ReviewQueueOut.of(reviews.list_queue(container, caller, limit, offset))


@router.get("/{application_id}", response_model=ReviewOut, responses=RESPONSES)
def get_review(application_id: str, container: ContainerDep, caller: Reviewer) -> ReviewOut:
    return ReviewOut.of(reviews.get_review(container, application_id, caller))


@router.post("/{application_id}/terms", status_code=201, response_model=ReviewOut, responses=RESPONSES)
def propose_terms(application_id: str, body: TermsIn, container: ContainerDep, caller: Reviewer) -> ReviewOut:
    terms = reviews.ProposedTerms(body.amount, body.term_months, body.annual_rate, body.note)
    return ReviewOut.of(reviews.propose_terms(container, application_id, terms, caller))


@router.post("/{application_id}/approve", status_code=201, response_model=ReviewOut, responses=RESPONSES)
def approve(application_id: str, container: ContainerDep, caller: Reviewer, body: ApproveIn | None = None) -> ReviewOut:
    return ReviewOut.of(reviews.approve(container, application_id, body.note if body else "", caller))


@router.post("/{application_id}/decline", status_code=201, response_model=ReviewOut, responses=RESPONSES)
def decline(application_id: str, body: DeclineIn, container: ContainerDep, caller: Reviewer) -> ReviewOut:
    return ReviewOut.of(reviews.decline(container, application_id, body.reason, caller))
