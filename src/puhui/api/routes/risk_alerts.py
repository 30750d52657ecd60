"""The risk alert queue (risk, operations and admin staff) and flagged payout accounts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.schemas.common import ERROR_RESPONSES, PageLimit, PageOffset
from puhui.api.schemas.risk import AlertOut, AlertsOut, FlaggedOut
from puhui.services import fraud

router = APIRouter(prefix="/v1/risk", tags=["risk alerts"])


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=2000, description="what was found and what was done")


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_number: str = Field(min_length=12, max_length=23)
    reason: str = Field(min_length=1, max_length=500)


@router.get("/alerts", response_model=AlertsOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def alerts(
    container: ContainerDep,
    caller: CurrentPrincipal,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    """Newest first: velocity, rings, tampered devices, intercepted payouts, third-party payers."""
    return {"alerts": fraud.list_alerts(container, caller, status, limit, offset)}


@router.post(
    "/alerts/{alert_id}/resolve", response_model=AlertOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def resolve(alert_id: str, body: ResolveIn, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    return fraud.resolve_alert(container, alert_id, body.resolution, caller)


@router.post(
    "/flagged-accounts",
    status_code=201,
    response_model=FlaggedOut,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def flag(body: FlagIn, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    """A payout to a flagged account is intercepted (risk, admin)."""
    return fraud.flag_account(container, body.account_number, body.reason, caller)
