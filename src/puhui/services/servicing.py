"""Servicing use cases: activation at payout, repayment (scheduled, partial, early, payoff),
payoff quotes, restructuring, write-off and recovery.

Each works on ONE loan inside one transaction: it locks the loan's servicing row, first brings
the loan's accruals up to the business date (what the end-of-day run would post for it today,
so the run then skips it), then posts to the ledger and updates the servicing row and the
installments together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, select

from puhui.adapters.db import ledger_repository, product_repository
from puhui.adapters.db.tables import borrowers, installments, loan_servicing, loans, repayments, schedule_changes
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.accrual import RiskClass, stage_for
from puhui.domain.allocation import Split
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.ledger import AccountCode, TransferCode
from puhui.domain.postings import (
    accrual,
    fee_charge,
    interest_billing,
    loan_account,
    recovery,
    repayment,
    write_off_loan,
)
from puhui.domain.pricing import terms_for
from puhui.domain.products import LoanProduct
from puhui.domain.schedule import Schedule, generate
from puhui.domain.servicing import (
    PPM,
    InstallmentStatus,
    LoanStatus,
    PlannedInstallment,
    Position,
    PrepaymentChoice,
    RepaymentPlan,
    ScheduleChangeKind,
    accrued_target,
    days_past_due,
    penalty_target,
    plan_installments,
    plan_repayment,
    reschedule,
)
from puhui.money import div_half_up, format_amount, from_minor, rate_ppm
from puhui.services.accounting import post_in
from puhui.services.borrowers import Conflict, Forbidden, NotFound, owned_row
from puhui.services.disbursement import StoredResponse, idempotent

LOAN_ACCOUNT_CODES = {
    "principal_account_id": AccountCode.PRINCIPAL_RECEIVABLE,
    "interest_account_id": AccountCode.INTEREST_RECEIVABLE,
    "fee_account_id": AccountCode.FEE_RECEIVABLE,
    "penalty_account_id": AccountCode.PENALTY_RECEIVABLE,
}
WRITE_OFF_ROLES = (Role.FINANCE, Role.ADMIN)
RESTRUCTURE_ROLES = (Role.OFFICER, Role.RISK, Role.ADMIN)
POSTING_ROLES = (Role.OPS, Role.FINANCE, Role.ADMIN)


class Channel:
    API = "api"
    BANK = "bank"


# --- activation --------------------------------------------------------------------------------


def activate(conn: Connection, loan: Any, on: date) -> None:
    """The payout settled: the schedule runs from today, installments and servicing state exist."""
    product = _product(conn, loan)
    rate = Decimal(loan.rate_annual)
    schedule = generate(terms_for(product, from_minor(int(loan.principal_minor)), loan.term_months, rate, on))
    plan = plan_installments(schedule)
    keys = {column: loan_account(code, loan.id) for column, code in LOAN_ACCOUNT_CODES.items()}
    ids = ledger_repository.ensure_accounts(conn, keys.values())
    _insert_installments(conn, loan.id, 1, plan)
    contract_ppm = rate_ppm(rate)
    conn.execute(
        loan_servicing.insert().values(
            loan_id=loan.id,
            borrower_id=loan.borrower_id,
            status=LoanStatus.ACTIVE.value,
            schedule_version=1,
            rate_ppm=contract_ppm,
            penalty_rate_ppm=div_half_up(contract_ppm * (PPM + rate_ppm(product.penalty_multiplier)), PPM),
            basis_days=int(product.day_count.basis_days),
            not_due_principal_minor=int(loan.principal_minor),
            opened_on=on,
            last_eod_date=on,
            **{column: ids[key] for column, key in keys.items()},
            **_period_values(plan[0], on),
        )
    )


def _period_values(first: PlannedInstallment | None, start: date) -> dict[str, Any]:
    if first is None:
        return {
            "next_seq": None,
            "next_due_date": None,
            "period_start": start,
            "period_days": 0,
            "period_interest_minor": 0,
            "period_fee_minor": 0,
            "period_principal_minor": 0,
            "accrued_in_period_minor": 0,
        }
    return {
        "next_seq": first.seq,
        "next_due_date": first.due_date,
        "period_start": start,
        "period_days": first.period_days,
        "period_interest_minor": first.interest_minor,
        "period_fee_minor": first.fee_minor,
        "period_principal_minor": first.principal_minor,
        "accrued_in_period_minor": 0,
    }


def _insert_installments(conn: Connection, loan_id: str, version: int, plan: list[PlannedInstallment]) -> None:
    conn.execute(
        installments.insert(),
        [
            {
                "loan_id": loan_id,
                "version": version,
                "seq": p.seq,
                "due_date": p.due_date,
                "period_days": p.period_days,
                "principal_minor": p.principal_minor,
                "interest_minor": p.interest_minor,
                "fee_minor": p.fee_minor,
                "status": InstallmentStatus.SCHEDULED.value,
            }
            for p in plan
        ],
    )


def _product(conn: Connection, loan: Any) -> LoanProduct:
    """The product's terms the loan was signed under (a later edit of the product leaves it be)."""
    product = product_repository.get_version(conn, loan.product_code, loan.product_version)
    if product is None:  # products are never deleted; a loan always has its product
        raise NotFound(f"product {loan.product_code} was not found")
    return product


# --- reading a loan's position -----------------------------------------------------------------


def _locked_state(conn: Connection, loan_id: str) -> Any:
    row = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id).with_for_update()).first()
    if row is None:
        raise Conflict(f"loan {loan_id} has not been paid out yet; there is nothing to repay", "loan_id")
    return row


def _penalty_through(state: Any, on: date) -> tuple[int, int, int]:
    """Penalty interest on an overdue loan through the end of `on`, as the end-of-day run counts it:
    the overdue fen-days so far, the penalty they earn over the loan's life, and what of it is not
    yet posted."""
    since = max(state.last_eod_date or state.overdue_since, state.overdue_since)
    overdue_days = max((on - since).days, 0)
    base = int(state.due_principal_minor) + int(state.due_interest_minor)
    basis = int(state.penalty_basis_days) + base * overdue_days
    target = penalty_target(basis, int(state.penalty_rate_ppm), int(state.basis_days))
    return basis, target, target - int(state.penalty_posted_minor)


def position_of(state: Any, on: date) -> Position:
    """What is owed on `on`, counting interest the current period has earned by then and penalty
    interest through `on` (what a payment that day is charged: `accrue_to` posts the same); on a
    due date the installment of the day is due (it is billed at the first payment or at end of day)."""
    accrued = int(state.accrued_in_period_minor)
    penalty = int(state.penalty_minor)
    accruing = state.status == LoanStatus.ACTIVE.value and (state.last_eod_date is None or state.last_eod_date < on)
    if accruing and state.overdue_since is not None and state.overdue_since < on:
        penalty += max(_penalty_through(state, on)[2], 0)
    billing_today = False
    if state.next_due_date is not None and state.status == LoanStatus.ACTIVE.value:
        accrued = max(
            accrued,
            accrued_target(int(state.period_interest_minor), state.period_start, int(state.period_days), on),
        )
        billing_today = state.next_due_date == on
    if billing_today:
        return Position(
            penalty_minor=penalty,
            due_fee_minor=int(state.due_fee_minor) + int(state.period_fee_minor),
            due_interest_minor=int(state.due_interest_minor) + accrued,
            due_principal_minor=int(state.due_principal_minor) + int(state.period_principal_minor),
            accrued_interest_minor=0,
            not_due_principal_minor=int(state.not_due_principal_minor) - int(state.period_principal_minor),
        )
    return Position(
        penalty_minor=penalty,
        due_fee_minor=int(state.due_fee_minor),
        due_interest_minor=int(state.due_interest_minor),
        due_principal_minor=int(state.due_principal_minor),
        accrued_interest_minor=accrued,
        not_due_principal_minor=int(state.not_due_principal_minor),
    )


def position_view(p: Position) -> dict[str, str]:
    return {
        "penalty": format_amount(from_minor(p.penalty_minor)),
        "fees": format_amount(from_minor(p.due_fee_minor)),
        "interest": format_amount(from_minor(p.due_interest_minor)),
        "principal": format_amount(from_minor(p.due_principal_minor)),
        "accrued_interest": format_amount(from_minor(p.accrued_interest_minor)),
        "principal_not_due": format_amount(from_minor(p.not_due_principal_minor)),
        "due_now": format_amount(from_minor(p.due_minor)),
        "payoff": format_amount(from_minor(p.payoff_minor)),
    }


def accrue_to(conn: Connection, state: Any, on: date) -> Any:
    """Post what the end-of-day run would post for this loan on `on` (interest earned in the
    period, penalty for the overdue days not yet counted) and mark the loan accrued through `on`."""
    if state.status != LoanStatus.ACTIVE.value or (state.last_eod_date is not None and state.last_eod_date >= on):
        return state
    if state.next_due_date is not None and state.next_due_date < on:
        raise Conflict(
            f"the end-of-day run has not billed the installment due {state.next_due_date}; run it first", "paid_at"
        )
    values: dict[str, Any] = {"last_eod_date": on}
    transfers = []
    if state.next_due_date is not None:
        target = accrued_target(int(state.period_interest_minor), state.period_start, int(state.period_days), on)
        delta = target - int(state.accrued_in_period_minor)
        if delta > 0:
            transfers.append(accrual(f"accrue-{state.loan_id}-{on}", state.loan_id, _interest, delta, on))
            values["accrued_in_period_minor"] = target
    if state.overdue_since is not None and state.overdue_since < on:
        basis, target, delta = _penalty_through(state, on)
        values.update(penalty_basis_days=basis, penalty_posted_minor=target)
        if delta > 0:
            transfers.append(accrual(f"penalty-{state.loan_id}-{on}", state.loan_id, _penalty, delta, on))
            values["penalty_minor"] = int(state.penalty_minor) + delta
    post_in(conn, transfers)
    conn.execute(loan_servicing.update().where(loan_servicing.c.loan_id == state.loan_id).values(**values))
    state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == state.loan_id)).one()
    if state.next_due_date == on:
        state = _bill(conn, state, on)
    return state


def _bill(conn: Connection, state: Any, on: date) -> Any:
    """Bill the installment due today for this loan (what the end-of-day billing step does for
    every loan), so a payment on the due date pays that installment on time."""
    billing = []
    if int(state.accrued_in_period_minor) > 0:
        billing.append(
            interest_billing(f"bill-{state.loan_id}-{on}", state.loan_id, int(state.accrued_in_period_minor), on)
        )
    if int(state.period_fee_minor) > 0:
        billing.append(fee_charge(f"fee-{state.loan_id}-{on}", state.loan_id, int(state.period_fee_minor), on))
    post_in(conn, billing)
    conn.execute(
        installments.update()
        .where(
            and_(
                installments.c.loan_id == state.loan_id,
                installments.c.version == state.schedule_version,
                installments.c.seq == state.next_seq,
                installments.c.status == InstallmentStatus.SCHEDULED.value,
            )
        )
        .values(status=InstallmentStatus.DUE.value)
    )
    following = conn.execute(
        select(installments).where(
            and_(
                installments.c.loan_id == state.loan_id,
                installments.c.version == state.schedule_version,
                installments.c.seq == int(state.next_seq) + 1,
            )
        )
    ).first()
    billed = int(state.period_principal_minor) + int(state.accrued_in_period_minor) + int(state.period_fee_minor)
    values: dict[str, Any] = {
        "due_principal_minor": int(state.due_principal_minor) + int(state.period_principal_minor),
        "due_interest_minor": int(state.due_interest_minor) + int(state.accrued_in_period_minor),
        "due_fee_minor": int(state.due_fee_minor) + int(state.period_fee_minor),
        "not_due_principal_minor": int(state.not_due_principal_minor) - int(state.period_principal_minor),
        "overdue_since": state.overdue_since or (on if billed > 0 else None),
        "accrued_in_period_minor": 0,
        "next_seq": int(state.next_seq) + 1 if following is not None else None,
        "next_due_date": following.due_date if following is not None else None,
        "period_start": on,
        "period_days": int(following.period_days) if following is not None else 0,
        "period_interest_minor": int(following.interest_minor) if following is not None else 0,
        "period_fee_minor": int(following.fee_minor) if following is not None else 0,
        "period_principal_minor": int(following.principal_minor) if following is not None else 0,
    }
    conn.execute(loan_servicing.update().where(loan_servicing.c.loan_id == state.loan_id).values(**values))
    return conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == state.loan_id)).one()


_interest = TransferCode.INTEREST_ACCRUAL
_penalty = TransferCode.PENALTY_ACCRUAL


def payoff_quote(container: Container, loan_id: str, on: date | None, caller: Principal) -> dict[str, Any]:
    today = container.clock.business_date()
    day = on or today
    if day < today:
        raise DomainValidationError([FieldProblem("date", f"must be {today} or later")])

    def work(conn: Connection) -> dict[str, Any]:
        owned_row(conn, loans, loan_id, caller, "loan")
        state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).first()
        if state is None or state.status != LoanStatus.ACTIVE.value:
            raise Conflict(f"loan {loan_id} is not active; there is nothing to pay off", "loan_id")
        if state.next_due_date is not None and state.next_due_date < day:
            raise DomainValidationError(
                [FieldProblem("date", f"a quote can reach the next due date {state.next_due_date} at the latest")]
            )
        position = position_of(state, day)
        return {"loan_id": loan_id, "date": day.isoformat(), **position_view(position)}

    return dict(container.db.read(work))


# --- repayment ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepaymentCommand:
    loan_id: str
    amount_minor: int
    prepayment: PrepaymentChoice | None = None
    channel: str = Channel.API
    channel_reference: str | None = None


def repay(container: Container, cmd: RepaymentCommand, caller: Principal, key: str | None) -> StoredResponse:
    """Post a repayment once: replayed by Idempotency-Key (same caller) and by channel reference."""
    now = container.clock.now()
    today = container.clock.business_date()
    if caller.kind.value == "partner":
        raise NotFound(f"loan {cmd.loan_id} was not found")

    def work(conn: Connection) -> StoredResponse:
        loan = owned_row(conn, loans, cmd.loan_id, caller, "loan")

        def make() -> StoredResponse:
            reference = cmd.channel_reference or key or str(uuid.uuid4())
            earlier = conn.execute(
                select(repayments).where(
                    and_(repayments.c.channel == cmd.channel, repayments.c.channel_reference == reference)
                )
            ).first()
            if earlier is not None:
                if earlier.loan_id != cmd.loan_id or int(earlier.amount_minor) != cmd.amount_minor:
                    raise Conflict(f"channel reference {reference} was used for another payment", "channel_reference")
                return StoredResponse(201, _repayment_body(conn, earlier))
            return StoredResponse(201, _post_repayment(conn, loan, cmd, reference, today, now))

        request = {
            "loan_id": cmd.loan_id,
            "amount_minor": cmd.amount_minor,
            "prepayment": cmd.prepayment.value if cmd.prepayment else None,
            "channel_reference": cmd.channel_reference,
        }
        if key is None:
            return make()
        return idempotent(conn, key, caller.subject_id, request, now, make)

    return container.db.transaction(work)


def _post_repayment(
    conn: Connection, loan: Any, cmd: RepaymentCommand, reference: str, today: date, now: datetime
) -> dict[str, Any]:
    state = _locked_state(conn, loan.id)
    repayment_id = str(uuid.uuid4())
    if state.status == LoanStatus.WRITTEN_OFF.value:
        return _post_recovery(conn, state, cmd, repayment_id, reference, today, now)
    if state.status != LoanStatus.ACTIVE.value:
        raise Conflict(f"loan {loan.id} is {state.status}; nothing is owed on it", "amount")
    product = _product(conn, loan)
    state = accrue_to(conn, state, today)
    plan = plan_repayment(position_of(state, today), cmd.amount_minor, cmd.prepayment, product.allocation_order)
    split = Split(
        penalty=from_minor(plan.penalty_minor),
        fees=from_minor(plan.fee_minor),
        interest=from_minor(plan.interest_minor),
        principal=from_minor(plan.principal_minor),
        excess=from_minor(plan.excess_minor),
    )
    post_in(
        conn,
        [repayment(f"repay-{repayment_id}", loan.id, loan.borrower_id, split, today, plan.prepaid_interest_minor)],
    )
    _settle_installments(conn, state, plan, today)
    values: dict[str, Any] = {
        "penalty_minor": int(state.penalty_minor) - plan.penalty_minor,
        "due_fee_minor": int(state.due_fee_minor) - plan.fee_minor,
        "due_interest_minor": int(state.due_interest_minor) - (plan.interest_minor - plan.prepaid_interest_minor),
        "due_principal_minor": int(state.due_principal_minor) - (plan.principal_minor - plan.prepaid_principal_minor),
        "accrued_in_period_minor": int(state.accrued_in_period_minor) - plan.prepaid_interest_minor,
        "not_due_principal_minor": int(state.not_due_principal_minor) - plan.prepaid_principal_minor,
    }
    if plan.closes_loan:
        values.update(status=LoanStatus.CLOSED.value, closed_on=today, next_seq=None, next_due_date=None)
        _cancel_scheduled(conn, loan.id)
        conn.execute(loans.update().where(loans.c.id == loan.id).values(status=LoanStatus.CLOSED.value))
    elif plan.prepaid_principal_minor > 0 and cmd.prepayment is not None:
        kind = (
            ScheduleChangeKind.PREPAYMENT_SHORTER_TERM
            if cmd.prepayment is PrepaymentChoice.SHORTER_TERM
            else ScheduleChangeKind.PREPAYMENT_SMALLER_INSTALLMENTS
        )
        values.update(
            _new_version(
                conn,
                state,
                product,
                values["not_due_principal_minor"],
                cmd.prepayment,
                kind,
                f"prepaid {format_amount(from_minor(plan.prepaid_principal_minor))}",
                "borrower",
                today,
                now,
            )
        )
    conn.execute(loan_servicing.update().where(loan_servicing.c.loan_id == loan.id).values(**values))
    _refresh_overdue(conn, loan.id, today, state.overdue_since is not None and state.overdue_since < today)
    conn.execute(
        repayments.insert().values(
            id=repayment_id,
            loan_id=loan.id,
            channel=cmd.channel,
            channel_reference=reference,
            kind=_kind(plan, cmd.prepayment),
            paid_on=today,
            amount_minor=cmd.amount_minor,
            penalty_minor=plan.penalty_minor,
            fee_minor=plan.fee_minor,
            interest_minor=plan.interest_minor,
            principal_minor=plan.principal_minor,
            excess_minor=plan.excess_minor,
            created_at=now,
        )
    )
    row = conn.execute(select(repayments).where(repayments.c.id == repayment_id)).one()
    return _repayment_body(conn, row)


def _kind(plan: RepaymentPlan, prepayment: PrepaymentChoice | None) -> str:
    if plan.closes_loan:
        return "payoff"
    if plan.prepaid_principal_minor > 0 and prepayment is not None:
        return f"prepayment_{prepayment.value}"
    return "repayment"


def _repayment_body(conn: Connection, row: Any) -> dict[str, Any]:
    state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == row.loan_id)).one()
    return {
        "id": row.id,
        "loan_id": row.loan_id,
        "kind": row.kind,
        "paid_on": row.paid_on.isoformat() if isinstance(row.paid_on, date) else str(row.paid_on),
        "amount": format_amount(from_minor(int(row.amount_minor))),
        "channel": row.channel,
        "channel_reference": row.channel_reference,
        "allocation": {
            "penalty": format_amount(from_minor(int(row.penalty_minor))),
            "fees": format_amount(from_minor(int(row.fee_minor))),
            "interest": format_amount(from_minor(int(row.interest_minor))),
            "principal": format_amount(from_minor(int(row.principal_minor))),
            "credit": format_amount(from_minor(int(row.excess_minor))),
        },
        "loan_status": state.status,
        "schedule_version": state.schedule_version,
        "outstanding": position_view(position_of(state, state.last_eod_date or row.paid_on)),
    }


def _settle_installments(conn: Connection, state: Any, plan: RepaymentPlan, today: date) -> None:
    """Spread what was paid of billed fees, interest and principal over the billed installments,
    oldest first (a prepayment's share belongs to no billed installment)."""
    budgets = {
        "fee": plan.fee_minor,
        "interest": plan.interest_minor - plan.prepaid_interest_minor,
        "principal": plan.principal_minor - plan.prepaid_principal_minor,
    }
    if not any(budgets.values()):
        return
    rows = conn.execute(
        select(installments)
        .where(and_(installments.c.loan_id == state.loan_id, installments.c.status == InstallmentStatus.DUE.value))
        .order_by(installments.c.due_date, installments.c.version, installments.c.seq)
    ).all()
    for r in rows:
        changes: dict[str, Any] = {}
        for part in ("fee", "interest", "principal"):
            owed = int(getattr(r, f"{part}_minor")) - int(getattr(r, f"paid_{part}_minor"))
            take = min(owed, budgets[part])
            if take:
                budgets[part] -= take
                changes[f"paid_{part}_minor"] = int(getattr(r, f"paid_{part}_minor")) + take
        if not changes:
            continue
        remaining = sum(
            int(getattr(r, f"{p}_minor")) - int(changes.get(f"paid_{p}_minor", getattr(r, f"paid_{p}_minor")))
            for p in ("fee", "interest", "principal")
        )
        if remaining == 0:
            changes.update(status=InstallmentStatus.PAID.value, paid_on=today)
        conn.execute(
            installments.update()
            .where(
                and_(
                    installments.c.loan_id == r.loan_id,
                    installments.c.version == r.version,
                    installments.c.seq == r.seq,
                )
            )
            .values(**changes)
        )


def _refresh_overdue(conn: Connection, loan_id: str, today: date, was_overdue: bool = False) -> None:
    """The oldest unpaid billed installment after a payment; a payment that pays off what was
    overdue brings the loan current today (`current_since`: the start of its observation for an
    upgrade of its class, domain/accrual.cure_upgrade)."""
    oldest = conn.execute(
        select(installments.c.due_date)
        .where(and_(installments.c.loan_id == loan_id, installments.c.status == InstallmentStatus.DUE.value))
        .order_by(installments.c.due_date)
        .limit(1)
    ).scalar()
    dpd = days_past_due(oldest, today)
    # the stage follows the days past due at once (rule 10): the end of day only revisits loans
    # still overdue, so a payment that clears the arrears sets it here
    values: dict[str, Any] = {"overdue_since": oldest, "dpd": dpd, "stage": int(stage_for(dpd))}
    if oldest is None and was_overdue:
        values["current_since"] = today
    conn.execute(loan_servicing.update().where(loan_servicing.c.loan_id == loan_id).values(**values))


def _cancel_scheduled(conn: Connection, loan_id: str) -> None:
    conn.execute(
        installments.update()
        .where(and_(installments.c.loan_id == loan_id, installments.c.status == InstallmentStatus.SCHEDULED.value))
        .values(status=InstallmentStatus.CANCELLED.value)
    )


def _new_version(
    conn: Connection,
    state: Any,
    product: LoanProduct,
    principal_minor: int,
    choice: PrepaymentChoice | ScheduleChangeKind,
    kind: ScheduleChangeKind,
    reason: str,
    actor: str,
    today: date,
    now: datetime,
    periods: int | None = None,
) -> dict[str, Any]:
    """Replace the unbilled installments by a new schedule version starting today."""
    unbilled = conn.execute(
        select(installments).where(
            and_(
                installments.c.loan_id == state.loan_id,
                installments.c.version == state.schedule_version,
                installments.c.status == InstallmentStatus.SCHEDULED.value,
            )
        )
    ).all()
    remaining = periods or max(len(unbilled), 1)
    fee_per_period = int(unbilled[0].fee_minor) if unbilled else int(state.period_fee_minor)
    current_payment = (
        int(unbilled[0].principal_minor) + int(unbilled[0].interest_minor) if unbilled else principal_minor
    )
    loan = conn.execute(select(loans).where(loans.c.id == state.loan_id)).one()
    rate = Decimal(loan.rate_annual)
    base = terms_for(product, from_minor(principal_minor), remaining, rate, today)
    schedule: Schedule = reschedule(
        base.method, principal_minor, rate, remaining, today, fee_per_period, choice, current_payment, base
    )
    version = int(state.schedule_version) + 1
    _cancel_scheduled(conn, state.loan_id)
    plan = plan_installments(schedule)
    _insert_installments(conn, state.loan_id, version, plan)
    conn.execute(
        schedule_changes.insert().values(
            loan_id=state.loan_id,
            version=version,
            kind=kind.value,
            reason=reason,
            actor=actor,
            effective_on=today,
            created_at=now,
        )
    )
    return {"schedule_version": version, **_period_values(plan[0], today)}


def _post_recovery(
    conn: Connection,
    state: Any,
    cmd: RepaymentCommand,
    repayment_id: str,
    reference: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """Money received on a written-off loan reduces the write-off loss; beyond it, borrower credit."""
    recoverable = int(state.written_off_minor) - int(state.recovered_minor)
    recovered = min(cmd.amount_minor, recoverable)
    excess = cmd.amount_minor - recovered
    post_in(conn, [recovery(f"recover-{repayment_id}", state.loan_id, state.borrower_id, recovered, excess, today)])
    conn.execute(
        loan_servicing.update()
        .where(loan_servicing.c.loan_id == state.loan_id)
        .values(recovered_minor=int(state.recovered_minor) + recovered)
    )
    conn.execute(
        repayments.insert().values(
            id=repayment_id,
            loan_id=state.loan_id,
            channel=cmd.channel,
            channel_reference=reference,
            kind="recovery",
            paid_on=today,
            amount_minor=cmd.amount_minor,
            principal_minor=recovered,
            excess_minor=excess,
            created_at=now,
        )
    )
    row = conn.execute(select(repayments).where(repayments.c.id == repayment_id)).one()
    return _repayment_body(conn, row)


# --- restructuring and write-off ---------------------------------------------------------------


def restructure(container: Container, loan_id: str, term_months: int, reason: str, caller: Principal) -> dict[str, Any]:
    """Term extension: unpaid principal (due and not yet due) on a new schedule version from
    today over `term_months`; billed interest, fees and penalty stay owed; the class is at least
    关注 (special mention) afterwards."""
    if not caller.has_any(RESTRUCTURE_ROLES):
        raise Forbidden("only a credit officer, risk or admin user can restructure a loan")
    if not reason.strip():
        raise DomainValidationError([FieldProblem("reason", "a restructuring needs a recorded reason")])
    if not 1 <= term_months <= 120:
        raise DomainValidationError([FieldProblem("term_months", "must be between 1 and 120")])
    now = container.clock.now()
    today = container.clock.business_date()

    def work(conn: Connection) -> dict[str, Any]:
        loan = owned_row(conn, loans, loan_id, caller, "loan")
        state = _locked_state(conn, loan_id)
        if state.status != LoanStatus.ACTIVE.value:
            raise Conflict(f"loan {loan_id} is {state.status}; only an active loan can be restructured", "loan_id")
        state = accrue_to(conn, state, today)
        product = _product(conn, loan)
        interim_interest = int(state.accrued_in_period_minor)
        rolled = _roll_due_principal(conn, loan_id)
        principal = int(state.not_due_principal_minor) + rolled
        if principal <= 0:
            raise Conflict(f"loan {loan_id} has no principal left to reschedule", "loan_id")
        values = _new_version(
            conn,
            state,
            product,
            principal,
            ScheduleChangeKind.RESTRUCTURE_EXTENSION,
            ScheduleChangeKind.RESTRUCTURE_EXTENSION,
            reason.strip(),
            caller.subject_id,
            today,
            now,
            periods=term_months,
        )
        if interim_interest:
            post_in(conn, [interest_billing(f"bill-{loan_id}-{today}-r", loan_id, interim_interest, today)])
            conn.execute(
                installments.insert().values(
                    loan_id=loan_id,
                    version=values["schedule_version"],
                    seq=0,
                    due_date=today,
                    period_days=0,
                    interest_minor=interim_interest,
                    status=InstallmentStatus.DUE.value,
                )
            )
        values.update(
            due_principal_minor=int(state.due_principal_minor) - rolled,
            due_interest_minor=int(state.due_interest_minor) + interim_interest,
            not_due_principal_minor=principal,
            risk_class=max(int(state.risk_class), int(RiskClass.SPECIAL_MENTION)),
        )
        conn.execute(loan_servicing.update().where(loan_servicing.c.loan_id == loan_id).values(**values))
        _refresh_overdue(conn, loan_id, today)
        return loan_view(conn, loan_id)

    return dict(container.db.transaction(work))


def _roll_due_principal(conn: Connection, loan_id: str) -> int:
    """Move the unpaid principal of billed installments into the new schedule."""
    rolled = 0
    rows = conn.execute(
        select(installments).where(
            and_(installments.c.loan_id == loan_id, installments.c.status == InstallmentStatus.DUE.value)
        )
    ).all()
    for r in rows:
        unpaid = int(r.principal_minor) - int(r.paid_principal_minor)
        if unpaid <= 0:
            continue
        rolled += unpaid
        rest = int(r.fee_minor) - int(r.paid_fee_minor) + int(r.interest_minor) - int(r.paid_interest_minor)
        conn.execute(
            installments.update()
            .where(
                and_(
                    installments.c.loan_id == loan_id, installments.c.version == r.version, installments.c.seq == r.seq
                )
            )
            .values(
                principal_minor=int(r.paid_principal_minor),
                status=InstallmentStatus.DUE.value if rest else InstallmentStatus.RESTRUCTURED.value,
            )
        )
    return rolled


def write_off(container: Container, loan_id: str, reason: str, caller: Principal) -> dict[str, Any]:
    """核销: take everything the loan still carries off the books; the loan's provision absorbs
    what it can. Money received afterwards is a recovery."""
    if not caller.has_any(WRITE_OFF_ROLES):
        raise Forbidden("only finance or admin users can write a loan off")
    if not reason.strip():
        raise DomainValidationError([FieldProblem("reason", "a write-off needs a recorded reason")])
    today = container.clock.business_date()

    def work(conn: Connection) -> dict[str, Any]:
        owned_row(conn, loans, loan_id, caller, "loan")
        state = _locked_state(conn, loan_id)
        if state.status != LoanStatus.ACTIVE.value:
            raise Conflict(f"loan {loan_id} is {state.status}; only an active loan can be written off", "loan_id")
        principal = int(state.due_principal_minor) + int(state.not_due_principal_minor)
        billed_interest = int(state.due_interest_minor)
        accrued = int(state.accrued_in_period_minor)
        interest = billed_interest + accrued
        fees = int(state.due_fee_minor)
        penalty = int(state.penalty_minor)
        used = min(int(state.provision_minor), principal)
        transfer = write_off_loan(
            f"writeoff-{loan_id}", loan_id, principal, billed_interest, fees, penalty, used, today, accrued
        )
        post_in(conn, [transfer])
        conn.execute(
            loan_servicing.update()
            .where(loan_servicing.c.loan_id == loan_id)
            .values(
                status=LoanStatus.WRITTEN_OFF.value,
                closed_on=today,
                written_off_minor=principal + interest + fees + penalty,
                provision_minor=int(state.provision_minor) - used,
                due_principal_minor=0,
                not_due_principal_minor=0,
                due_interest_minor=0,
                accrued_in_period_minor=0,
                due_fee_minor=0,
                penalty_minor=0,
                next_seq=None,
                next_due_date=None,
            )
        )
        _cancel_scheduled(conn, loan_id)
        conn.execute(loans.update().where(loans.c.id == loan_id).values(status=LoanStatus.WRITTEN_OFF.value))
        conn.execute(
            schedule_changes.insert().values(
                loan_id=loan_id,
                version=int(state.schedule_version) + 1000,
                kind="write_off",
                reason=reason.strip(),
                actor=caller.subject_id,
                effective_on=today,
                created_at=container.clock.now(),
            )
        )
        return loan_view(conn, loan_id)

    return dict(container.db.transaction(work))


# --- views -------------------------------------------------------------------------------------


def loan_view(conn: Connection, loan_id: str) -> dict[str, Any]:
    loan = conn.execute(select(loans).where(loans.c.id == loan_id)).one()
    state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).first()
    view: dict[str, Any] = {
        "id": loan.id,
        "borrower_id": loan.borrower_id,
        "status": loan.status,
        "product_code": loan.product_code,
        "principal": format_amount(from_minor(int(loan.principal_minor))),
        "annual_rate": loan.rate_annual,
        "term_months": loan.term_months,
    }
    if state is None:
        return view
    on = state.last_eod_date or state.opened_on
    view.update(
        opened_on=state.opened_on.isoformat(),
        closed_on=state.closed_on.isoformat() if state.closed_on else None,
        schedule_version=state.schedule_version,
        next_due_date=state.next_due_date.isoformat() if state.next_due_date else None,
        days_past_due=state.dpd,
        max_days_past_due=state.max_dpd,
        risk_class=RiskClass(int(state.risk_class)).name.lower(),
        risk_class_zh=RiskClass(int(state.risk_class)).label_zh,
        ifrs9_stage=int(state.stage),
        provision=format_amount(from_minor(int(state.provision_minor))),
        written_off=format_amount(from_minor(int(state.written_off_minor))),
        recovered=format_amount(from_minor(int(state.recovered_minor))),
        outstanding=position_view(position_of(state, on)),
    )
    return view


def schedule_view(conn: Connection, loan_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(installments)
        .where(installments.c.loan_id == loan_id)
        .order_by(installments.c.version, installments.c.seq)
    ).all()
    return [
        {
            "version": r.version,
            "n": r.seq,
            "due_date": r.due_date.isoformat(),
            "principal": format_amount(from_minor(int(r.principal_minor))),
            "interest": format_amount(from_minor(int(r.interest_minor))),
            "fee": format_amount(from_minor(int(r.fee_minor))),
            "payment": format_amount(from_minor(int(r.principal_minor) + int(r.interest_minor) + int(r.fee_minor))),
            "paid": format_amount(
                from_minor(int(r.paid_principal_minor) + int(r.paid_interest_minor) + int(r.paid_fee_minor))
            ),
            "status": r.status,
            "paid_on": r.paid_on.isoformat() if r.paid_on else None,
        }
        for r in rows
    ]


def repayments_view(conn: Connection, loan_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(repayments).where(repayments.c.loan_id == loan_id).order_by(repayments.c.created_at)
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "paid_on": r.paid_on.isoformat(),
            "amount": format_amount(from_minor(int(r.amount_minor))),
            "channel": r.channel,
            "channel_reference": r.channel_reference,
            "allocation": {
                "penalty": format_amount(from_minor(int(r.penalty_minor))),
                "fees": format_amount(from_minor(int(r.fee_minor))),
                "interest": format_amount(from_minor(int(r.interest_minor))),
                "principal": format_amount(from_minor(int(r.principal_minor))),
                "credit": format_amount(from_minor(int(r.excess_minor))),
            },
        }
        for r in rows
    ]


def list_loans(container: Container, caller: Principal, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    if caller.kind is SubjectKind.PARTNER:
        raise Forbidden("partners see loans through their own co-lending reports")

    def work(conn: Connection) -> dict[str, Any]:
        query = select(loans.c.id).order_by(loans.c.created_at.desc(), loans.c.id)
        if caller.kind is SubjectKind.PHONE:
            query = query.join(borrowers, borrowers.c.id == loans.c.borrower_id).where(
                borrowers.c.phone_hash == caller.subject_id
            )
        if status:
            query = query.where(loans.c.status == status)
        ids = [r.id for r in conn.execute(query.limit(limit).offset(offset))]
        return {"loans": [loan_view(conn, i) for i in ids], "limit": limit, "offset": offset}

    return dict(container.db.read(work))
