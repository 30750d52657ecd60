"""E-contracts: the terms, the document of record, signing by SMS code, and tamper verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.schemas.common import ERROR_RESPONSES, Timestamp, json_errors
from puhui.services import contracts
from puhui.services.contracts import ContractView

router = APIRouter(tags=["contracts"])


class ContractOut(BaseModel):
    id: str
    application_id: str
    borrower_id: str
    status: str
    terms: dict[str, Any]
    document_sha256: str
    platform_signature: str
    signed_at: Timestamp | None
    loan_id: str | None

    @classmethod
    def of(cls, v: ContractView) -> ContractOut:
        return cls(
            id=v.id,
            application_id=v.application_id,
            borrower_id=v.borrower_id,
            status=v.status,
            terms=v.terms,
            document_sha256=v.document_sha256,
            platform_signature=v.platform_signature,
            signed_at=v.signed_at,
            loan_id=v.loan_id,
        )


class AcceptOut(BaseModel):
    contract_id: str


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    otp: str = Field(min_length=4, max_length=10)


class SignOut(BaseModel):
    loan_id: str
    document_sha256: str
    signature: str


class VerifyOut(BaseModel):
    valid: bool
    stored_sha256: str
    document_sha256: str
    signature_valid: bool


@router.post(
    "/v1/applications/{application_id}/accept", status_code=201, response_model=AcceptOut, responses=ERROR_RESPONSES
)
def accept(application_id: str, container: ContainerDep, caller: CurrentPrincipal) -> AcceptOut:
    return AcceptOut(contract_id=contracts.accept(container, application_id, caller).id)


@router.get("/v1/contracts/{contract_id}", response_model=ContractOut, responses=ERROR_RESPONSES)
def get_contract(contract_id: str, container: ContainerDep, caller: CurrentPrincipal) -> ContractOut:
    return ContractOut.of(contracts.get(container, contract_id, caller))


@router.get("/v1/contracts/{contract_id}/document", response_class=HTMLResponse, responses=json_errors(ERROR_RESPONSES))
def get_document(contract_id: str, container: ContainerDep, caller: CurrentPrincipal) -> HTMLResponse:
    return HTMLResponse(contracts.document(container, contract_id, caller))


@router.get(
    "/v1/contracts/{contract_id}/pdf",
    response_class=Response,
    responses={
        **json_errors(ERROR_RESPONSES),
        200: {"content": {"application/pdf": {}}, "description": "The contract as PDF"},
    },
)
def get_pdf(contract_id: str, container: ContainerDep, caller: CurrentPrincipal) -> Response:
    """The contract as an A4 PDF (Chinese and English), rendered from the stored HTML document.

    The PDF is a rendering, not the record: the platform signature covers the SHA-256 of the stored
    HTML (GET /document), so /verify checks that HTML, never the PDF bytes (which carry a creation
    time and may differ between WeasyPrint versions). Same ownership rule as the other routes: 404."""
    pdf = contracts.document_pdf(container, contract_id, caller)
    disposition = f'inline; filename="contract-{contract_id}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.post("/v1/contracts/{contract_id}/sign", status_code=201, response_model=SignOut, responses=ERROR_RESPONSES)
def sign(contract_id: str, body: SignIn, container: ContainerDep, caller: CurrentPrincipal) -> SignOut:
    view = contracts.sign(container, contract_id, body.otp, caller)
    assert view.loan_id is not None
    return SignOut(loan_id=view.loan_id, document_sha256=view.document_sha256, signature=view.platform_signature)


@router.get("/v1/contracts/{contract_id}/verify", response_model=VerifyOut, responses=ERROR_RESPONSES)
def verify(contract_id: str, container: ContainerDep, caller: CurrentPrincipal) -> VerifyOut:
    v = contracts.verify(container, contract_id, caller)
    return VerifyOut(
        valid=v.valid,
        stored_sha256=v.stored_sha256,
        document_sha256=v.document_sha256,
        signature_valid=v.signature_valid,
    )
