"""Two-phase disbursement over real HTTP: the platform (uvicorn) and the bank simulator (its own
process) call each other; the money moves once, the ledger balances, failures are voided."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn

from puhui.adapters.db.database import Database
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.services.accounting import get_trial_balance
from puhui.services.disbursement import reconcile
from tests.e2e.processes import sign_up_for_a_loan
from tests.helpers import free_port, wait_until_up

SECRET = "e2e-bank-secret"
CARD = "6222020000000000000"  # passes Luhn


def _wait_http(url: str) -> None:
    if not wait_until_up(url):
        pytest.fail(f"{url} did not come up")


class Stack:
    def __init__(self, db: Database, tmp_path: Path, **settings: object) -> None:
        self.tmp_path = tmp_path
        self.platform_port, self.bank_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.platform_port}"
        self.bank = f"http://127.0.0.1:{self.bank_port}"
        loaded = load_settings(database_url=db.url, env="demo", bank_url=self.bank, bank_secret=SECRET, **settings)
        self.container = Container(loaded, db, FixedClock(datetime(2026, 11, 22, 2, tzinfo=UTC)))
        prepare(self.container)
        config = uvicorn.Config(
            create_app(self.container), host="127.0.0.1", port=self.platform_port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        _wait_http(f"{self.base}/healthz")
        self.sim: subprocess.Popen[bytes] | None = None

    def start_bank(self, failure_rate: float = 0.0) -> None:
        self.sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "puhui.cli",
                "bank-sim",
                "--port",
                str(self.bank_port),
                "--db",
                f"sqlite:///{self.tmp_path}/bank.db",
                "--callback-url",
                f"{self.base}/v1/callbacks/bank",
                "--secret",
                SECRET,
                "--latency-ms",
                "20",
                "--failure-rate",
                str(failure_rate),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_http(f"{self.bank}/healthz")

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.terminate()
            self.sim.wait(timeout=10)
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def signed_loan(self, n: int) -> tuple[dict[str, str], str]:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            return sign_up_for_a_loan(c, n)

    def wait_loan(self, h: dict[str, str], loan_id: str, status: str, timeout_s: float = 15) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            loan = httpx.get(f"{self.base}/v1/loans/{loan_id}", headers=h).json()
            if loan["status"] == status:
                return dict(loan)
            time.sleep(0.1)
        pytest.fail(f"loan {loan_id} never reached {status}: {loan}")


@pytest.fixture
def stack(db: Database, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(db, tmp_path)
    yield s
    s.stop()


def _disburse(stack: Stack, h: dict[str, str], loan_id: str, key: str, card: str = CARD) -> httpx.Response:
    return httpx.post(
        f"{stack.base}/v1/loans/{loan_id}/disbursements",
        headers={**h, "Idempotency-Key": key},
        json={"account_number": card},
        timeout=10,
    )


def test_disbursement_pays_once_and_the_ledger_balances(stack: Stack) -> None:
    stack.start_bank()
    h, loan_id = stack.signed_loan(1)
    first = _disburse(stack, h, loan_id, "k-1")
    assert first.status_code == 202 and first.json()["status"] == "pending", first.text
    replay = _disburse(stack, h, loan_id, "k-1")
    assert replay.json() == first.json()
    assert _disburse(stack, h, loan_id, "k-1", card="4111111111111111").status_code == 409
    no_key = httpx.post(f"{stack.base}/v1/loans/{loan_id}/disbursements", headers=h, json={"account_number": CARD})
    assert no_key.status_code == 400
    loan = stack.wait_loan(h, loan_id, "active")
    # PH-FLAT: 1 % upfront fee on 12,000 -> 11,880 paid out, once
    assert [d["net_amount"] for d in loan["disbursements"]] == ["11880.00"]  # type: ignore[index]
    assert httpx.get(f"{stack.bank}/balance").json()["balance"] == "99988120.00"
    assert get_trial_balance(stack.container.db).balanced
    second_key = _disburse(stack, h, loan_id, "k-2")  # a new key on an active loan pays nothing more
    assert second_key.status_code == 202 and second_key.json()["disbursement_id"] == first.json()["disbursement_id"]
    assert httpx.get(f"{stack.bank}/balance").json()["balance"] == "99988120.00"


def test_a_failed_payout_is_voided_and_can_be_retried(stack: Stack) -> None:
    stack.start_bank(failure_rate=1.0)
    h, loan_id = stack.signed_loan(2)
    assert _disburse(stack, h, loan_id, "k-1").status_code == 202
    loan = stack.wait_loan(h, loan_id, "pending_disbursement")
    assert loan["disbursements"][0]["status"] == "failed"  # type: ignore[index]
    tb = {line.code.value: line for line in get_trial_balance(stack.container.db).lines}
    assert tb["1201"].balance_minor == 0 and tb["1101"].balance_minor == 0  # voided by a reversal
    assert httpx.get(f"{stack.bank}/balance").json()["balance"] == "100000000.00"


def test_reconcile_finishes_a_payout_the_bank_never_received(stack: Stack) -> None:
    h, loan_id = stack.signed_loan(3)  # the bank is down
    assert _disburse(stack, h, loan_id, "k-1").json()["status"] == "pending"
    stack.start_bank()
    report = reconcile(stack.container)
    assert report.resubmitted == 1
    stack.wait_loan(h, loan_id, "active")
    assert reconcile(stack.container).checked == 0  # the outbox has drained
    assert httpx.get(f"{stack.bank}/balance").json()["balance"] == str(Decimal("100000000.00") - Decimal("11880.00"))
