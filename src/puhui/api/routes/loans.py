"""Loans: their state and schedule, and the two-phase disbursement."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from puhui.adapters.db.tables import disbursements, loans
from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.errors import ApiError
from puhui.api.schemas.common import ERROR_RESPONSES
from puhui.money import format_amount, from_minor
from puhui.services import disbursement
from puhui.services.borrowers import owned_row

router = APIRouter(prefix="/v1/loans", tags=["loans"])


class DisbursementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_number: str = Field(min_length=12, max_length=23, description="the borrower's bank card (Luhn-checked)")


class DisbursementOut(BaseModel):
    disbursement_id: str
    status: str


@router.post("/{loan_id}/disbursements", status_code=202, response_model=DisbursementOut, responses=ERROR_RESPONSES)
def disburse(
    loan_id: str,
    body: DisbursementIn,
    container: ContainerDep,
    caller: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
) -> JSONResponse:
    if not idempotency_key:
        raise ApiError(
            400,
            "idempotency_key_required",
            "money moves only with an Idempotency-Key header",
            [{"path": "Idempotency-Key", "message": "is required"}],
        )
    stored = disbursement.request_disbursement(container, loan_id, body.account_number, idempotency_key, caller)
    return JSONResponse(stored.body, status_code=stored.status_code)


@router.get("/{loan_id}", responses=ERROR_RESPONSES)
def get_loan(loan_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    def work(conn: Any) -> dict[str, Any]:
        row = owned_row(conn, loans, loan_id, caller, "loan")
        payouts = conn.execute(
            select(disbursements).where(disbursements.c.loan_id == loan_id).order_by(disbursements.c.created_at)
        )
        return {
            "id": row.id,
            "status": row.status,
            "product_code": row.product_code,
            "principal": format_amount(from_minor(int(row.principal_minor))),
            "annual_rate": row.rate_annual,
            "term_months": row.term_months,
            "schedule": json.loads(row.schedule_json),
            "disbursements": [
                {
                    "id": d.id,
                    "status": d.status,
                    "net_amount": format_amount(from_minor(int(d.net_minor))),
                    "account": d.account_masked,
                    "failure_reason": d.failure_reason,
                }
                for d in payouts
            ],
        }

    return dict(container.db.read(work))
