"""Servicing over the API: my loans, schedule, payoff quote, repayment with Idempotency-Key,
end of day by operations, the trial balance for finance; and who may do what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from puhui.adapters.db.database import Database
from puhui.bootstrap import Container
from puhui.clock import FixedClock
from puhui.domain.enums import BorrowerKind
from puhui.services import seeding
from tests.helpers import api_lender, borrower_token, phone, resident_id, staff_token


@pytest.fixture
def setup(db: Database) -> Iterator[tuple[TestClient, Container, FixedClock]]:
    with api_lender(db, datetime(2026, 3, 10, 2, tzinfo=UTC)) as lender:
        yield lender


def _loan(container: Container, n: int) -> str:
    who = seeding.onboard(container, BorrowerKind.INDIVIDUAL, f"借款人{n}", resident_id(n), phone(n))
    return seeding.book_active_loan(container, who, "PH-FLAT", Decimal("12000.00"), 12)


def test_borrower_sees_own_loans_schedule_and_pays_once(setup: tuple[TestClient, Container, FixedClock]) -> None:
    client, container, clock = setup
    mine, theirs = _loan(container, 1), _loan(container, 2)
    me = borrower_token(client, phone(1))
    listed = client.get("/v1/loans", headers=me).json()["loans"]
    assert [loan["id"] for loan in listed] == [mine]
    assert client.get(f"/v1/loans/{theirs}", headers=me).status_code == 404
    assert client.get(f"/v1/loans/{theirs}/payoff", headers=me).status_code == 404
    schedule = client.get(f"/v1/loans/{mine}/schedule", headers=me).json()["installments"]
    assert len(schedule) == 12 and schedule[0]["due_date"] == "2026-04-10" and schedule[0]["status"] == "scheduled"

    ops = staff_token(client, "ops")
    for n in range(31):  # close 2026-03-10 .. 2026-04-09
        day = datetime(2026, 3, 10, tzinfo=UTC).date() + timedelta(days=n)
        clock.set_date(day)
        assert client.post("/v1/eod", json={"business_date": day.isoformat()}, headers=ops).status_code == 200
    clock.set_date(datetime(2026, 4, 10, tzinfo=UTC).date())
    quote = client.get(f"/v1/loans/{mine}/payoff", headers=me).json()
    assert quote["due_now"] == schedule[0]["payment"]  # the installment falls due today
    key = {"Idempotency-Key": "pay-april", **me}
    paid = client.post(f"/v1/loans/{mine}/repayments", json={"amount": quote["due_now"]}, headers=key)
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert Decimal(body["allocation"]["interest"]) + Decimal(body["allocation"]["principal"]) == Decimal(
        quote["due_now"]
    )
    again = client.post(f"/v1/loans/{mine}/repayments", json={"amount": quote["due_now"]}, headers=key)
    assert again.status_code == 201 and again.json() == body
    other = client.post(f"/v1/loans/{mine}/repayments", json={"amount": "1.00"}, headers=key)
    assert other.status_code == 409
    history = client.get(f"/v1/loans/{mine}/transactions", headers=me).json()["repayments"]
    assert len(history) == 1
    loan = client.get(f"/v1/loans/{mine}", headers=me).json()
    assert loan["days_past_due"] == 0 and loan["outstanding"]["due_now"] == "0.00"
    assert loan["next_due_date"] == "2026-05-10"

    finance = staff_token(client, "finance")
    tb = client.get("/v1/ledger/trial-balance", headers=finance).json()
    assert tb["balanced"] and tb["debits"] == tb["credits"]
    assert client.get("/v1/ledger/trial-balance", headers=me).status_code == 403


def test_only_operations_close_the_day_and_not_in_the_future(setup: tuple[TestClient, Container, FixedClock]) -> None:
    client, _container, clock = setup
    today = clock.business_date().isoformat()
    me = borrower_token(client, phone(3))
    assert client.post("/v1/eod", json={"business_date": today}, headers=me).status_code == 403
    officer = staff_token(client, "officer")
    assert client.post("/v1/eod", json={"business_date": today}, headers=officer).status_code == 403
    ops = staff_token(client, "ops")
    future = client.post("/v1/eod", json={"business_date": "2030-01-01"}, headers=ops)
    assert future.status_code == 422 and future.json()["error"]["fields"][0]["path"] == "business_date"
    first = client.post("/v1/eod", json={"business_date": today}, headers=ops).json()
    assert first["already_done"] is False and len(first["days"]) == 1
    second = client.post("/v1/eod", json={"business_date": today}, headers=ops).json()
    assert second["already_done"] is True and second["days"] == []
    runs = client.get("/v1/eod", headers=ops).json()["runs"]
    assert runs[0]["business_date"] == today and runs[0]["status"] == "done"
