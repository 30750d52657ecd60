"""One small lender with something of every kind, for the reliability tests: staff users, two
borrowers (A and B) each with an active loan, an unsigned contract, an open application, consents,
a stored decision and an open alert; and the API tokens of everyone.

Built through the real use cases (the same ones the demo seeding uses), on a real database."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import consents, contracts, loans, risk_alerts, risk_decisions
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.enums import BorrowerKind
from puhui.services import contracts as contract_service
from puhui.services import origination, seeding
from tests.helpers import borrower_token, phone, resident_id, staff_token

STAFF = ("officer", "risk", "ops", "finance", "admin")
START = datetime(2026, 11, 22, 2, tzinfo=UTC)


@dataclass
class Holdings:
    """What one borrower owns: the ids a path parameter can name."""

    borrower_id: str
    loan_id: str
    contract_id: str  # the signed contract of the loan
    application_id: str  # the application of the loan
    open_application_id: str  # approved, offer not accepted yet
    open_contract_id: str  # accepted, not signed
    consent_id: str
    decision_id: str
    alert_id: str

    def by_param(self) -> dict[str, str]:
        return {
            "borrower_id": self.borrower_id,
            "loan_id": self.loan_id,
            "contract_id": self.contract_id,
            "application_id": self.application_id,
            "consent_id": self.consent_id,
            "decision_id": self.decision_id,
            "alert_id": self.alert_id,
        }


@dataclass
class World:
    container: Container
    clock: FixedClock
    app: FastAPI
    client: TestClient
    a: Holdings
    b: Holdings
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # "a", "b", and each staff role


def _holdings(container: Container, n: int) -> Holdings:
    who = seeding.onboard(container, BorrowerKind.INDIVIDUAL, f"借款人{n}", resident_id(n), phone(n))
    loan_id = seeding.book_active_loan(container, who, "PH-FLAT", Decimal("12000.00"), 12)
    second = origination.apply(
        container,
        origination.NewApplication(who.borrower_id, "PH-FLAT", Decimal("8000.00"), 12, "stock"),
        who.principal,
    )
    third = origination.apply(
        container,
        origination.NewApplication(who.borrower_id, "PH-FLAT", Decimal("6000.00"), 6, "stock"),
        who.principal,
    )
    assert second.offer is not None and third.offer is not None, "the world's borrowers must be approved"
    accepted = contract_service.accept(container, third.id, who.principal)

    def read(conn: Connection) -> tuple[str, str, str, str]:
        loan = conn.execute(select(loans).where(loans.c.id == loan_id)).one()
        contract = conn.execute(select(contracts).where(contracts.c.id == loan.contract_id)).one()
        consent = conn.execute(select(consents.c.id).where(consents.c.borrower_id == who.borrower_id)).first()
        decision = conn.execute(
            select(risk_decisions.c.id).where(risk_decisions.c.borrower_id == who.borrower_id)
        ).first()
        return contract.id, contract.application_id, consent.id, decision.id

    contract_id, application_id, consent_id, decision_id = container.db.read(read)
    alert_id = str(uuid.uuid4())

    def alert(conn: Connection) -> None:
        conn.execute(
            risk_alerts.insert().values(
                id=alert_id,
                kind="velocity",
                severity="warn",
                borrower_id=who.borrower_id,
                subject=f"world-{n}",
                details_json=json.dumps({"text_en": "test alert"}),
                status="open",
                created_at=container.clock.now(),
            )
        )

    container.db.transaction(alert)
    return Holdings(
        who.borrower_id,
        loan_id,
        contract_id,
        application_id,
        second.id,
        accepted.id,
        consent_id,
        decision_id,
        alert_id,
    )


def build_world(db: Database) -> World:
    clock = FixedClock(START)
    settings = load_settings(database_url=db.url, env="demo", token_ttl_minutes=60 * 24 * 30)
    container = Container(settings, db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    a, b = _holdings(container, 101), _holdings(container, 202)
    app = create_app(container)
    client = TestClient(app)
    tokens = {"a": borrower_token(client, phone(101)), "b": borrower_token(client, phone(202))}
    for role in STAFF:
        tokens[role] = staff_token(client, role)
    return World(container, clock, app, client, a, b, tokens)
