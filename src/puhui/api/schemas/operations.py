"""Operations schemas: end of day, the trial balance, health and the bank channel's callbacks."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from puhui.api.schemas.common import AmountStr, Moment, Passthrough


class EodDayOut(Passthrough):
    """What one closed day did (batch/eod.py DaySummary); a run still going has none of it yet."""

    business_date: date | None = None
    loans_accrued: int | None = None
    interest_accrued_minor: int | None = None
    loans_in_penalty: int | None = None
    penalty_accrued_minor: int | None = None
    installments_billed: int | None = None
    fees_billed_minor: int | None = None
    loans_overdue: int | None = None
    provision_change_minor: int | None = None


class EodRunOut(Passthrough):
    business_date: date
    already_done: bool
    days: list[EodDayOut]
    next_business_date: date


class EodRecordOut(Passthrough):
    business_date: date
    status: str
    summary: EodDayOut
    started_at: Moment
    finished_at: Moment | None


class EodRunsOut(Passthrough):
    runs: list[EodRecordOut]
    business_date: date = Field(description="the business date now")


class TrialBalanceLineOut(Passthrough):
    code: str
    name: str
    name_zh: str
    type: str
    debits: AmountStr
    credits: AmountStr
    balance: AmountStr


class TrialBalanceOut(Passthrough):
    as_of: date | None
    accounts: list[TrialBalanceLineOut]
    debits: AmountStr
    credits: AmountStr
    balanced: bool


class HealthOut(Passthrough):
    status: str
    version: str
    database: str


class CallbackOut(Passthrough):
    result: str = Field(description="posted, failed, unapplied, or the payout's status")
    reason: str | None = None
    repayment_id: str | None = None
