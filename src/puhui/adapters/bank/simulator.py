"""A bank / payment-channel simulator, run as its own HTTP service (`puhui bank-sim`).

It keeps its own account book (the lender's settlement account and every payout and incoming
payment), answers payouts idempotently by the caller's payout id, and reports results by
HMAC-signed callbacks to the platform, after a configurable latency and with a configurable
failure rate. Only the last four digits of an account number are stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, DateTime, Engine, MetaData, String, Table, Text, select

from puhui.adapters.bank.signing import SIGNATURE_HEADER, sign
from puhui.adapters.db.engine import make_engine
from puhui.api.schemas.common import AmountIn
from puhui.money import format_amount, from_minor, to_minor

log = logging.getLogger(__name__)
book = MetaData()

payouts = Table(
    "sim_payouts",
    book,
    Column("payout_id", String(100), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("account_last4", String(4), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
incoming = Table(
    "sim_incoming",
    book,
    Column("reference", String(100), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("payer_last4", String(4), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("loan_ref", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
settlement = Table(
    "sim_settlement",
    book,
    Column("account", String(40), primary_key=True),
    Column("balance_minor", BigInteger, nullable=False),
)

LENDER_ACCOUNT = "lender-settlement"


class PayoutStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class SimulatorSettings:
    database_url: str = "sqlite:///var/bank-sim.db"
    callback_url: str | None = "http://127.0.0.1:8000/v1/callbacks/bank"
    secret: str = "demo-bank-secret"
    latency_ms: int = 50
    failure_rate: float = 0.0  # probability a payout fails (a simulation knob, not money)
    opening_balance_minor: int = 100_000_000_00
    seed: int | None = None


class PayoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payout_id: str = Field(min_length=1, max_length=100)
    account_number: str = Field(min_length=4, max_length=40, pattern=r"^\d+$")
    amount: AmountIn


class IncomingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=100)
    payer_account: str = Field(min_length=4, max_length=40, pattern=r"^\d+$")
    amount: AmountIn
    loan_ref: str = Field(min_length=1, max_length=100)


def _hash(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "fields": []}}, status_code=status)


class BankSimulator:
    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url)
        self.random = random.Random(settings.seed)
        self.tasks: set[asyncio.Task[None]] = set()
        book.create_all(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(settlement.c.account)).first() is None:
                conn.execute(
                    settlement.insert().values(account=LENDER_ACCOUNT, balance_minor=settings.opening_balance_minor)
                )

    def submit_payout(self, req: PayoutRequest) -> tuple[int, dict[str, Any]]:
        """Accept a payout once per id; a replay returns the stored state, other content is 409."""
        digest = _hash(req)
        with self.engine.begin() as conn:
            row = conn.execute(select(payouts).where(payouts.c.payout_id == req.payout_id)).first()
            if row is not None:
                if row.request_hash != digest:
                    return 409, {"error": {"code": "conflict", "message": "payout id reused with other content"}}
                return 200, _payout_view(row._mapping)
            fails = self.random.random() < self.settings.failure_rate
            status = PayoutStatus.FAILED if fails else PayoutStatus.SUCCEEDED
            amount_minor = to_minor(req.amount)
            if not fails:
                balance = conn.execute(
                    select(settlement.c.balance_minor).where(settlement.c.account == LENDER_ACCOUNT)
                ).scalar_one()
                if balance < amount_minor:
                    status, fails = PayoutStatus.FAILED, True
                else:
                    conn.execute(
                        settlement.update()
                        .where(settlement.c.account == LENDER_ACCOUNT)
                        .values(balance_minor=settlement.c.balance_minor - amount_minor)
                    )
            values = {
                "payout_id": req.payout_id,
                "request_hash": digest,
                "account_last4": req.account_number[-4:],
                "amount_minor": amount_minor,
                "status": status.value,
                "failure_reason": "simulated channel failure" if fails else None,
                "created_at": datetime.now(UTC),
            }
            conn.execute(payouts.insert().values(**values))
        view = _payout_view(values)
        self._later({"type": "payout", **view})
        return 202, {**view, "status": PayoutStatus.PENDING.value}

    def get_payout(self, payout_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(payouts).where(payouts.c.payout_id == payout_id)).first()
        return _payout_view(row._mapping) if row else None

    def receive(self, req: IncomingRequest) -> tuple[int, dict[str, Any]]:
        """A borrower pays into the lender's account; the platform hears of it by callback."""
        digest = _hash(req)
        with self.engine.begin() as conn:
            row = conn.execute(select(incoming).where(incoming.c.reference == req.reference)).first()
            if row is not None:
                if row.request_hash != digest:
                    return 409, {"error": {"code": "conflict", "message": "reference reused with other content"}}
                return 200, {"reference": req.reference, "status": "received"}
            conn.execute(
                incoming.insert().values(
                    reference=req.reference,
                    request_hash=digest,
                    payer_last4=req.payer_account[-4:],
                    amount_minor=to_minor(req.amount),
                    loan_ref=req.loan_ref,
                    created_at=datetime.now(UTC),
                )
            )
            conn.execute(
                settlement.update()
                .where(settlement.c.account == LENDER_ACCOUNT)
                .values(balance_minor=settlement.c.balance_minor + to_minor(req.amount))
            )
        self._later(
            {
                "type": "incoming",
                "reference": req.reference,
                "amount": format_amount(req.amount),
                "loan_ref": req.loan_ref,
                "payer_last4": req.payer_account[-4:],
            }
        )
        return 202, {"reference": req.reference, "status": "received"}

    def balance(self) -> Decimal:
        with self.engine.connect() as conn:
            minor = conn.execute(
                select(settlement.c.balance_minor).where(settlement.c.account == LENDER_ACCOUNT)
            ).scalar_one()
        return from_minor(int(minor))

    def _later(self, event: dict[str, Any]) -> None:
        if not self.settings.callback_url:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._deliver(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, event: dict[str, Any], attempts: int = 8) -> None:
        """Signed callback after the configured latency, retried with backoff until accepted."""
        assert self.settings.callback_url is not None
        await asyncio.sleep(self.settings.latency_ms / 1000)
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self.settings.secret, body)}
        async with httpx.AsyncClient(timeout=5) as client:
            for attempt in range(attempts):
                try:
                    response = await client.post(self.settings.callback_url, content=body, headers=headers)
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    log.info("callback attempt %d failed: %s", attempt + 1, type(exc).__name__)
                await asyncio.sleep(min(0.1 * 2**attempt, 5))


def _payout_view(row: Any) -> dict[str, Any]:
    return {
        "payout_id": row["payout_id"],
        "status": row["status"],
        "amount": format_amount(from_minor(int(row["amount_minor"]))),
        "account_last4": row["account_last4"],
        "failure_reason": row["failure_reason"],
    }


def create_simulator_app(settings: SimulatorSettings) -> FastAPI:
    sim = BankSimulator(settings)
    app = FastAPI(title="Puhui bank-channel simulator", version="1")
    app.state.sim = sim

    async def _latency() -> None:
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000 * sim.random.random())

    @app.post("/payouts")
    async def submit(body: PayoutRequest) -> JSONResponse:
        await _latency()
        status, payload = sim.submit_payout(body)
        return JSONResponse(payload, status_code=status)

    @app.get("/payouts/{payout_id}")
    async def status(payout_id: str) -> JSONResponse:
        found = sim.get_payout(payout_id)
        if found is None:
            return _error(404, "not_found", f"payout {payout_id} is unknown")
        return JSONResponse(found)

    @app.post("/incoming")
    async def incoming_payment(body: IncomingRequest) -> JSONResponse:
        status, payload = sim.receive(body)
        return JSONResponse(payload, status_code=status)

    @app.get("/balance")
    async def balance() -> dict[str, str]:
        return {"account": LENDER_ACCOUNT, "balance": format_amount(sim.balance())}

    @app.get("/healthz")
    async def health(_: Request) -> dict[str, str]:
        return {"status": "ok"}

    return app
