"""My loans: each loan's status, what is due and when, its schedule and payments; paying what is
due or prepaying (shorter term or smaller installments) with a payoff quote first; due reminders."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.tables import contracts as contracts_table
from puhui.adapters.db.tables import loans as loans_table
from puhui.api.deps import ContainerDep
from puhui.bootstrap import Container
from puhui.domain.access import Principal
from puhui.domain.servicing import InstallmentStatus, LoanStatus, PrepaymentChoice, prepayment_choices
from puhui.money import MoneyError, parse_amount, to_minor
from puhui.services import servicing
from puhui.services.borrowers import owned_row
from puhui.services.servicing import RepaymentCommand
from puhui.web.portal_common import (
    N_,
    SERVICE_ERRORS,
    BorrowerDep,
    FormDep,
    Notice,
    PageError,
    PortalRoute,
    Redirect,
    Viewer,
    clean_amount,
    explain,
    gettext_of,
    notice_of,
    summarise_unshown,
)
from puhui.web.render import render

router = APIRouter(include_in_schema=False, route_class=PortalRoute)

REMINDER_DAYS = 7  # an installment due within a week is worth a reminder on the home page
STATUS_LABELS = {
    LoanStatus.PENDING_DISBURSEMENT: N_("Signed: waiting for your card"),
    LoanStatus.DISBURSING: N_("Paying out"),
    LoanStatus.ACTIVE: N_("Repaying"),
    LoanStatus.CLOSED: N_("Repaid"),
    LoanStatus.WRITTEN_OFF: N_("Written off"),
}
INSTALLMENT_LABELS = {
    InstallmentStatus.SCHEDULED: N_("Upcoming"),
    InstallmentStatus.DUE: N_("Due"),
    InstallmentStatus.PAID: N_("Paid"),
    InstallmentStatus.CANCELLED: N_("Replaced"),
    InstallmentStatus.RESTRUCTURED: N_("Restructured"),
}
PAYMENT_KINDS = {
    "repayment": N_("Repayment"),
    "payoff": N_("Paid off"),
    "prepayment_shorter_term": N_("Prepayment, shorter term"),
    "prepayment_smaller_installments": N_("Prepayment, smaller installments"),
}
CHOICES = {  # "" pays what is due; anything beyond it is kept as credit
    "": N_("Pay what is due now (anything extra is kept as credit for the next installment)"),
    PrepaymentChoice.SHORTER_TERM.value: N_("Prepay and keep the installment: finish sooner"),
    PrepaymentChoice.SMALLER_INSTALLMENTS.value: N_("Prepay and keep the end date: smaller installments"),
    PrepaymentChoice.PAYOFF.value: N_("Pay off the whole loan today"),
}


@dataclass(frozen=True, slots=True)
class LoanDetails:
    loan: dict[str, Any]
    schedule: list[dict[str, Any]]
    repayments: list[dict[str, Any]]
    terms: dict[str, Any]  # the signed contract's terms: APR, fees, the amount paid out
    choices: dict[str, str]  # what paying can mean on this loan (a shorter term needs installments of principal)

    @property
    def current_schedule(self) -> list[dict[str, Any]]:
        version = self.loan.get("schedule_version")
        return [i for i in self.schedule if version is None or i["version"] == version]

    @property
    def next_installment(self) -> dict[str, Any] | None:
        upcoming = [i for i in self.current_schedule if i["status"] != InstallmentStatus.PAID.value]
        return upcoming[0] if upcoming else None


def loan_details(container: Container, loan_id: str, caller: Principal) -> LoanDetails:
    """One read through the servicing views, after the ownership check (another's loan is 404)."""

    def work(conn: Connection) -> LoanDetails:
        row = owned_row(conn, loans_table, loan_id, caller, "loan")
        terms = conn.execute(
            select(contracts_table.c.terms_json).where(contracts_table.c.id == row.contract_id)
        ).scalar_one_or_none()
        product = product_repository.get_version(conn, row.product_code, row.product_version)
        offered = {c.value for c in prepayment_choices(product.repayment_method)} if product else set()
        return LoanDetails(
            servicing.loan_view(conn, loan_id),
            servicing.schedule_view(conn, loan_id),
            servicing.repayments_view(conn, loan_id),
            json.loads(terms) if terms else {},
            {value: text for value, text in CHOICES.items() if value == "" or value in offered},
        )

    return container.db.read(work)


def my_loans(container: Container, viewer: Viewer) -> list[dict[str, Any]]:
    """The borrower's loans, newest first, each with the principal still owed (due or not)."""
    found = servicing.list_loans(container, viewer.principal, None, 50, 0)["loans"]
    return [{**loan, "principal_owed": principal_owed(loan)} for loan in found]


def principal_owed(loan: dict[str, Any]) -> Decimal | None:
    out = loan.get("outstanding")
    if not out:
        return None
    return Decimal(out["principal"]) + Decimal(out["principal_not_due"])


@dataclass(frozen=True, slots=True)
class Reminder:
    loan_id: str
    due_on: date | None
    days_left: int | None
    overdue: bool
    due_now: Decimal


def reminders(container: Container, viewer: Viewer, loans: list[dict[str, Any]], today: date) -> list[Reminder]:
    """Active loans with an installment due within REMINDER_DAYS, or anything overdue, with what
    is owed today (the day's installment included on its due date)."""
    found = []
    for loan in loans:
        if loan["status"] != LoanStatus.ACTIVE.value:
            continue
        due_on = date.fromisoformat(loan["next_due_date"]) if loan.get("next_due_date") else None
        overdue = int(loan.get("days_past_due") or 0) > 0
        soon = due_on is not None and due_on - today <= timedelta(days=REMINDER_DAYS)
        if overdue or soon:
            due_now = Decimal(position_today(container, loan, viewer.principal).get("due_now", "0.00"))
            days_left = (due_on - today).days if due_on else None
            found.append(Reminder(loan["id"], due_on, days_left, overdue, due_now))
    return found


@router.get("/loans", response_class=HTMLResponse)
def loans_page(request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return render(request, "portal/loans.html", loans=my_loans(container, viewer), statuses=STATUS_LABELS)


def position_today(container: Container, loan: dict[str, Any], caller: Principal) -> dict[str, str]:
    """What is owed as of the business date (today's installment included on its due date); the
    last end of day's figures when no quote can be given (a loan that is not active)."""
    if loan["status"] == LoanStatus.ACTIVE.value:
        try:
            return servicing.payoff_quote(container, loan["id"], None, caller)
        except SERVICE_ERRORS:
            pass
    return dict(loan.get("outstanding") or {})


def _loan_page(
    request: Request,
    container: ContainerDep,
    viewer: Viewer,
    loan_id: str,
    problem: PageError | None = None,
    chosen: str | None = None,  # the choice posted (else the query's)
) -> HTMLResponse:
    details = loan_details(container, loan_id, viewer.principal)
    position = position_today(container, details.loan, viewer.principal)
    due_now = position.get("due_now", "0.00")
    overdue = int(details.loan.get("days_past_due") or 0) > 0
    chosen = request.query_params.get("prepayment", "") if chosen is None else chosen
    return render(
        request,
        "portal/loan.html",
        problem.status if problem else 200,
        details=details,
        loan=details.loan,
        terms=details.terms,
        position=position,
        overdue=overdue,
        next_installment=details.next_installment,
        statuses=STATUS_LABELS,
        installment_labels=INSTALLMENT_LABELS,
        payment_kinds=PAYMENT_KINDS,
        choices=details.choices,
        chosen=chosen if chosen in details.choices else "",
        key=uuid.uuid4().hex,  # one posting per press: a repeated key replays the first answer
        default_amount=due_now if Decimal(due_now) > 0 else "",
        notice=notice_of(request),
        **(problem.context() if problem else {}),
    )


@router.get("/loans/{loan_id}", response_class=HTMLResponse)
def loan_page(loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    return _loan_page(request, container, viewer, loan_id)


@router.get("/loans/{loan_id}/status", response_class=HTMLResponse)
def loan_status(loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """The payout's progress, polled by the page until the bank has answered."""
    details = loan_details(container, loan_id, viewer.principal)
    return render(request, "portal/_loan_status.html", loan=details.loan, statuses=STATUS_LABELS)


@router.get("/loans/{loan_id}/quote", response_class=HTMLResponse)
def payoff_quote(loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep) -> Response:
    """What is due now and what would settle the loan today, for the choice being made."""
    choice = request.query_params.get("prepayment", "")
    try:
        quoted = servicing.payoff_quote(container, loan_id, None, viewer.principal)
    except SERVICE_ERRORS as exc:
        _ = gettext_of(request)
        problem = summarise_unshown(explain(exc, _), {}, OTHER_FIELDS, _)
        return render(request, "portal/_payoff.html", problem.status, quote=None, quote_error=problem.message)
    return render(request, "portal/_payoff.html", quote=quoted, choice=choice, fragment=True)


REPAY_HINTS = {
    "amount": N_("Enter the amount to pay in yuan, e.g. 500.00."),
    "prepayment": N_("Choose one of the ways to pay shown here."),
    "_conflict": N_("This payment cannot be taken now: {reason}."),
}
REPAY_FIELDS = {  # the fields the repayment form shows (their messages are shown next to them)
    "amount": N_("Amount, yuan"),
    "prepayment": N_("What do you want to pay?"),
}
OTHER_FIELDS = {  # fields a refusal may name that the form does not show: named in the summary
    "date": N_("Date"),
    "paid_at": N_("Payment date"),
    "loan_id": N_("Loan"),
    "channel_reference": N_("Payment reference"),
    "term_months": N_("Term"),
}


def _repayment(form: FormDep, loan_id: str) -> RepaymentCommand | str:
    """The form as a repayment, or the message for the amount."""
    choice = form.text("prepayment")
    prepayment = PrepaymentChoice(choice) if choice in PrepaymentChoice._value2member_map_ else None
    try:
        amount = parse_amount(clean_amount(form.text("amount")))
    except MoneyError:
        return REPAY_HINTS["amount"]
    return RepaymentCommand(loan_id, to_minor(amount), prepayment, servicing.Channel.API)


@router.post("/loans/{loan_id}", response_class=HTMLResponse)
def repay(loan_id: str, request: Request, container: ContainerDep, viewer: BorrowerDep, form: FormDep) -> Response:
    _ = gettext_of(request)
    chosen = form.text("prepayment")
    command = _repayment(form, loan_id)
    if isinstance(command, str):
        problem = PageError(422, _("Some details need correcting: see the messages next to the fields."))
        problem = PageError(422, problem.message, {"amount": _(command)})
        return _loan_page(request, container, viewer, loan_id, problem, chosen)
    try:
        servicing.repay(container, command, viewer.principal, form.text("key") or None)
    except SERVICE_ERRORS as exc:
        problem = summarise_unshown(explain(exc, _, REPAY_HINTS), REPAY_FIELDS, OTHER_FIELDS, _)
        return _loan_page(request, container, viewer, loan_id, problem, chosen)
    raise Redirect(f"/loans/{loan_id}?done={Notice.REPAID.value}#payments")
