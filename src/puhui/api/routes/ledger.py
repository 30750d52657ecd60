"""The general ledger: the trial balance, optionally as of a business date (finance, ops, admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from puhui.api.deps import ContainerDep, require_roles
from puhui.api.schemas.common import ERROR_RESPONSES, IsoDate
from puhui.api.schemas.operations import TrialBalanceOut
from puhui.domain.access import Principal, Role
from puhui.domain.ledger import CHART
from puhui.money import format_amount, from_minor
from puhui.services.accounting import get_trial_balance

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
Accounting = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.OPS, Role.ADMIN))]


def _amount(minor: int) -> str:
    return format_amount(from_minor(minor))


@router.get(
    "/trial-balance", response_model=TrialBalanceOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def trial_balance(
    container: ContainerDep,
    _: Accounting,
    as_of: Annotated[IsoDate | None, Query(description="business date, inclusive; default: everything posted")] = None,
) -> dict[str, Any]:
    tb = get_trial_balance(container.db, as_of)
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "accounts": [
            {
                "code": line.code.value,
                "name": line.name,
                "name_zh": CHART[line.code].name_zh,
                "type": line.type.value,
                "debits": _amount(line.debits_minor),
                "credits": _amount(line.credits_minor),
                "balance": _amount(line.balance_minor),
            }
            for line in tb.lines
        ],
        "debits": _amount(tb.debits_minor),
        "credits": _amount(tb.credits_minor),
        "balanced": tb.balanced,
    }
