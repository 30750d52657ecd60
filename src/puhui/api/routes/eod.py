"""End of day: close a business date (operations), and the record of past runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from puhui.api.deps import ContainerDep, require_roles
from puhui.api.schemas.common import ERROR_RESPONSES, IsoDate
from puhui.api.schemas.operations import EodRunOut, EodRunsOut
from puhui.domain.access import Principal, Role
from puhui.services import eod

router = APIRouter(prefix="/v1/eod", tags=["end of day"])
Operations = Annotated[Principal, Depends(require_roles(Role.OPS, Role.ADMIN))]


class EodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    business_date: IsoDate


@router.post("", response_model=EodRunOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def run(body: EodIn, container: ContainerDep, _: Operations) -> dict[str, Any]:
    result = eod.run_eod(container, body.business_date, max_days=eod.HTTP_CATCH_UP_DAYS)
    return {
        "business_date": result.business_date.isoformat(),
        "already_done": result.already_done,
        "days": [s.as_dict() for s in result.ran],
        "next_business_date": container.clock.business_date().isoformat(),
    }


@router.get("", response_model=EodRunsOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def runs(container: ContainerDep, _: Operations) -> dict[str, Any]:
    return {"runs": eod.recent_runs(container), "business_date": container.clock.business_date().isoformat()}
