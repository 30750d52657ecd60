"""Origination: application -> decision -> offer valid for a set time.

(Accepting an offer, the e-contract and signing follow in the lifecycle issue's next steps.)
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.tables import applications, offers
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope, Principal
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.pricing import check_request
from puhui.money import format_amount, format_rate, from_minor, to_minor
from puhui.risk.decision import Decision
from puhui.risk.policy import Outcome
from puhui.services import decisions, fraud
from puhui.services.borrowers import owned_borrower, owned_row, require_consent


@dataclass(frozen=True, slots=True)
class NewApplication:
    borrower_id: str
    product_code: str
    amount: Decimal
    term_months: int
    purpose: str
    device_id: str | None = None  # reported by the app; the fraud checks count and link devices
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class ApplicationView:
    id: str
    borrower_id: str
    product_code: str
    amount: Decimal
    term_months: int
    purpose: str
    status: str
    decision: dict[str, Any]
    offer: dict[str, Any] | None
    created_at: datetime


def _schedule_record(d: Decision) -> list[dict[str, str | int]]:
    assert d.quote is not None
    return [
        {
            "n": i.n,
            "due_date": i.due_date.isoformat(),
            "principal": format_amount(i.principal),
            "interest": format_amount(i.interest),
            "fee": format_amount(i.fee),
            "payment": format_amount(i.payment),
            "balance": format_amount(i.balance),
        }
        for i in d.quote.schedule.installments
    ]


def apply(container: Container, cmd: NewApplication, caller: Principal) -> ApplicationView:
    """Decide at once; an approval comes with an offer valid for `offer_ttl_hours`."""
    now = container.clock.now()
    application_id = str(uuid.uuid4())

    def work(conn: Connection) -> ApplicationView:
        borrower = owned_borrower(conn, cmd.borrower_id, caller)
        product = product_repository.get(conn, cmd.product_code)
        if product is None:
            raise DomainValidationError([FieldProblem("product_code", f"product {cmd.product_code} does not exist")])
        check_request(product, cmd.amount, cmd.term_months, product.rate_annual_min)
        require_consent(conn, cmd.borrower_id, ConsentScope.CREDIT_ASSESSMENT)
        signals = fraud.Signals(borrower.phone_hash, cmd.device_id, fraud.network_of(container, cmd.client_ip))
        assessed = decisions.assess_in(
            conn, container, borrower, product.code, cmd.amount, cmd.term_months, signals, application_id
        )
        decision = assessed.decision
        record = {**decisions.result_record(decision), "decision_id": assessed.decision_id}
        conn.execute(
            applications.insert().values(
                id=application_id,
                borrower_id=cmd.borrower_id,
                product_code=product.code,
                amount_minor=to_minor(cmd.amount),
                term_months=cmd.term_months,
                purpose=cmd.purpose,
                status=decision.outcome.value,
                decision_json=json.dumps(record, ensure_ascii=False),
                created_at=now,
            )
        )
        offer = None
        if decision.outcome is Outcome.APPROVED:
            offer = make_offer(conn, container, application_id, decision, now)
        return ApplicationView(
            application_id,
            cmd.borrower_id,
            product.code,
            cmd.amount,
            cmd.term_months,
            cmd.purpose,
            decision.outcome.value,
            record,
            offer,
            now,
        )

    return container.db.transaction(work)


def make_offer(
    conn: Connection, container: Container, application_id: str, d: Decision, now: datetime
) -> dict[str, Any]:
    assert d.quote is not None and d.rate_annual is not None and d.apr_percent is not None
    offer = {
        "id": str(uuid.uuid4()),
        "application_id": application_id,
        "amount_minor": to_minor(d.approved_amount),
        "term_months": d.quote.term_months,
        "rate_annual": format_rate(d.rate_annual),
        "apr_percent": str(d.apr_percent),
        "upfront_fee_minor": to_minor(d.quote.upfront_fee),
        "schedule_json": json.dumps(_schedule_record(d)),
        "valid_until": now + timedelta(hours=container.settings.offer_ttl_hours),
        "status": "open",
        "created_at": now,
    }
    conn.execute(offers.insert().values(**offer))
    return offer_view(offer)


def offer_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "amount": format_amount(from_minor(int(row["amount_minor"]))),
        "term_months": row["term_months"],
        "annual_rate": row["rate_annual"],
        "apr": format_rate(Decimal(row["apr_percent"]) / 100),
        "upfront_fee": format_amount(from_minor(int(row["upfront_fee_minor"]))),
        "valid_until": row["valid_until"],
        "status": row["status"],
        "schedule": json.loads(row["schedule_json"]),
    }


def get_application(container: Container, application_id: str, caller: Principal) -> ApplicationView:
    def work(conn: Connection) -> ApplicationView:
        row = owned_row(conn, applications, application_id, caller, "application")
        offer_row = conn.execute(select(offers).where(offers.c.application_id == application_id)).first()
        return ApplicationView(
            row.id,
            row.borrower_id,
            row.product_code,
            from_minor(int(row.amount_minor)),
            row.term_months,
            row.purpose,
            row.status,
            json.loads(row.decision_json),
            offer_view(offer_row._mapping) if offer_row else None,
            row.created_at,
        )

    return container.db.read(work)
