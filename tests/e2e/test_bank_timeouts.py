"""The bank channel's timeout (RELIABILITY.md, item 7): a bank that accepts the connection and never
answers costs a payout request at most the configured timeout — the borrower gets 202 `pending`,
never a 5xx or a hung request — and the outbox keeps the payout; once the bank is back,
`reconcile` sends it and it is paid exactly once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import outbox
from puhui.services.accounting import get_trial_balance
from puhui.services.disbursement import reconcile
from tests.e2e.test_disbursement import CARD, Stack

TIMEOUT_S = 0.5


class SilentBank:
    """Listens on the bank's port, accepts every connection and never says a word."""

    def __init__(self, port: int) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def stack(db: Database, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(db, tmp_path, bank_timeout_seconds=TIMEOUT_S)
    yield s
    s.stop()


def _open_outbox(db: Database) -> list[object]:
    return list(db.read(lambda c: c.execute(select(outbox).where(outbox.c.status != "done")).all()))


def test_a_bank_that_never_answers_costs_the_timeout_not_the_request(stack: Stack) -> None:
    stack.start_bank()
    h, loan_id = stack.signed_loan(11)
    assert stack.sim is not None
    stack.sim.terminate()
    stack.sim.wait(timeout=10)
    silent = SilentBank(int(stack.bank.rsplit(":", 1)[1]))
    try:
        started = time.monotonic()
        sent = httpx.post(
            f"{stack.base}/v1/loans/{loan_id}/disbursements",
            headers={**h, "Idempotency-Key": "slow-bank"},
            json={"account_number": CARD},
            timeout=30,
        )
        took = time.monotonic() - started
        assert sent.status_code == 202 and sent.json()["status"] == "pending", sent.text
        assert took < TIMEOUT_S + 5, f"the request took {took:.1f} s with a {TIMEOUT_S} s bank timeout"
        (waiting,) = _open_outbox(stack.container.db)
        assert "timed out" in (waiting.last_error or "").lower() or "timeout" in (waiting.last_error or "").lower()
        # reconcile while the bank is still silent: nothing is decided, nothing posted twice
        report = reconcile(stack.container)
        assert report.checked == 1 and report.still_pending == 1 and report.posted == 0
    finally:
        silent.close()

    stack.start_bank()  # the bank is back on the same port
    report = reconcile(stack.container)
    assert report.resubmitted == 1, report
    loan = stack.wait_loan(h, loan_id, "active")
    assert loan["status"] == "active"
    assert _open_outbox(stack.container.db) == []
    assert get_trial_balance(stack.container.db).balanced
