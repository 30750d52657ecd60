"""Interception and alerts through the API: a payout to a flagged account or to another borrower's
account is stopped (nothing posted, an alert raised, a retry told the same), a bank repayment from
an unknown account raises one alert however often it is replayed, and staff work the queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from puhui.adapters.bank.signing import SIGNATURE_HEADER, sign
from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import disbursements, ledger_transfers
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.enums import BorrowerKind
from puhui.services import seeding
from tests.helpers import bank_card, borrower_token, phone, resident_id, staff_token

SECRET = "fraud-test-secret"


@dataclass
class Setup:
    client: TestClient
    container: Container
    db: Database


@pytest.fixture
def setup(db: Database) -> Iterator[Setup]:
    clock = FixedClock(datetime(2026, 6, 1, 2, tzinfo=UTC))
    settings = load_settings(database_url=db.url, env="demo", bank_secret=SECRET, bank_url="http://127.0.0.1:9")
    container = Container(settings, db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    with TestClient(create_app(container)) as client:
        yield Setup(client, container, db)


def _signed_loan(s: Setup, n: int) -> tuple[dict[str, str], str, str]:
    who = seeding.onboard(s.container, BorrowerKind.INDIVIDUAL, f"用户{n}", resident_id(n), phone(n))
    loan_id = seeding.originate(s.container, who, "PH-FLAT", Decimal("8000.00"), 12, "furniture")
    assert loan_id is not None
    return borrower_token(s.client, phone(n)), loan_id, who.borrower_id


def _count(db: Database, table: object) -> int:
    return int(db.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one()))  # type: ignore[arg-type]


def _payout(s: Setup, headers: dict[str, str], loan_id: str, card: str, key: str):  # type: ignore[no-untyped-def]
    return s.client.post(
        f"/v1/loans/{loan_id}/disbursements",
        headers={"Idempotency-Key": key, **headers},
        json={"account_number": card},
    )


def test_a_payout_to_a_flagged_account_is_intercepted(setup: Setup) -> None:
    s = setup
    risk = staff_token(s.client, "risk")
    card = bank_card(11)
    flagged = s.client.post("/v1/risk/flagged-accounts", headers=risk, json={"account_number": card, "reason": "冒用"})
    assert flagged.status_code == 201 and card not in flagged.text  # shown masked
    again = s.client.post("/v1/risk/flagged-accounts", headers=risk, json={"account_number": card, "reason": "x"})
    assert again.status_code == 409

    me, loan_id, _ = _signed_loan(s, 1)
    transfers_before = _count(s.db, ledger_transfers)
    stopped = _payout(s, me, loan_id, card, "p-1")
    assert stopped.status_code == 409, stopped.text
    error = stopped.json()["error"]
    assert error["code"] == "payout_intercepted" and error["fields"][0]["path"] == "account_number"
    assert card not in stopped.text
    assert _payout(s, me, loan_id, card, "p-1").json() == stopped.json()  # a retry is told the same
    assert _count(s.db, disbursements) == 0 and _count(s.db, ledger_transfers) == transfers_before

    queue = s.client.get("/v1/risk/alerts?status=open", headers=risk).json()["alerts"]
    assert [a["kind"] for a in queue] == ["payout_intercepted"]
    assert s.client.get(f"/v1/loans/{loan_id}", headers=me).json()["status"] == "pending_disbursement"


def test_a_payout_to_another_borrowers_account_is_intercepted(setup: Setup) -> None:
    s = setup
    first = seeding.onboard(s.container, BorrowerKind.INDIVIDUAL, "甲", resident_id(2), phone(2))
    seeding.book_active_loan(s.container, first, "PH-FLAT", Decimal("8000.00"), 12)
    me, loan_id, _ = _signed_loan(s, 3)
    stopped = _payout(s, me, loan_id, seeding.demo_card(first.borrower_id), "p-2")
    assert stopped.status_code == 409
    assert "other borrower" in stopped.json()["error"]["message"]


def test_an_unknown_payer_raises_one_alert_and_staff_resolve_it(setup: Setup) -> None:
    s = setup
    who = seeding.onboard(s.container, BorrowerKind.INDIVIDUAL, "乙", resident_id(4), phone(4))
    loan_id = seeding.book_active_loan(s.container, who, "PH-FLAT", Decimal("8000.00"), 12)
    event = {"type": "incoming", "reference": "IN-1", "amount": "50.00", "loan_ref": loan_id, "payer_last4": "4321"}
    body = json.dumps(event).encode()
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "content-type": "application/json"}
    for _ in range(3):  # the bank retries its callback
        answer = s.client.post("/v1/callbacks/bank", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["result"] == "posted", answer.text

    risk = staff_token(s.client, "risk")
    queue = s.client.get("/v1/risk/alerts", headers=risk).json()["alerts"]
    assert [a["kind"] for a in queue] == ["third_party_payer"]
    assert queue[0]["details"]["payer_last4"] == "4321" and queue[0]["borrower_id"] == who.borrower_id

    borrower = borrower_token(s.client, phone(4))
    assert s.client.get("/v1/risk/alerts", headers=borrower).status_code == 403
    officer = staff_token(s.client, "officer")
    assert (
        s.client.post(
            f"/v1/risk/alerts/{queue[0]['id']}/resolve", headers=officer, json={"resolution": "x"}
        ).status_code
        == 403
    )
    done = s.client.post(
        f"/v1/risk/alerts/{queue[0]['id']}/resolve", headers=risk, json={"resolution": "配偶代还，已核实"}
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert (
        s.client.post(
            f"/v1/risk/alerts/{queue[0]['id']}/resolve", headers=risk, json={"resolution": "again"}
        ).status_code
        == 409
    )
    assert s.client.get("/v1/risk/alerts?status=open", headers=risk).json()["alerts"] == []
