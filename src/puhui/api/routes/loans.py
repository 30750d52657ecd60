"""Loans: state, schedule, history, payoff quote, disbursement, repayment, restructuring,
write-off and an officer's upgrade of a non-performing loan's class. Money-moving POSTs require an Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from puhui.adapters.db.tables import disbursements, loans
from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.errors import ApiError
from puhui.api.schemas.common import ERROR_RESPONSES, MAX_PAYMENT, AmountIn, IsoDate, PageLimit, PageOffset
from puhui.api.schemas.loans import (
    LoanDetailOut,
    LoanListOut,
    LoanOut,
    PayoffOut,
    RepaymentOut,
    ScheduleOut,
    TransactionsOut,
)
from puhui.domain.access import SubjectKind
from puhui.domain.accrual import RiskClass
from puhui.domain.servicing import LoanStatus, PrepaymentChoice
from puhui.money import format_amount, from_minor, to_minor
from puhui.services import classification, disbursement, servicing
from puhui.services.borrowers import Forbidden, owned_row
from puhui.services.classification import MIN_ASSESSMENT_CHARS

router = APIRouter(prefix="/v1/loans", tags=["loans"])


def _require_key(idempotency_key: str | None) -> str:
    if not idempotency_key:
        raise ApiError(
            400,
            "idempotency_key_required",
            "money moves only with an Idempotency-Key header",
            [{"path": "Idempotency-Key", "message": "is required"}],
        )
    return idempotency_key


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


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
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    key = _require_key(idempotency_key)
    stored = disbursement.request_disbursement(container, loan_id, body.account_number, key, caller)
    return JSONResponse(stored.body, status_code=stored.status_code)


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[AmountIn, Field(le=MAX_PAYMENT, description=f"at most {MAX_PAYMENT} per payment")]
    prepayment: PrepaymentChoice | None = Field(
        default=None,
        description="pay beyond what is due: 'payoff' closes the loan; 'shorter_term' keeps the installment; "
        "'smaller_installments' keeps the term. Without it, anything beyond what is due is kept as credit.",
    )
    paid_at: IsoDate | None = Field(default=None, description="the business date; back-dating is not accepted")
    channel_reference: str | None = Field(default=None, min_length=1, max_length=100)


@router.post("/{loan_id}/repayments", status_code=201, response_model=RepaymentOut, responses=ERROR_RESPONSES)
def repay(
    loan_id: str,
    body: RepaymentIn,
    container: ContainerDep,
    caller: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    key = _require_key(idempotency_key)
    if caller.kind is SubjectKind.STAFF and not caller.has_any(servicing.POSTING_ROLES):
        raise Forbidden("only operations, finance or admin staff post repayments for a borrower")
    today = container.clock.business_date()
    if body.paid_at is not None and body.paid_at != today:
        raise ApiError(
            422,
            "validation_error",
            "repayments are posted on the business date",
            [{"path": "paid_at", "message": f"must be {today} (back- or forward-dating is not accepted)"}],
        )
    command = servicing.RepaymentCommand(
        loan_id, to_minor(body.amount), body.prepayment, servicing.Channel.API, body.channel_reference
    )
    stored = servicing.repay(container, command, caller, key)
    return JSONResponse(stored.body, status_code=stored.status_code)


class RestructureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term_months: int = Field(ge=1, le=120, description="number of monthly installments from today")
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/{loan_id}/restructure", response_model=LoanOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def restructure(loan_id: str, body: RestructureIn, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    return servicing.restructure(container, loan_id, body.term_months, body.reason, caller)


class WriteOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/{loan_id}/write-off", response_model=LoanOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def write_off(loan_id: str, body: WriteOffIn, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    return servicing.write_off(container, loan_id, body.reason, caller)


class ClassUpgradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_class: Literal["normal", "special_mention"] = Field(description="正常 or 关注")
    assessment: str = Field(
        min_length=MIN_ASSESSMENT_CHARS,
        max_length=2000,
        description="the officer's assessment that the borrower will keep paying (kept with the change)",
    )


@router.post(
    "/{loan_id}/class-upgrade", response_model=LoanOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def upgrade_class(
    loan_id: str, body: ClassUpgradeIn, container: ContainerDep, caller: CurrentPrincipal
) -> dict[str, Any]:
    """A non-performing loan (次级/可疑/损失) to 关注 or 正常 on a credit officer's recorded
    assessment (officer, risk, admin). 409 lists every condition of the 2023 measures not met yet:
    the overdue paid in full, six months and two installments paid on schedule since, no other
    non-performing loan of the borrower, a year since a restructuring."""
    return classification.upgrade_class(container, loan_id, RiskClass[body.to_class.upper()], body.assessment, caller)


@router.get("", response_model=LoanListOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def list_loans(
    container: ContainerDep,
    caller: CurrentPrincipal,
    status: Annotated[LoanStatus | None, Query()] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    """A borrower's own loans, newest first; staff see every loan."""
    return servicing.list_loans(container, caller, status.value if status else None, limit, offset)


@router.get("/{loan_id}/payoff", response_model=PayoffOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def payoff(
    loan_id: str,
    container: ContainerDep,
    caller: CurrentPrincipal,
    on: Annotated[IsoDate | None, Query(alias="date", description="defaults to the business date")] = None,
) -> dict[str, Any]:
    return servicing.payoff_quote(container, loan_id, on, caller)


@router.get(
    "/{loan_id}/schedule", response_model=ScheduleOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES
)
def schedule(loan_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    def work(conn: Connection) -> dict[str, Any]:
        owned_row(conn, loans, loan_id, caller, "loan")
        return {"loan_id": loan_id, "installments": servicing.schedule_view(conn, loan_id)}

    return dict(container.db.read(work))


@router.get(
    "/{loan_id}/transactions",
    response_model=TransactionsOut,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def transactions(loan_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    def work(conn: Connection) -> dict[str, Any]:
        owned_row(conn, loans, loan_id, caller, "loan")
        return {"loan_id": loan_id, "repayments": servicing.repayments_view(conn, loan_id)}

    return dict(container.db.read(work))


@router.get("/{loan_id}", response_model=LoanDetailOut, response_model_exclude_unset=True, responses=ERROR_RESPONSES)
def get_loan(loan_id: str, container: ContainerDep, caller: CurrentPrincipal) -> dict[str, Any]:
    def work(conn: Connection) -> dict[str, Any]:
        owned_row(conn, loans, loan_id, caller, "loan")
        view = servicing.loan_view(conn, loan_id)
        payouts = conn.execute(
            select(disbursements).where(disbursements.c.loan_id == loan_id).order_by(disbursements.c.created_at)
        )
        view["disbursements"] = [
            {
                "id": d.id,
                "status": d.status,
                "net_amount": format_amount(from_minor(int(d.net_minor))),
                "account": d.account_masked,
                "failure_reason": d.failure_reason,
            }
            for d in payouts
        ]
        return view

    return dict(container.db.read(work))
