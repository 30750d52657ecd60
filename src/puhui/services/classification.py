"""A credit officer's upgrade of a non-performing loan's five-category class (rule 9: an upgrade
needs a recorded reason; domain/accrual.npl_upgrade_problems: the 2023 measures' conditions).

The nightly run never upgrades 次级/可疑/损失: that takes the lender's judgement that the debtor
will keep paying. Here the officer records that assessment; the loan's class changes at once and
the change is kept in `risk_class_changes` (who, when, from, to, the assessment, the day the loan
was brought current), which the loan's history shows. The provision follows the new class at the
next end of day, and the end of day never moves the loan back down while it stays current.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from puhui.adapters.db.tables import installments, loan_servicing, loans, risk_class_changes, schedule_changes
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role
from puhui.domain.accrual import NplUpgradeFacts, RiskClass, npl_upgrade_problems
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.servicing import InstallmentStatus, LoanStatus, ScheduleChangeKind
from puhui.services.borrowers import Conflict, Forbidden, NotFound, owned_row
from puhui.services.servicing import loan_view

UPGRADE_ROLES = (Role.OFFICER, Role.RISK, Role.ADMIN)  # the credit staff who make the assessment
MIN_ASSESSMENT_CHARS = 10


def upgrade_class(
    container: Container, loan_id: str, to_class: RiskClass, assessment: str, caller: Principal
) -> dict[str, Any]:
    """Move a non-performing loan to `to_class` (关注 or 正常) on the officer's recorded assessment;
    403 for other roles, 409 with every unmet condition when the measures do not allow it yet."""
    if not caller.has_any(UPGRADE_ROLES):
        raise Forbidden("only credit officers, risk or admin users can upgrade a loan's class")
    text = assessment.strip()
    if len(text) < MIN_ASSESSMENT_CHARS:
        raise DomainValidationError(
            [FieldProblem("assessment", f"record the assessment in at least {MIN_ASSESSMENT_CHARS} characters")]
        )
    today = container.clock.business_date()

    def work(conn: Connection) -> dict[str, Any]:
        loan = owned_row(conn, loans, loan_id, caller, "loan")
        state = conn.execute(
            select(loan_servicing).where(loan_servicing.c.loan_id == loan_id).with_for_update()
        ).first()
        if state is None or state.status != LoanStatus.ACTIVE.value:
            status = state.status if state is not None else loan.status
            raise Conflict(f"loan {loan_id} is {status}; only an active loan's class is upgraded", "loan_id")
        # a loan still non-performing had no change of class today (the end of day only upgrades
        # 关注, an officer's upgrade leaves 次级 and worse), so today's row is free; the row lock
        # orders two officers, and the second is told the loan is no longer non-performing
        problems = npl_upgrade_problems(_facts(conn, loan, state, today), to_class)
        if problems:
            raise Conflict("the loan cannot be upgraded yet: " + "; ".join(problems), "to_class")
        conn.execute(
            risk_class_changes.insert().values(
                loan_id=loan_id,
                business_date=today,
                from_class=int(state.risk_class),
                to_class=int(to_class),
                reason=text,
                current_since=state.current_since,
                actor=caller.subject_id,
                created_at=container.clock.now(),
            )
        )
        conn.execute(
            loan_servicing.update().where(loan_servicing.c.loan_id == loan_id).values(risk_class=int(to_class))
        )
        return loan_view(conn, loan_id)

    return dict(container.db.transaction(work))


def upgrade_facts(container: Container, loan_id: str) -> NplUpgradeFacts | None:
    """What an upgrade of the loan would be checked against today (the console shows each
    condition before the officer asks); None for a loan that is not active."""
    today = container.clock.business_date()

    def work(conn: Connection) -> NplUpgradeFacts | None:
        loan = conn.execute(select(loans).where(loans.c.id == loan_id)).first()
        if loan is None:
            raise NotFound(f"loan {loan_id} was not found")
        state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).first()
        if state is None or state.status != LoanStatus.ACTIVE.value:
            return None
        return _facts(conn, loan, state, today)

    return container.db.read(work)


def _facts(conn: Connection, loan: Any, state: Any, today: date) -> NplUpgradeFacts:
    since = state.current_since
    paid_since = 0
    if since is not None:
        paid_since = conn.execute(
            select(func.count()).where(
                installments.c.loan_id == loan.id,
                installments.c.status == InstallmentStatus.PAID.value,
                installments.c.due_date > since,
                installments.c.due_date <= today,
            )
        ).scalar_one()
    restructured_on = conn.execute(
        select(func.max(schedule_changes.c.effective_on)).where(
            schedule_changes.c.loan_id == loan.id,
            schedule_changes.c.kind == ScheduleChangeKind.RESTRUCTURE_EXTENSION.value,
        )
    ).scalar()
    other_npl = conn.execute(
        select(func.count())
        .select_from(loan_servicing.join(loans, loans.c.id == loan_servicing.c.loan_id))
        .where(
            and_(
                loans.c.borrower_id == loan.borrower_id,
                loans.c.id != loan.id,
                loan_servicing.c.status == LoanStatus.ACTIVE.value,
                loan_servicing.c.risk_class >= int(RiskClass.SUBSTANDARD),
            )
        )
    ).scalar_one()
    return NplUpgradeFacts(
        current=RiskClass(int(state.risk_class)),
        dpd=int(state.dpd),
        current_since=since,
        installments_paid_since=int(paid_since),
        restructured_on=restructured_on,
        other_npl_loans=int(other_npl),
        on=today,
    )
