"""Borrowers and their consents. A borrower sees only their own records (others are 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.schemas.common import ERROR_RESPONSES, PageLimit, PageOffset
from puhui.api.schemas.people import BorrowerIn, BorrowerOut, ConsentIn, ConsentOut
from puhui.services import borrowers, identity_access

router = APIRouter(prefix="/v1/borrowers", tags=["borrowers"])


@router.post("", status_code=201, response_model=BorrowerOut, responses=ERROR_RESPONSES)
def register(body: BorrowerIn, container: ContainerDep, caller: CurrentPrincipal) -> BorrowerOut:
    command = borrowers.NewBorrower(
        kind=body.kind,
        name=body.name,
        id_number=body.id_number,
        phone=body.phone,
        region=body.region,
        industry=body.industry,
        staff_count=body.staff_count,
        annual_revenue=body.annual_revenue,
        total_assets=body.total_assets,
        established_on=body.established_on,
    )
    return BorrowerOut.of(borrowers.register(container, command, caller))


@router.get("", response_model=list[BorrowerOut], responses=ERROR_RESPONSES)
def list_borrowers(
    container: ContainerDep,
    caller: CurrentPrincipal,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[BorrowerOut]:
    return [BorrowerOut.of(v) for v in borrowers.list_for(container, caller, limit, offset)]


@router.get("/{borrower_id}", response_model=BorrowerOut, responses=ERROR_RESPONSES)
def get_borrower(borrower_id: str, container: ContainerDep, caller: CurrentPrincipal) -> BorrowerOut:
    return BorrowerOut.of(borrowers.get(container, borrower_id, caller))


@router.post("/{borrower_id}/consents", status_code=201, response_model=ConsentOut, responses=ERROR_RESPONSES)
def grant(borrower_id: str, body: ConsentIn, container: ContainerDep, caller: CurrentPrincipal) -> ConsentOut:
    return ConsentOut.of(borrowers.grant_consent(container, borrower_id, body.scope, body.text_version, caller))


@router.get("/{borrower_id}/consents", response_model=list[ConsentOut], responses=ERROR_RESPONSES)
def consents(borrower_id: str, container: ContainerDep, caller: CurrentPrincipal) -> list[ConsentOut]:
    return [ConsentOut.of(v) for v in borrowers.list_consents(container, borrower_id, caller)]


@router.delete("/{borrower_id}/consents/{consent_id}", response_model=ConsentOut, responses=ERROR_RESPONSES)
def revoke(borrower_id: str, consent_id: str, container: ContainerDep, caller: CurrentPrincipal) -> ConsentOut:
    return ConsentOut.of(borrowers.revoke_consent(container, borrower_id, consent_id, caller))


class IdentityOut(BaseModel):
    borrower_id: str
    id_number: str
    phone: str
    payout_accounts: list[str]
    audit_id: str


@router.get("/{borrower_id}/identity", response_model=IdentityOut, responses=ERROR_RESPONSES)
def identity(
    borrower_id: str,
    container: ContainerDep,
    caller: CurrentPrincipal,
    reason: Annotated[str, Query(min_length=3, max_length=500, pattern=r"\S", description="why it is needed")],
) -> IdentityOut:
    """The borrower's identifiers in full (ID number, phone, payout cards): admin only, with a
    reason; each call writes an audit record. Everywhere else they are masked."""
    return IdentityOut(**identity_access.reveal_identity(container, borrower_id, reason, caller))
