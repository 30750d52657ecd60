"""Locust users for `bench_http.py`: one class per measured request, no think time (closed loop).

The bench writes a JSON file of what the users need (borrower tokens, loan ids, an operations
token) and points PUHUI_BENCH_LOCUST_DATA at it; run one class at a time, e.g.

    locust -f bench/locust_api.py --headless -u 8 -r 8 -t 15s --host http://127.0.0.1:8000 QuoteUser
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import constant, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

_DATA: dict[str, Any] = {}


def data() -> dict[str, Any]:
    if not _DATA:
        _DATA.update(json.loads(Path(os.environ["PUHUI_BENCH_LOCUST_DATA"]).read_text()))
    return _DATA


def _check(response: Any, status: int) -> None:
    if response.status_code != status:
        response.failure(f"{response.status_code}: {response.text[:200]}")


class QuoteUser(FastHttpUser):
    """A visitor on the loan calculator: a schedule and an APR for a random amount and term."""

    @task
    def quote(self) -> None:
        body = {
            "product_code": random.choice(["PH-EI", "PH-FLAT", "PH-AGRI"]),  # each lends 10,000-50,000
            "amount": f"{random.randrange(50, 251) * 200}.00",
            "term_months": 12,
        }
        with self.client.post("/v1/quotes", json=body, name="POST /v1/quotes", catch_response=True) as r:
            _check(r, 200)


class ApplicationUser(FastHttpUser):
    """A signed-in borrower applying: consent check, product rules, decision, offer, all stored."""

    def on_start(self) -> None:
        self.borrower = random.choice(data()["borrowers"])

    @task
    def apply(self) -> None:
        body = {
            "borrower_id": self.borrower["id"],
            "product_code": "PH-FLAT",
            "amount": f"{random.randrange(10, 50) * 1000}.00",
            "term_months": random.choice([6, 12]),
            "purpose": "家电",
        }
        headers = {"Authorization": f"Bearer {self.borrower['token']}"}
        with self.client.post(
            "/v1/applications", json=body, headers=headers, name="POST /v1/applications", catch_response=True
        ) as r:
            _check(r, 201)


class RepaymentUser(FastHttpUser):
    """Operations posting borrowers' payments: allocation, ledger transfer, installment updates."""

    @task
    def repay(self) -> None:
        loan = random.choice(data()["loans"])
        headers = {"Authorization": f"Bearer {data()['ops_token']}", "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            f"/v1/loans/{loan}/repayments",
            json={"amount": "10.00"},
            headers=headers,
            name="POST /v1/loans/{id}/repayments",
            catch_response=True,
        ) as r:
            _check(r, 201)


def _pacing() -> Any:
    """PUHUI_BENCH_RATE_PER_USER=r: each user sends r requests a second (an offered load of
    users x r); unset: no think time (the server's saturation)."""
    rate = os.environ.get("PUHUI_BENCH_RATE_PER_USER")
    return constant_throughput(float(rate)) if rate else constant(0)


class DecisionUser(FastHttpUser):
    """A borrower asking what line and rate they would get (features, model, fraud, policy)."""

    wait_time = _pacing()

    def on_start(self) -> None:
        self.borrower = random.choice(data()["borrowers"])

    @task
    def decide(self) -> None:
        body = {
            "borrower_id": self.borrower["id"],
            "product_code": self.borrower.get("product", "PH-FLAT"),
            "amount": self.borrower.get("amount", "10000.00"),
            "term_months": 12,
        }
        headers = {"Authorization": f"Bearer {self.borrower['token']}"}
        with self.client.post(
            "/v1/risk/decisions", json=body, headers=headers, name="POST /v1/risk/decisions", catch_response=True
        ) as r:
            _check(r, 201)


class MixUser(FastHttpUser):
    """The soak's realistic mix, each user paced (PUHUI_BENCH_RATE_PER_USER, default 4/s): visitors
    on the calculator, borrowers asking their line, applying and looking at their loan, operations
    posting payments and reading loans, and the portal's home page."""

    wait_time = constant_throughput(float(os.environ.get("PUHUI_BENCH_RATE_PER_USER", "4")))

    def on_start(self) -> None:
        self.borrower = random.choice(data()["borrowers"])
        self.borrower_headers = {"Authorization": f"Bearer {self.borrower['token']}"}
        self.ops_headers = {"Authorization": f"Bearer {data()['ops_token']}"}

    @task(4)
    def quote(self) -> None:
        QuoteUser.quote(self)  # type: ignore[arg-type]

    @task(2)
    def decide(self) -> None:
        body = {"borrower_id": self.borrower["id"], "product_code": "PH-FLAT", "amount": "10000.00", "term_months": 12}
        with self.client.post(
            "/v1/risk/decisions",
            json=body,
            headers=self.borrower_headers,
            name="POST /v1/risk/decisions",
            catch_response=True,
        ) as r:
            _check(r, 201)

    @task(1)
    def apply(self) -> None:
        ApplicationUser.apply(self)  # type: ignore[arg-type]

    @task(2)
    def repay(self) -> None:
        RepaymentUser.repay(self)  # type: ignore[arg-type]

    @task(2)
    def read_loan(self) -> None:
        loan = random.choice(data()["loans"])
        with self.client.get(
            f"/v1/loans/{loan}", headers=self.ops_headers, name="GET /v1/loans/{id}", catch_response=True
        ) as r:
            _check(r, 200)

    @task(2)
    def page(self) -> None:
        with self.client.get("/?lang=zh", name="GET / (portal page)", catch_response=True) as r:
            _check(r, 200)
