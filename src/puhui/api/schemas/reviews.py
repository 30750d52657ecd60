"""Manual review schemas: the queue, proposed terms, approve and decline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from puhui.api.schemas.applications import DecisionOut
from puhui.api.schemas.common import AmountIn, RateIn, Timestamp
from puhui.money import format_amount, format_rate
from puhui.services.reviews import ActionView, ReviewQueue, ReviewView


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: AmountIn
    term_months: int = Field(ge=1, le=360)
    annual_rate: RateIn
    note: str = Field(default="", max_length=2000)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ActionOut(BaseModel):
    seq: int
    action: str
    actor: str
    actor_role: str
    amount: str | None
    term_months: int | None
    annual_rate: str | None
    apr: str | None
    note: str
    created_at: Timestamp

    @classmethod
    def of(cls, a: ActionView) -> ActionOut:
        return cls(
            seq=a.seq,
            action=a.action.value,
            actor=a.actor,
            actor_role=a.actor_role,
            amount=format_amount(a.amount) if a.amount is not None else None,
            term_months=a.term_months,
            annual_rate=a.rate_annual,
            apr=format_rate(a.apr_percent / Decimal(100)) if a.apr_percent is not None else None,
            note=a.note,
            created_at=a.created_at,
        )


class ReviewOut(BaseModel):
    application_id: str
    borrower_id: str
    borrower_name: str
    borrower_kind: str
    product_code: str
    amount: str
    term_months: int
    purpose: str
    status: str
    decision: DecisionOut
    proposed_terms: ActionOut | None = Field(description="the last proposal: the terms an approval would offer")
    actions: list[ActionOut]
    offer: dict[str, Any] | None
    created_at: Timestamp

    @classmethod
    def of(cls, v: ReviewView) -> ReviewOut:
        return cls(
            application_id=v.application_id,
            borrower_id=v.borrower_id,
            borrower_name=v.borrower_name,
            borrower_kind=v.borrower_kind,
            product_code=v.product_code,
            amount=format_amount(v.amount),
            term_months=v.term_months,
            purpose=v.purpose,
            status=v.status,
            decision=DecisionOut(**v.decision),
            proposed_terms=ActionOut.of(v.proposed) if v.proposed else None,
            actions=[ActionOut.of(a) for a in v.actions],
            offer=v.offer,
            created_at=v.created_at,
        )


class ReviewQueueOut(BaseModel):
    items: list[ReviewOut]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, q: ReviewQueue) -> ReviewQueueOut:
        return cls(items=[ReviewOut.of(v) for v in q.items], total=q.total, limit=q.limit, offset=q.offset)
