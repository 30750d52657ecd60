"""Credit decisions: a pre-approval (the line and price a borrower would get now, no application),
a stored decision with what it was made from (staff), and its replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.schemas.common import ERROR_RESPONSES, AmountIn
from puhui.services import decisions

router = APIRouter(prefix="/v1/risk/decisions", tags=["risk decisions"])


class PreApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    borrower_id: str = Field(min_length=1, max_length=36)
    product_code: str = Field(min_length=1, max_length=40)
    amount: AmountIn
    term_months: int = Field(ge=1, le=360)


@router.post("", status_code=201, responses=ERROR_RESPONSES)
def pre_approve(body: PreApprovalIn, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    """`{outcome, credit_limit, approved_amount, annual_rate, apr, pd, score, reasons, factors,
    model_version, policy_version}`; 409 without the borrower's `credit_assessment` consent."""
    return decisions.pre_approve(container, body.borrower_id, body.product_code, body.amount, body.term_months, caller)


@router.get("/{decision_id}", responses=ERROR_RESPONSES)
def get_decision(decision_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    return decisions.get_decision(container, decision_id, caller)


@router.post("/{decision_id}/replay", responses=ERROR_RESPONSES)
def replay(decision_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    """Decide again from the stored inputs: `{same_result, same_versions, stored, replayed}`."""
    return decisions.replay(container, decision_id, caller)
