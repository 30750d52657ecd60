"""Credit decisions: a pre-approval (the line and price a borrower would get now, no application),
a stored decision with what it was made from (staff), and its replay."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from puhui.api.deps import CREDENTIALS_SECURITY, ContainerDep, CurrentPrincipal, authenticate, credentials_of
from puhui.api.schemas.common import ERROR_RESPONSES, AmountIn
from puhui.api.schemas.risk import MonitoringOut, ReplayOut, RiskDecisionOut
from puhui.bootstrap import Container
from puhui.services import decisions, monitoring

router = APIRouter(prefix="/v1/risk", tags=["risk decisions"])


class PreApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    borrower_id: str = Field(min_length=1, max_length=36)
    product_code: str = Field(min_length=1, max_length=40)
    amount: AmountIn
    term_months: int = Field(ge=1, le=360)


# The model documents the body; the route writes the body itself (orjson, below). The container
# and the credentials come from the request, not from dependencies: FastAPI solves four of them
# (the container, HTTPBearer, APIKeyHeader, the credentials) on every call otherwise.
@router.post(
    "/decisions",
    status_code=201,
    responses=ERROR_RESPONSES,
    response_model=RiskDecisionOut,
    openapi_extra={"security": CREDENTIALS_SECURITY},
)
async def pre_approve(body: PreApprovalIn, request: Request) -> Response:
    """`{outcome, credit_limit, approved_amount, annual_rate, apr, pd, score, reasons, factors,
    model_version, policy_version}`; 409 without the borrower's `credit_assessment` consent.

    The hot path of the instant decision: the caller's look-up, the decision and the response's
    JSON in ONE worker thread (a sync route would hop to the thread pool three times: the caller,
    the work, the response's validation), the JSON by orjson as FastAPI would write it."""
    container: Container = request.app.state.container
    credentials = credentials_of(request)

    def work() -> bytes:
        caller = authenticate(container, credentials)
        view = decisions.pre_approve(
            container, body.borrower_id, body.product_code, body.amount, body.term_months, caller
        )
        return orjson.dumps(view, option=orjson.OPT_UTC_Z)

    return Response(await run_in_threadpool(work), status_code=201, media_type="application/json")


@router.get(
    "/decisions/{decision_id}",
    response_model=RiskDecisionOut,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def get_decision(decision_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    return decisions.get_decision(container, decision_id, caller)


@router.post(
    "/decisions/{decision_id}/replay",
    response_model=ReplayOut,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def replay(decision_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    """Decide again from the stored inputs: `{same_result, same_versions, stored, replayed}`."""
    return decisions.replay(container, decision_id, caller)


@router.get("/monitoring", response_model=MonitoringOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def monitor(
    container: ContainerDep, caller: CurrentPrincipal, days: Annotated[int, Query(ge=1, le=730)] = 90
) -> dict[str, Any]:
    """The live model: PSI of its recent scores against its training sample, AUC on seasoned loans
    against its trained AUC; a shift or a drop raises a model-drift alert (risk, admin)."""
    return monitoring.monitor(container, caller, days)
