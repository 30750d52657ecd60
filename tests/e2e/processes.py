"""The platform (`puhui serve`) and the bank simulator (`puhui bank-sim`) as real processes.

For the tests that kill the server (SIGKILL) or load it from many clients at once: each service
is its own process on its own port, with a log file in the test's tmp_path, and can be killed
and started again on the same port and database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import applications, contracts, loans, offers
from puhui.bootstrap import Container, prepare
from puhui.config import load_settings
from tests.helpers import free_port, phone, resident_id, share_cash_flow

SECRET = "e2e-bank-secret"
CARD = "6222020000000000000"  # passes Luhn
NET_PER_LOAN = "11880.00"  # PH-FLAT 12,000.00 less the 1 % upfront fee
OPENING_BALANCE_MINOR = 100_000_000_00  # the simulator's default opening balance


class Service:
    """One `puhui` sub-command as a process: start (and wait until healthy), kill -9, stop."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, health_url: str) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", "puhui.cli", *argv]
        self.env = env
        self.cwd = cwd
        self.health_url = health_url
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 30) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        self._log = self._log or self.log_path.open("ab")
        self._log.write(f"\n--- start {self.starts + 1} ---\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode} on start:\n{self.log_tail()}")
            try:
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.name} did not come up within {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions die with the process."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class ProcessStack:
    """`puhui serve` on `db` plus `puhui bank-sim` with its own SQLite book, calling each other."""

    def __init__(
        self,
        db: Database,
        tmp_path: Path,
        *,
        latency_ms: int = 10,
        callbacks: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.tmp_path = tmp_path
        self.port, self.bank_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.bank = f"http://127.0.0.1:{self.bank_port}"
        self.bank_db = tmp_path / "bank.db"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PUHUI_")},
            "PUHUI_ENV": "demo",
            "PUHUI_DATABASE_URL": db.url,
            "PUHUI_BANK_URL": self.bank,
            "PUHUI_BANK_SECRET": SECRET,
            **(extra_env or {}),
        }
        settings = load_settings(database_url=db.url, env="demo", bank_url=self.bank, bank_secret=SECRET)
        self.container = Container(settings, db)
        prepare(self.container)  # migrations, chart of accounts, products: once, before any process
        self.server = Service(
            "server",
            ["serve", "--db", db.url, "--host", "127.0.0.1", "--port", str(self.port)],
            self.env,
            tmp_path,
            f"{self.base}/healthz",
        )
        self.sim = Service(
            "bank-sim",
            [
                "bank-sim",
                "--port",
                str(self.bank_port),
                "--db",
                f"sqlite:///{self.bank_db}",
                "--callback-url",
                f"{self.base}/v1/callbacks/bank" if callbacks else "",
                "--secret",
                SECRET,
                "--latency-ms",
                str(latency_ms),
                "--seed",
                "7",
            ],
            self.env,
            tmp_path,
            f"{self.bank}/healthz",
        )

    def start(self) -> None:
        self.sim.start()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.sim.stop()

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `puhui <args>` against the same database and bank (e.g. `reconcile`)."""
        return subprocess.run(
            [sys.executable, "-m", "puhui.cli", *args],
            env=self.env,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def signed_loan(
        self, n: int = 1, product: str = "PH-FLAT", amount: str = "12000.00", term_months: int = 12
    ) -> tuple[dict[str, str], str]:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            return sign_up_for_a_loan(c, n, product, amount, term_months)


def sign_up_for_a_loan(
    c: httpx.Client, n: int, product: str = "PH-FLAT", amount: str = "12000.00", term_months: int = 12
) -> tuple[dict[str, str], str]:
    """What an individual does in the app, over HTTP: sign in, register (declaring their income),
    share a year of account movements, consent, apply, accept and sign. The borrower's headers
    and a loan waiting for its money."""

    def ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    otp = ok(c.post("/v1/auth/otp", json={"phone": phone(n)}))["demo_otp"]
    token = ok(c.post("/v1/auth/token", json={"phone": phone(n), "otp": otp}))["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    person = {
        "kind": "individual",
        "name": "赵六",
        "id_number": resident_id(n),
        "phone": phone(n),
        "region": "330106",
        "annual_revenue": "180000.00",  # the income the borrower declares
    }
    borrower = ok(c.post("/v1/borrowers", headers=h, json=person))["id"]
    share_cash_flow(c, h, borrower)
    consent = {"scope": "credit_assessment", "text_version": "1"}
    ok(c.post(f"/v1/borrowers/{borrower}/consents", headers=h, json=consent))
    application = {
        "borrower_id": borrower,
        "product_code": product,
        "amount": amount,
        "term_months": term_months,
        "purpose": "household appliance",
    }
    applied = ok(c.post("/v1/applications", headers=h, json=application))
    contract = ok(c.post(f"/v1/applications/{applied['id']}/accept", headers=h))["contract_id"]
    otp = ok(c.post("/v1/auth/otp", json={"phone": phone(n)}))["demo_otp"]
    loan = ok(c.post(f"/v1/contracts/{contract}/sign", headers=h, json={"otp": otp}))["loan_id"]
    return h, str(loan)


def clone_signed_loans(db: Database, loan_id: str, count: int) -> list[str]:
    """`count` more signed loans like `loan_id` (same borrower, each with its own application,
    offer and contract rows), inserted directly: a seeding short cut, not an API path."""

    def work(conn: Any) -> list[str]:
        loan = conn.execute(select(loans).where(loans.c.id == loan_id)).one()._asdict()
        contract = conn.execute(select(contracts).where(contracts.c.id == loan["contract_id"])).one()._asdict()
        offer = conn.execute(select(offers).where(offers.c.id == contract["offer_id"])).one()._asdict()
        application = (
            conn.execute(select(applications).where(applications.c.id == contract["application_id"])).one()._asdict()
        )
        rows: dict[str, list[dict[str, Any]]] = {"a": [], "o": [], "c": [], "l": []}
        for _ in range(count):
            a, o, c, n = (str(uuid.uuid4()) for _ in range(4))
            rows["a"].append({**application, "id": a})
            rows["o"].append({**offer, "id": o, "application_id": a})
            rows["c"].append({**contract, "id": c, "offer_id": o, "application_id": a})
            rows["l"].append({**loan, "id": n, "contract_id": c})
        for key, table in (("a", applications), ("o", offers), ("c", contracts), ("l", loans)):
            conn.execute(table.insert(), rows[key])
        return [r["id"] for r in rows["l"]]

    return db.transaction(work)
