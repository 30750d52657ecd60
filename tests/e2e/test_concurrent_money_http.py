"""Duplicates arriving at once, on PostgreSQL over real HTTP (`puhui serve` as its own process):
50 identical repayment requests with one Idempotency-Key, 50 identical signed incoming-payment
callbacks and 50 identical signed payout callbacks each give exactly one posting; every duplicate
gets the first answer (never a 5xx); the same key with another body is 409 and posts nothing, and
a bank reference reused for another amount is reported unapplied and posts nothing. The bursts
repeat for PUHUI_CONCURRENCY_ROUNDS rounds (2 here; `make reliability` runs 100).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from puhui.adapters.bank.signing import SIGNATURE_HEADER, sign
from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import ledger_transfers, repayments
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from tests.e2e.processes import CARD, SECRET, ProcessStack

DUPLICATES = 50
# rounds of the three duplicate bursts: 2 in `make test`, 100 in `make reliability` (RELIABILITY.md #5)
ROUNDS = int(os.environ.get("PUHUI_CONCURRENCY_ROUNDS", "2"))
REPAY, INCOMING = Decimal("5.00"), Decimal("3.00")  # small, so 100 rounds stay inside one loan


@pytest.fixture
def stack(pg_db: Database, tmp_path: Path) -> Iterator[ProcessStack]:
    # no callbacks from the simulator: this test delivers the bank's callbacks itself, 50 at a time
    s = ProcessStack(pg_db, tmp_path, latency_ms=5, callbacks=False)
    seed_demo_staff(s.container)
    seed_demo_capital(s.container)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _all_at_once(send: Any, n: int = DUPLICATES) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: send(), range(n)))


def _count(db: Database, statement: Any) -> int:
    return int(db.read(lambda c: c.execute(statement).scalar_one()))


def _callback(stack: ProcessStack, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "content-type": "application/json"}
    return httpx.post(f"{stack.base}/v1/callbacks/bank", content=body, headers=headers, timeout=60)


def _transfers(db: Database, prefix: str) -> int:
    return _count(db, select(func.count()).select_from(ledger_transfers).where(ledger_transfers.c.id.like(prefix)))


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("concurrent_money")
def test_fifty_identical_requests_and_callbacks_post_once_each(stack: ProcessStack) -> None:
    db = stack.db
    h, loan_id = stack.signed_loan(7)

    # the payout: the bank's "succeeded" callback arrives 50 times at once
    sent = httpx.post(
        f"{stack.base}/v1/loans/{loan_id}/disbursements",
        headers={"Idempotency-Key": "payout-1", **h},
        json={"account_number": CARD},
        timeout=60,
    )
    assert sent.status_code == 202, sent.text
    payout_id = sent.json()["disbursement_id"]
    settled = _all_at_once(lambda: _callback(stack, {"type": "payout", "payout_id": payout_id, "status": "succeeded"}))
    assert Counter(r.status_code for r in settled) == {200: DUPLICATES}, [
        r.text for r in settled if r.status_code != 200
    ]
    assert _transfers(db, f"%{payout_id}%") == 2  # the pending transfer and its one settlement
    loan = httpx.get(f"{stack.base}/v1/loans/{loan_id}", headers=h, timeout=30).json()
    assert loan["status"] == "active"

    for round_no in range(ROUNDS):
        _one_round(stack, h, loan_id, payout_id, round_no)
    paid = httpx.get(f"{stack.base}/v1/loans/{loan_id}/transactions", headers=h, timeout=30).json()["repayments"]
    assert sorted(Decimal(r["amount"]) for r in paid) == sorted([REPAY, INCOMING] * ROUNDS)
    assert _transfers(db, "repay-%") == 2 * ROUNDS
    assert _transfers(db, f"%{payout_id}%") == 2
    assert get_trial_balance(db).balanced
    assert unreconciled_accounts(db) == {}


def _one_round(stack: ProcessStack, h: dict[str, str], loan_id: str, payout_id: str, round_no: int) -> None:
    """The payout's callback again, a repayment and an incoming payment, each 50 times at once:
    each posts exactly once (the payout not again), every duplicate gets the first answer."""
    db = stack.db
    posted_before = _count(db, select(func.count()).select_from(repayments))
    settled = _all_at_once(lambda: _callback(stack, {"type": "payout", "payout_id": payout_id, "status": "succeeded"}))
    assert Counter(r.status_code for r in settled) == {200: DUPLICATES}, [
        r.text for r in settled if r.status_code != 200
    ]
    assert _transfers(db, f"%{payout_id}%") == 2  # the pending transfer and its one settlement

    # 50 identical repayments with one Idempotency-Key
    key = {"Idempotency-Key": f"pay-once-{round_no}", **h}
    pay = {"amount": format(REPAY, "f")}
    answers = _all_at_once(
        lambda: httpx.post(f"{stack.base}/v1/loans/{loan_id}/repayments", headers=key, json=pay, timeout=60)
    )
    assert Counter(r.status_code for r in answers) == {201: DUPLICATES}, [
        r.text for r in answers if r.status_code >= 300
    ]
    assert len({r.json()["id"] for r in answers}) == 1  # every duplicate got the first answer
    assert _count(db, select(func.count()).select_from(repayments)) == posted_before + 1
    if round_no == 0:
        other = httpx.post(
            f"{stack.base}/v1/loans/{loan_id}/repayments", headers=key, json={"amount": "600.00"}, timeout=60
        )
        assert other.status_code == 409, other.text
        assert _count(db, select(func.count()).select_from(repayments)) == posted_before + 1

    # 50 identical incoming-payment callbacks for one bank reference
    reference = f"BANK-REF-{round_no}"
    incoming = {"type": "incoming", "reference": reference, "amount": format(INCOMING, "f"), "loan_ref": loan_id}
    replies = _all_at_once(lambda: _callback(stack, incoming))
    assert Counter(r.status_code for r in replies) == {200: DUPLICATES}, [
        r.text for r in replies if r.status_code != 200
    ]
    assert {r.json()["result"] for r in replies} == {"posted"}
    assert len({r.json()["repayment_id"] for r in replies}) == 1
    assert _count(db, select(func.count()).select_from(repayments)) == posted_before + 2
    if round_no == 0:
        # the bank reusing a reference for another amount is acknowledged (so it stops retrying)
        # as unapplied, for operations to look at, and posts nothing
        reused = _callback(stack, {**incoming, "amount": "301.00"})
        assert reused.status_code == 200 and reused.json()["result"] == "unapplied", reused.text
        assert reference in reused.json()["reason"]
        assert _count(db, select(func.count()).select_from(repayments)) == posted_before + 2
