"""Manual review of `review` decisions, maker–checker.

An officer or risk user (the maker) may change an application's terms within the product and the
caps; another one (the checker) approves, which creates the offer exactly as an instant approval
does. Whoever last proposed the terms cannot approve them. Every action is a row with its actor
and time. Borrowers and partners do not see the queue at all (not found).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.tables import application_reviews, applications, borrowers, offers
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.caps import ExposureRequest, check_borrower_limits
from puhui.domain.enums import BorrowerKind
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.pricing import Quote, check_request, make_quote
from puhui.money import ZERO, format_rate, from_minor, round_rate, to_minor
from puhui.risk.decision import Decision
from puhui.risk.policy import Outcome, Reason
from puhui.services import decisions
from puhui.services.borrowers import Conflict, Forbidden, NotFound
from puhui.services.origination import make_offer, offer_view

REVIEWER_ROLES = (Role.OFFICER, Role.RISK)  # and admin (Principal.has_any)
APPROVED_ON_REVIEW = Reason("MANUAL_REVIEW_APPROVED", "人工审核通过", "approved on manual review")
DECLINED_ON_REVIEW = Reason("MANUAL_REVIEW_DECLINED", "人工审核未通过", "declined on manual review")


class ReviewAction(StrEnum):
    PROPOSE_TERMS = "propose_terms"
    APPROVE = "approve"
    DECLINE = "decline"


class NotInReview(Conflict):
    code = "not_in_review"


class MakerCheckerConflict(Conflict):
    code = "maker_checker"


@dataclass(frozen=True, slots=True)
class ProposedTerms:
    amount: Decimal
    term_months: int
    rate_annual: Decimal
    note: str = ""


@dataclass(frozen=True, slots=True)
class ActionView:
    seq: int
    action: ReviewAction
    actor: str
    actor_role: str
    amount: Decimal | None
    term_months: int | None
    rate_annual: str | None
    apr_percent: Decimal | None
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewView:
    application_id: str
    borrower_id: str
    borrower_name: str
    borrower_kind: str
    product_code: str
    amount: Decimal
    term_months: int
    purpose: str
    status: str
    decision: dict[str, Any]
    proposed: ActionView | None  # the terms in force: the last proposal, if any
    actions: list[ActionView]
    offer: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    items: list[ReviewView]
    total: int
    limit: int
    offset: int


def require_reviewer(caller: Principal) -> Principal:
    """Officers, risk users and admins; other staff are refused, everyone else finds nothing."""
    if caller.kind is not SubjectKind.STAFF:
        raise NotFound("the review queue was not found")
    if not caller.has_any(REVIEWER_ROLES):
        raise Forbidden("reviewing applications needs one of the roles: officer, risk, admin")
    return caller


# --- reading --------------------------------------------------------------------------------


def list_queue(container: Container, caller: Principal, limit: int = 50, offset: int = 0) -> ReviewQueue:
    """Applications awaiting review, oldest first."""
    require_reviewer(caller)
    waiting = applications.c.status == Outcome.REVIEW.value

    def work(conn: Connection) -> ReviewQueue:
        total = conn.execute(select(func.count()).select_from(applications).where(waiting)).scalar_one()
        rows = list(
            conn.execute(
                _joined()
                .where(waiting)
                .order_by(applications.c.created_at, applications.c.id)
                .limit(limit)
                .offset(offset)
            )
        )
        actions = _actions(conn, [r.id for r in rows])
        items = [_view(r, actions.get(r.id, []), None) for r in rows]
        return ReviewQueue(items, int(total), limit, offset)

    return container.db.read(work)


def get_review(container: Container, application_id: str, caller: Principal) -> ReviewView:
    """One application with its review history (any status: a reviewed one stays readable)."""
    require_reviewer(caller)
    return container.db.read(lambda conn: _load(conn, application_id))


def _joined() -> Any:
    return select(applications, borrowers.c.name.label("borrower_name"), borrowers.c.kind.label("borrower_kind")).join(
        borrowers, borrowers.c.id == applications.c.borrower_id
    )


def _actions(conn: Connection, application_ids: Sequence[str]) -> dict[str, list[ActionView]]:
    if not application_ids:
        return {}
    rows = conn.execute(
        select(application_reviews)
        .where(application_reviews.c.application_id.in_(application_ids))
        .order_by(application_reviews.c.application_id, application_reviews.c.seq)
    )
    out: dict[str, list[ActionView]] = {}
    for r in rows:
        out.setdefault(r.application_id, []).append(_action_view(r))
    return out


def _action_view(r: Any) -> ActionView:
    return ActionView(
        seq=r.seq,
        action=ReviewAction(r.action),
        actor=r.actor,
        actor_role=r.actor_role,
        amount=from_minor(int(r.amount_minor)) if r.amount_minor is not None else None,
        term_months=r.term_months,
        rate_annual=r.rate_annual,
        apr_percent=Decimal(r.apr_percent) if r.apr_percent is not None else None,
        note=r.note,
        created_at=r.created_at,
    )


def _view(row: Any, actions: list[ActionView], offer: dict[str, Any] | None) -> ReviewView:
    proposals = [a for a in actions if a.action is ReviewAction.PROPOSE_TERMS]
    return ReviewView(
        application_id=row.id,
        borrower_id=row.borrower_id,
        borrower_name=row.borrower_name,
        borrower_kind=row.borrower_kind,
        product_code=row.product_code,
        amount=from_minor(int(row.amount_minor)),
        term_months=row.term_months,
        purpose=row.purpose,
        status=row.status,
        decision=json.loads(row.decision_json),
        proposed=proposals[-1] if proposals else None,
        actions=actions,
        offer=offer,
        created_at=row.created_at,
    )


def _load(conn: Connection, application_id: str) -> ReviewView:
    row = conn.execute(_joined().where(applications.c.id == application_id)).first()
    if row is None:
        raise NotFound(f"application {application_id} was not found")
    offer = conn.execute(select(offers).where(offers.c.application_id == application_id)).first()
    actions = _actions(conn, [application_id]).get(application_id, [])
    return _view(row, actions, offer_view(offer._mapping) if offer else None)


# --- acting ---------------------------------------------------------------------------------


def propose_terms(container: Container, application_id: str, terms: ProposedTerms, caller: Principal) -> ReviewView:
    """The maker: new terms, priced and checked now (product range, legal limits, rate caps)."""
    require_reviewer(caller)
    now, today = container.clock.now(), container.clock.business_date()

    def work(conn: Connection) -> ReviewView:
        app = _application_in_review(conn, application_id)
        quote = _priced(conn, app, terms.amount, terms.term_months, terms.rate_annual, today)
        _record(conn, app.id, caller, ReviewAction.PROPOSE_TERMS, terms.note, now, quote)
        return _load(conn, app.id)

    return container.db.transaction(work)


def approve(container: Container, application_id: str, note: str, caller: Principal) -> ReviewView:
    """The checker: an offer on the terms in force, exactly as an instant approval makes one."""
    require_reviewer(caller)
    now, today = container.clock.now(), container.clock.business_date()

    def work(conn: Connection) -> ReviewView:
        app = _application_in_review(conn, application_id)
        proposal = _last_proposal(conn, app.id)
        if proposal is not None and proposal.actor == caller.subject_id:
            raise MakerCheckerConflict(
                "maker–checker: you proposed the terms of this application, so another officer or risk "
                "user has to approve them"
            )
        decision_was = json.loads(app.decision_json)
        if proposal is None:
            amount, term_months = from_minor(int(app.amount_minor)), int(app.term_months)
            rate = Decimal(decision_was["annual_rate"])
        else:
            assert proposal.amount is not None and proposal.term_months is not None and proposal.rate_annual
            amount, term_months, rate = proposal.amount, proposal.term_months, Decimal(proposal.rate_annual)
        quote = _priced(conn, app, amount, term_months, rate, today)
        reasons = (*_reasons(decision_was), APPROVED_ON_REVIEW)
        decision = Decision(Outcome.APPROVED, amount, amount, quote.rate_annual, quote.apr_percent, reasons, quote)
        make_offer(conn, container, app.id, decision, now)
        _conclude(conn, app.id, decision, decision_was)
        _record(conn, app.id, caller, ReviewAction.APPROVE, note, now, None)
        return _load(conn, app.id)

    return container.db.transaction(work)


def decline(container: Container, application_id: str, reason: str, caller: Principal) -> ReviewView:
    """Decline on review; the reviewer's reason stays in the review record, the borrower sees
    that the application was declined on manual review."""
    require_reviewer(caller)
    now = container.clock.now()

    def work(conn: Connection) -> ReviewView:
        app = _application_in_review(conn, application_id)
        decision_was = json.loads(app.decision_json)
        reasons = (*_reasons(decision_was), DECLINED_ON_REVIEW)
        _conclude(conn, app.id, Decision(Outcome.DECLINED, ZERO, ZERO, None, None, reasons, None), decision_was)
        _record(conn, app.id, caller, ReviewAction.DECLINE, reason, now, None)
        return _load(conn, app.id)

    return container.db.transaction(work)


def _application_in_review(conn: Connection, application_id: str) -> Any:
    # the row lock serialises reviewers: two approvals, or a proposal racing an approval
    row = conn.execute(select(applications).where(applications.c.id == application_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"application {application_id} was not found")
    if row.status != Outcome.REVIEW.value:
        raise NotInReview(f"application {application_id} is not awaiting review (status: {row.status})")
    return row


def _last_proposal(conn: Connection, application_id: str) -> ActionView | None:
    row = conn.execute(
        select(application_reviews)
        .where(
            application_reviews.c.application_id == application_id,
            application_reviews.c.action == ReviewAction.PROPOSE_TERMS.value,
        )
        .order_by(application_reviews.c.seq.desc())
        .limit(1)
    ).first()
    return _action_view(row) if row else None


def _priced(conn: Connection, app: Any, amount: Decimal, term_months: int, rate: Decimal, on: date) -> Quote:
    product = product_repository.get(conn, app.product_code)
    if product is None:
        raise Conflict(f"product {app.product_code} is no longer offered")
    if rate != round_rate(rate):
        raise DomainValidationError([FieldProblem("annual_rate", "at most four decimals, e.g. 0.1200")])
    check_request(product, amount, term_months, rate)
    kind = conn.execute(select(borrowers.c.kind).where(borrowers.c.id == app.borrower_id)).scalar_one()
    breaches = check_borrower_limits(
        ExposureRequest(
            lender_type=product.lender_type,
            purpose=product.purpose,
            borrower_kind=BorrowerKind(kind),
            amount=amount,
            term_months=term_months,
            repayment_method=product.repayment_method,
        )
    )
    if breaches:
        raise DomainValidationError([FieldProblem(b.field, b.message) for b in breaches])
    return make_quote(product, amount, term_months, rate, on)  # RateCapExceeded over a cap


def _reasons(decision: dict[str, Any]) -> tuple[Reason, ...]:
    return tuple(Reason(r["code"], r["text"], r["text_en"]) for r in decision["reasons"])


# what a reviewer's conclusion replaces in the instant decision's record (the model's PD, score and
# factors, the versions and the decision's id stay as the instant decision had them)
REVIEWER_DECIDES = ("outcome", "approved_amount", "credit_limit", "annual_rate", "apr", "reasons")


def _conclude(conn: Connection, application_id: str, decision: Decision, was: dict[str, Any]) -> None:
    """The reviewer's outcome, terms and reasons over the instant decision's record, which keeps
    what the model and the policy said (PD, score, factors, versions, the decision's id)."""
    concluded = decisions.result_record(decision)
    record = {**was, **{key: concluded[key] for key in REVIEWER_DECIDES}}
    conn.execute(
        applications.update()
        .where(applications.c.id == application_id)
        .values(status=decision.outcome.value, decision_json=json.dumps(record, ensure_ascii=False))
    )


def _record(
    conn: Connection,
    application_id: str,
    caller: Principal,
    action: ReviewAction,
    note: str,
    now: datetime,
    quote: Quote | None,
) -> None:
    last = conn.execute(
        select(func.coalesce(func.max(application_reviews.c.seq), 0)).where(
            application_reviews.c.application_id == application_id
        )
    ).scalar_one()
    conn.execute(
        application_reviews.insert().values(
            id=str(uuid.uuid4()),
            application_id=application_id,
            seq=int(last) + 1,
            actor=caller.subject_id,
            actor_role=caller.role.value,
            action=action.value,
            amount_minor=to_minor(quote.amount) if quote else None,
            term_months=quote.term_months if quote else None,
            rate_annual=format_rate(quote.rate_annual) if quote else None,
            apr_percent=str(quote.apr_percent) if quote else None,
            note=note,
            created_at=now,
        )
    )
