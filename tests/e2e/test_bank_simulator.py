"""The bank-channel simulator as its own process: idempotent payouts, failures, signed callbacks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from puhui.adapters.bank.client import BankChannelError, BankClient
from puhui.adapters.bank.signing import SIGNATURE_HEADER, verify
from tests.helpers import free_port, wait_until_up

SECRET = "test-secret"


class Receiver:
    """A tiny platform stand-in that records callbacks and checks their signatures."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if verify(SECRET, body, self.headers.get(SIGNATURE_HEADER)):
                    outer.events.append(json.loads(body))
                    self.send_response(200)
                else:
                    outer.bad_signatures += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/callbacks/bank"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout_s: float = 10) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events


def _start_sim(tmp_path: Path, callback_url: str, failure_rate: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "puhui.cli",
            "bank-sim",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path}/sim.db",
            "--callback-url",
            callback_url,
            "--secret",
            SECRET,
            "--latency-ms",
            "10",
            "--failure-rate",
            str(failure_rate),
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    if wait_until_up(f"{base}/healthz"):
        return proc, base
    proc.kill()
    pytest.fail("bank simulator did not start")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def sim(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    proc, base = _start_sim(tmp_path, receiver.url, failure_rate=0.0)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_payouts_are_idempotent_by_id_and_called_back_signed(sim: str, receiver: Receiver) -> None:
    client = BankClient(sim)
    first = client.submit_payout("p-1", "6222020000000001", Decimal("1000.00"))
    again = client.submit_payout("p-1", "6222020000000001", Decimal("1000.00"))
    assert first.status == "pending" and again.status == "succeeded"
    with pytest.raises(BankChannelError, match="409"):
        client.submit_payout("p-1", "6222020000000001", Decimal("999.00"))
    events = receiver.wait_for(1)
    assert receiver.bad_signatures == 0
    assert [e["payout_id"] for e in events] == ["p-1"]  # one callback for one payout
    assert events[0]["status"] == "succeeded" and events[0]["account_last4"] == "0001"
    assert httpx.get(f"{sim}/balance").json()["balance"] == "99999000.00"
    assert client.get_payout("unknown") is None


def test_incoming_payment_is_reported_once(sim: str, receiver: Receiver) -> None:
    body = {"reference": "r-9", "payer_account": "6222020000000002", "amount": "88.80", "loan_ref": "loan-1"}
    assert httpx.post(f"{sim}/incoming", json=body).status_code == 202
    assert httpx.post(f"{sim}/incoming", json=body).status_code == 200
    assert httpx.post(f"{sim}/incoming", json={**body, "amount": "1.00"}).status_code == 409
    events = receiver.wait_for(1)
    assert events == [
        {"type": "incoming", "reference": "r-9", "amount": "88.80", "loan_ref": "loan-1", "payer_last4": "0002"}
    ]


def test_failure_rate_one_fails_every_payout(tmp_path: Path, receiver: Receiver) -> None:
    proc, base = _start_sim(tmp_path, receiver.url, failure_rate=1.0)
    try:
        client = BankClient(base)
        client.submit_payout("p-f", "6222020000000001", Decimal("5.00"))
        events = receiver.wait_for(1)
        assert events[0]["status"] == "failed"
        assert httpx.get(f"{base}/balance").json()["balance"] == "100000000.00"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unreachable_channel_is_a_clear_error() -> None:
    client = BankClient(f"http://127.0.0.1:{free_port()}", timeout_s=0.5)
    with pytest.raises(BankChannelError, match="unreachable"):
        client.submit_payout("p-x", "6222020000000001", Decimal("1.00"))
