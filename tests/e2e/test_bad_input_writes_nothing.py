"""Bad input of every kind, across the lifecycle: a 4xx naming the field and the reason, and not one
row written anywhere (every table of the schema is counted before and after each request)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import metadata
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.enums import BorrowerKind
from puhui.domain.servicing import PrepaymentChoice
from puhui.money import to_minor
from puhui.services import seeding, servicing
from puhui.services.eod import run_eod
from tests.helpers import borrower_token, phone, resident_id, staff_token

START = datetime(2026, 5, 4, 2, tzinfo=UTC)
FINANCE = Principal(SubjectKind.STAFF, "fin-1", Role.FINANCE)


@dataclass
class World:
    client: TestClient
    db: Database
    me: dict[str, str]
    ops: dict[str, str]
    borrower_id: str
    active_loan: str
    closed_loan: str
    expired_application: str


def _counts(db: Database) -> dict[str, int]:
    return db.read(
        lambda c: {
            t.name: int(c.execute(select(func.count()).select_from(t)).scalar_one()) for t in metadata.sorted_tables
        }
    )


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    clock = FixedClock(START)
    container = Container(load_settings(database_url=db.url, env="demo"), db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    who = seeding.onboard(container, BorrowerKind.INDIVIDUAL, "孙七", resident_id(61), phone(61))
    active = seeding.book_active_loan(container, who, "PH-FLAT", Decimal("12000.00"), 12)
    closed = seeding.book_active_loan(container, who, "PH-AGRI", Decimal("5000.00"), 6)
    with TestClient(create_app(container)) as client:
        me = borrower_token(client, phone(61))
        # an application approved now, whose offer has lapsed by the time it is accepted
        applied = client.post(
            "/v1/applications",
            headers=me,
            json={
                "borrower_id": who.borrower_id,
                "product_code": "PH-FLAT",
                "amount": "3000.00",
                "term_months": 6,
                "purpose": "phone",
            },
        )
        assert applied.status_code == 201, applied.text
        run_eod(container, clock.business_date())
        clock.set_date(START.date() + timedelta(days=1))
        quote = servicing.payoff_quote(container, closed, None, FINANCE)
        command = servicing.RepaymentCommand(closed, to_minor(Decimal(quote["payoff"])), PrepaymentChoice.PAYOFF)
        assert servicing.repay(container, command, FINANCE, "close-it").body["loan_status"] == "closed"
        clock.advance(timedelta(days=4))  # past the 72 h offer
        me = borrower_token(client, phone(61))  # signed in again: tokens last an hour
        yield World(client, db, me, staff_token(client, "ops"), who.borrower_id, active, closed, applied.json()["id"])


def _application(w: World, **change: object) -> Callable[[], httpx.Response]:
    body = {"borrower_id": w.borrower_id, "product_code": "PH-FLAT", "amount": "10000.00", "term_months": 12}
    return lambda: w.client.post("/v1/applications", headers=w.me, json={**body, "purpose": "x", **change})


def _registration(w: World, **change: object) -> Callable[[], httpx.Response]:
    body = {"kind": "individual", "name": "周八", "id_number": resident_id(62), "phone": phone(62), "region": "330106"}
    other = borrower_token(w.client, phone(62))
    return lambda: w.client.post("/v1/borrowers", headers=other, json={**body, **change})


def _repay(w: World, loan: str, body: dict[str, object], key: str | None = "k-1") -> Callable[[], httpx.Response]:
    headers = {**w.me, **({"Idempotency-Key": key} if key else {})}
    return lambda: w.client.post(f"/v1/loans/{loan}/repayments", headers=headers, json=body)


def _restructure(w: World, body: dict[str, object]) -> Callable[[], httpx.Response]:
    officer = staff_token(w.client, "officer")
    return lambda: w.client.post(f"/v1/loans/{w.active_loan}/restructure", headers=officer, json=body)


CASES: dict[str, tuple[Callable[[World], Callable[[], httpx.Response]], int, str]] = {
    "unknown product": (lambda w: _application(w, product_code="PH-NOPE"), 422, "product_code"),
    "amount above the product": (lambda w: _application(w, amount="50000.01"), 422, "amount"),
    "amount below the product": (lambda w: _application(w, amount="999.99"), 422, "amount"),
    "amount with a third decimal": (lambda w: _application(w, amount="1000.001"), 422, "amount"),
    "term not offered": (lambda w: _application(w, term_months=9), 422, "term_months"),
    "someone else's borrower id": (lambda w: _application(w, borrower_id="no-such-borrower"), 404, ""),
    "bad ID checksum": (lambda w: _registration(w, id_number=resident_id(62)[:-1] + "0"), 422, "id_number"),
    "bad mobile number": (lambda w: _registration(w, phone="1391234567"), 422, "phone"),
    "missing consent": (lambda w: _application(w), 409, "credit_assessment"),
    "expired offer": (
        lambda w: lambda: w.client.post(f"/v1/applications/{w.expired_application}/accept", headers=w.me),
        409,
        "expired",
    ),
    "repayment on a closed loan": (lambda w: _repay(w, w.closed_loan, {"amount": "100.00"}), 409, "amount"),
    "repayment of nothing": (lambda w: _repay(w, w.active_loan, {"amount": "0.00"}), 422, "amount"),
    "negative repayment": (lambda w: _repay(w, w.active_loan, {"amount": "-5.00"}), 422, "amount"),
    "unknown prepayment choice": (
        lambda w: _repay(w, w.active_loan, {"amount": "100.00", "prepayment": "sooner"}),
        422,
        "prepayment",
    ),
    "back-dated repayment": (
        lambda w: _repay(w, w.active_loan, {"amount": "100.00", "paid_at": "2026-01-01"}),
        422,
        "paid_at",
    ),
    "repayment without an Idempotency-Key": (
        lambda w: _repay(w, w.active_loan, {"amount": "100.00"}, key=None),
        400,
        "Idempotency-Key",
    ),
    "payout to a card failing Luhn": (
        lambda w: (
            lambda: w.client.post(
                f"/v1/loans/{w.active_loan}/disbursements",
                headers={"Idempotency-Key": "p-1", **w.me},
                json={"account_number": "6222020000000000001"},
            )
        ),
        422,
        "account_number",
    ),
    "end of day in the future": (
        lambda w: lambda: w.client.post("/v1/eod", headers=w.ops, json={"business_date": str(date(2030, 1, 1))}),
        422,
        "business_date",
    ),
    "restructure without a reason": (lambda w: _restructure(w, {"term_months": 18, "reason": ""}), 422, "reason"),
    "restructure to zero months": (
        lambda w: _restructure(w, {"term_months": 0, "reason": "hardship"}),
        422,
        "term_months",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(world: World, case: str) -> None:
    make, status, named = CASES[case]
    if case == "missing consent":
        consents = world.client.get(f"/v1/borrowers/{world.borrower_id}/consents", headers=world.me).json()
        for c in consents:
            world.client.delete(f"/v1/borrowers/{world.borrower_id}/consents/{c['id']}", headers=world.me)
    send = make(world)  # sign-ins a case needs happen here, before the count
    before = _counts(world.db)
    response = send()
    assert response.status_code == status, response.text
    error = response.json()["error"]
    shown = [f["path"] for f in error.get("fields", [])] + [error["message"]]
    assert any(named in text for text in shown), error
    assert "Traceback" not in response.text
    assert _counts(world.db) == before, "a refused request wrote rows"
