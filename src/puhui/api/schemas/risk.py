"""Risk schemas: stored decisions and their replay, alerts, flagged accounts, model monitoring and
the alternative-data upload's report. The services build these bodies; the models say what is in
them (the `details`, `inputs`, `features` and `trace` of a decision or an alert are free-form).
A decision's stored records keep their keys sorted, and so do these models' fields."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from puhui.api.schemas.common import AmountStr, Moment, Number, Passthrough


class ReasonRecordOut(Passthrough):
    code: str
    text: str
    text_en: str


class FactorOut(Passthrough):
    code: str
    feature: str
    impact: Number
    text: str
    text_en: str


class ResultOut(Passthrough):
    """What a decision said (services/decisions.py result_record), in the stored record's order."""

    annual_rate: str | None
    approved_amount: AmountStr
    apr: str | None
    credit_limit: AmountStr
    factors: list[FactorOut]
    model_version: str | None
    outcome: str
    pd: Number | None
    policy_version: str
    reasons: list[ReasonRecordOut]
    score: int | None


class FindingOut(Passthrough):
    alert: str
    details: dict[str, Any]
    flag: str | None
    severity: str
    text: str
    text_en: str


class RiskDecisionOut(Passthrough):
    """A stored decision: what it said (as ResultOut), its fraud findings; staff also see what it
    was made from."""

    id: str
    borrower_id: str
    application_id: str | None
    decided_on: date
    annual_rate: str | None
    approved_amount: AmountStr
    apr: str | None
    credit_limit: AmountStr
    factors: list[FactorOut]
    model_version: str | None
    outcome: str
    pd: Number | None
    policy_version: str
    reasons: list[ReasonRecordOut]
    score: int | None
    fraud: list[FindingOut]
    created_at: Moment
    inputs: dict[str, Any] | None = Field(default=None, description="staff only")
    features: dict[str, Any] | None = Field(default=None, description="staff only")
    trace: Any = Field(default=None, description="staff only: the policy tables' trace")


class ReplayOut(Passthrough):
    id: str
    same_versions: bool
    same_result: bool
    stored: ResultOut
    replayed: ResultOut


class AlertOut(Passthrough):
    id: str
    kind: str
    severity: str
    borrower_id: str | None
    subject: str | None
    details: dict[str, Any]
    status: str
    created_at: Moment
    resolved_by: str | None
    resolved_at: Moment | None
    resolution: str | None


class AlertsOut(Passthrough):
    alerts: list[AlertOut]


class FlaggedOut(Passthrough):
    account: str = Field(description="masked (first 6, last 4)")
    reason: str
    flagged_by: str


class WindowOut(Passthrough):
    since: date
    until: date


class PsiOut(Passthrough):
    value: Number | None
    stability: str | None
    edges: list[Number]
    training_shares: list[Number]
    live_shares: list[Number]


class AucOut(Passthrough):
    live: Number | None
    trained_cv: Number
    seasoned_loans: int
    defaults: int
    drifted: bool | None


class MonitoringOut(Passthrough):
    model_version: str
    window: WindowOut
    decisions: int
    psi: PsiOut
    auc: AucOut
    alerts_raised: int


class ProblemOut(Passthrough):
    field: str
    message: str


class RejectedRowOut(Passthrough):
    index: int
    problems: list[ProblemOut]


class UploadOut(Passthrough):
    batch_id: str
    source: str
    received: int
    accepted: int
    duplicates: int
    rejected: list[RejectedRowOut]
