"""Application schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from puhui.api.schemas.common import AmountIn, Timestamp
from puhui.money import format_amount
from puhui.services.origination import ApplicationView


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    borrower_id: str = Field(min_length=1, max_length=36)
    product_code: str = Field(min_length=1, max_length=40)
    amount: AmountIn
    term_months: int = Field(ge=1, le=360)
    purpose: str = Field(min_length=1, max_length=500)
    device_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$", description="the app's device id"
    )


class ReasonOut(BaseModel):
    code: str
    text: str
    text_en: str


class DecisionOut(BaseModel):
    outcome: str
    approved_amount: str
    credit_limit: str
    annual_rate: str | None
    apr: str | None
    reasons: list[ReasonOut]
    policy_version: str
    model_version: str | None
    pd: float | None = None
    score: int | None = None
    decision_id: str | None = None


class ApplicationOut(BaseModel):
    id: str
    borrower_id: str
    product_code: str
    amount: str
    term_months: int
    purpose: str
    status: str
    decision: DecisionOut
    offer: dict[str, Any] | None
    schedule: list[dict[str, Any]]
    created_at: Timestamp

    @classmethod
    def of(cls, v: ApplicationView) -> ApplicationOut:
        return cls(
            id=v.id,
            borrower_id=v.borrower_id,
            product_code=v.product_code,
            amount=format_amount(v.amount),
            term_months=v.term_months,
            purpose=v.purpose,
            status=v.status,
            decision=DecisionOut(**v.decision),
            offer=v.offer,
            schedule=v.offer["schedule"] if v.offer else [],
            created_at=v.created_at,
        )
