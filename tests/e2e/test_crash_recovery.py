"""Crash recovery: `puhui serve` is SIGKILLed at random (seeded) moments while loans are paid out
over HTTP (200 loans and 12 kills in `make test`; `make reliability` runs 1,000 and 100, set by
PUHUI_CRASH_LOANS and PUHUI_CRASH_KILLS); after a restart and `puhui reconcile` nothing is lost
and nothing is paid twice.

Clients retry every request with the same Idempotency-Key after a connection error, as a real
client would. Kills land anywhere: inside the disbursement transaction, between its commit and
the payout call, during a payout call or during a bank callback. The bank simulator (its own
process and book) keeps running and retries its callbacks.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import disbursements, idempotency_keys, ledger_transfers, loans, outbox
from puhui.money import to_minor
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from tests.e2e.processes import CARD, NET_PER_LOAN, OPENING_BALANCE_MINOR, ProcessStack, clone_signed_loans

LOANS = int(os.environ.get("PUHUI_CRASH_LOANS", "200"))
KILLS = int(os.environ.get("PUHUI_CRASH_KILLS", "12"))
CLIENTS = 4
SEED = 20261122
DEADLINE_S = 150 * max(1, LOANS // 200) + 20 * KILLS  # a hang guard: a restart takes 2-17 s on a busy machine


def _open_outbox(db: Database) -> int:
    return int(
        db.read(
            lambda c: c.execute(select(func.count()).select_from(outbox).where(outbox.c.status != "done"))
        ).scalar_one()
    )


@pytest.mark.slow
@pytest.mark.xdist_group("crash_recovery")
def test_sigkill_during_disbursements_loses_nothing_and_pays_nothing_twice(db: Database, tmp_path: Path) -> None:
    stack = ProcessStack(db, tmp_path, latency_ms=10)
    try:
        t0 = time.monotonic()
        stack.start()
        print("start", time.monotonic() - t0)
        h, first = stack.signed_loan()
        loan_ids = [first, *clone_signed_loans(db, first, LOANS - 1)]
        print("seeded", time.monotonic() - t0)
        answered = _run_under_kills(stack, h, loan_ids)
        print("run", time.monotonic() - t0)
        _reconcile_until_done(stack)
        print("reconciled", time.monotonic() - t0)
        _assert_paid_exactly_once(stack, answered)
    finally:
        stack.stop()


def _run_under_kills(stack: ProcessStack, h: dict[str, str], loan_ids: list[str]) -> dict[str, str]:
    """Every loan's disbursement id as its client was finally told it."""
    rng = random.Random(SEED)
    # one kill point in each of KILLS equal slices of the run, so the kills spread over it
    span = len(loan_ids) // KILLS
    kill_points = [i * span + rng.randrange(span) for i in range(KILLS)]
    delays = [rng.uniform(0.0, 0.08) for _ in range(KILLS)]  # after the request that reached the point

    lock = threading.Lock()
    queue = list(reversed(loan_ids))
    sent = 0
    answers: dict[str, httpx.Response] = {}
    transport_errors = 0
    server_errors: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()
    deadline = time.monotonic() + DEADLINE_S

    def client() -> None:
        nonlocal sent, transport_errors
        try:
            with httpx.Client(base_url=stack.base, timeout=15) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        loan_id = queue.pop()
                        sent += 1
                    headers = {**h, "Idempotency-Key": f"crash-{loan_id}"}
                    while True:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"loan {loan_id} got no answer before the deadline")
                        try:
                            r = c.post(
                                f"/v1/loans/{loan_id}/disbursements", headers=headers, json={"account_number": CARD}
                            )
                        except httpx.TransportError:
                            with lock:
                                transport_errors += 1
                            time.sleep(0.05)  # the server is down or restarting: same request, same key
                            continue
                        if r.status_code >= 500:
                            server_errors.append(f"{r.status_code} {r.text[:200]}")
                            time.sleep(0.05)
                            continue
                        answers[loan_id] = r
                        break
        except BaseException as exc:
            failures.append(exc)

    kills = 0

    def killer() -> None:
        nonlocal kills
        try:
            for point, delay in zip(kill_points, delays, strict=True):
                while sent < point and not done.is_set():
                    time.sleep(0.002)
                time.sleep(delay)
                stack.server.kill()
                kills += 1
                k0 = time.monotonic()
                stack.server.start()
                print("restart", sent, time.monotonic() - k0)
        except BaseException as exc:
            failures.append(exc)

    clients = [threading.Thread(target=client, name=f"client-{i}") for i in range(CLIENTS)]
    killing = threading.Thread(target=killer, name="killer")
    killing.start()
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    done.set()
    killing.join()

    assert failures == [], failures
    assert kills == KILLS and stack.server.starts == KILLS + 1
    assert transport_errors > 0, "no request was ever cut off: the kills missed the run"
    assert server_errors == [], server_errors[:5]
    assert len(answers) == len(loan_ids)
    assert Counter(r.status_code for r in answers.values()) == {202: len(loan_ids)}
    return {loan_id: r.json()["disbursement_id"] for loan_id, r in answers.items()}


def _reconcile_until_done(stack: ProcessStack) -> None:
    """`puhui reconcile` (the CLI, as operations would run it) until the outbox has drained."""
    deadline = time.monotonic() + 60 + LOANS // 10
    runs = 0
    while _open_outbox(stack.db):
        assert time.monotonic() < deadline, f"outbox still open after {runs} reconcile runs"
        done = stack.cli("reconcile")
        runs += 1
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(0.2)


def _assert_paid_exactly_once(stack: ProcessStack, answered: dict[str, str]) -> None:
    db = stack.db
    loan_ids = list(answered)
    rows = db.read(lambda c: c.execute(select(disbursements)).all())
    by_loan: dict[str, list[str]] = {}
    for d in rows:
        if d.status != "failed":
            by_loan.setdefault(d.loan_id, []).append(d.id)
    # exactly one live disbursement per loan, the one each client was told about, and it settled
    assert sorted(by_loan) == sorted(loan_ids)
    assert {loan: ids for loan, ids in by_loan.items() if len(ids) != 1} == {}
    assert {loan: ids[0] for loan, ids in by_loan.items()} == answered
    assert Counter(d.status for d in rows) == {"posted": len(loan_ids)}
    statuses = db.read(lambda c: Counter(s for (s,) in c.execute(select(loans.c.status))))
    assert statuses == {"active": len(loan_ids)}
    ids = {d.id for d in rows}

    # the bank's own book: one successful payout per disbursement id, no other payout at all
    with sqlite3.connect(stack.bank_db) as bank:
        payouts = bank.execute("SELECT payout_id, status, amount_minor FROM sim_payouts").fetchall()
    assert Counter(p[0] for p in payouts) == Counter(ids)
    assert {p[1] for p in payouts} == {"succeeded"}
    net_minor = to_minor(Decimal(NET_PER_LOAN))
    assert {p[2] for p in payouts} == {net_minor}
    balance = httpx.get(f"{stack.bank}/balance").json()["balance"]
    assert to_minor(Decimal(balance)) == OPENING_BALANCE_MINOR - len(loan_ids) * net_minor

    # the ledger: one pending and one settled transfer per loan, nothing voided, balanced
    transfer_ids = db.read(lambda c: [t for (t,) in c.execute(select(ledger_transfers.c.id))])
    kinds = Counter(t.split("-", 1)[0] for t in transfer_ids)
    assert {t for t in transfer_ids if t.startswith("disb-")} == {f"disb-{d}" for d in ids}
    assert {t for t in transfer_ids if t.startswith("settle-")} == {f"settle-{d}" for d in ids}
    assert kinds["void"] == 0
    assert get_trial_balance(db).balanced
    assert unreconciled_accounts(db) == {}

    # the outbox has drained and every request stored exactly one answer
    assert _open_outbox(db) == 0
    assert db.read(lambda c: c.execute(select(func.count()).select_from(outbox)).scalar_one()) == len(loan_ids)
    keys = db.read(lambda c: c.execute(select(func.count()).select_from(idempotency_keys)).scalar_one())
    assert keys == len(loan_ids)
