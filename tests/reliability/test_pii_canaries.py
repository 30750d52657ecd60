"""Personal data canaries (RELIABILITY.md, item 3).

A canary resident ID number (valid check character), phone number and bank card (valid Luhn)
go through the whole flow against the real server process (`puhui serve` with the bank simulator):
sign-up, consent, data, application, contract, payout, repayment, and the errors a borrower
meets on the way. Afterwards none of the three values appears in plain text in the server's log,
in any response body (all of them, errors included), or in the database: every table's rows as
text, and on SQLite also the `.dump` and the raw bytes of the database and its WAL file.
Responses show them masked; the full values come only from the audited admin endpoint."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import metadata, pii_access_log
from puhui.domain.identity import id_number_check_char, luhn_check_digit, mask_bank_card, mask_id_number, mask_mobile
from tests.e2e.processes import ProcessStack
from tests.helpers import share_cash_flow, staff_token

_ID17 = "11010519880808531"
CANARY_ID = _ID17 + id_number_check_char(_ID17)
CANARY_PHONE = "13771717171"
_CARD15 = "621700998877665"
CANARY_CARD = _CARD15 + luhn_check_digit(_CARD15)
CANARIES = (CANARY_ID, CANARY_PHONE, CANARY_CARD)


class Recorder:
    """An HTTP client that keeps every response body it saw."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.bodies: list[tuple[str, str]] = []

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text}"
        self.bodies.append((f"{method} {url} -> {response.status_code}", response.text))
        return response

    def ok(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.send(method, url, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


def _flow(r: Recorder) -> tuple[dict[str, str], str, str]:
    otp = r.ok("POST", "/v1/auth/otp", json={"phone": CANARY_PHONE})["demo_otp"]
    wrong = r.send("POST", "/v1/auth/token", json={"phone": CANARY_PHONE, "otp": "000000" if otp != "000000" else "1"})
    assert wrong.status_code == 401
    token = r.ok("POST", "/v1/auth/token", json={"phone": CANARY_PHONE, "otp": otp})["access_token"]
    me = {"Authorization": f"Bearer {token}"}
    person = {
        "kind": "individual",
        "name": "金丝雀",
        "id_number": CANARY_ID,
        "phone": CANARY_PHONE,
        "region": "110105",
        "annual_revenue": "180000.00",
    }
    assert r.send("POST", "/v1/borrowers", headers=me, json={**person, "phone": "13800000001"}).status_code == 422
    bad_id = r.send("POST", "/v1/borrowers", headers=me, json={**person, "id_number": _ID17 + "0"})
    assert bad_id.status_code == 422 or CANARY_ID.endswith("0")
    borrower = r.ok("POST", "/v1/borrowers", headers=me, json=person)
    assert r.send("POST", "/v1/borrowers", headers=me, json=person).status_code == 409  # the same ID again
    share_cash_flow(r.http, me, borrower["id"])
    r.ok(
        "POST",
        f"/v1/borrowers/{borrower['id']}/consents",
        headers=me,
        json={"scope": "credit_assessment", "text_version": "1"},
    )
    application = {
        "borrower_id": borrower["id"],
        "product_code": "PH-FLAT",
        "amount": "12000.00",
        "term_months": 12,
        "purpose": "shop",
    }
    applied = r.ok("POST", "/v1/applications", headers=me, json=application)
    contract = r.ok("POST", f"/v1/applications/{applied['id']}/accept", headers=me)["contract_id"]
    otp = r.ok("POST", "/v1/auth/otp", json={"phone": CANARY_PHONE})["demo_otp"]
    loan = r.ok("POST", f"/v1/contracts/{contract}/sign", headers=me, json={"otp": otp})["loan_id"]
    bad_card = CANARY_CARD[:-1] + str((int(CANARY_CARD[-1]) + 1) % 10)  # fails Luhn
    key = {"Idempotency-Key": str(uuid.uuid4()), **me}
    refused = r.send("POST", f"/v1/loans/{loan}/disbursements", headers=key, json={"account_number": bad_card})
    assert refused.status_code == 422 and bad_card not in refused.text
    key = {"Idempotency-Key": str(uuid.uuid4()), **me}
    r.ok("POST", f"/v1/loans/{loan}/disbursements", headers=key, json={"account_number": CANARY_CARD})
    deadline = time.monotonic() + 30
    while r.ok("GET", f"/v1/loans/{loan}", headers=me)["status"] != "active":
        assert time.monotonic() < deadline, "the payout was never confirmed by the bank"
        time.sleep(0.2)
    key = {"Idempotency-Key": str(uuid.uuid4()), **me}
    r.ok("POST", f"/v1/loans/{loan}/repayments", headers=key, json={"amount": "100.00"})
    r.ok("GET", f"/v1/loans/{loan}/transactions", headers=me)
    return me, borrower["id"], loan


def _rows_as_text(conn: Connection) -> str:
    return "\n".join(str(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table)))


def _stored_text(db: Database) -> list[tuple[str, bytes]]:
    """What an attacker with the database would read: every row, and on SQLite the files."""
    stored = [("rows", db.read(_rows_as_text).encode())]
    if db.dialect == "sqlite":
        path = Path(db.url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as raw:
            stored.append(("sqlite .dump", "\n".join(raw.iterdump()).encode()))
        for f in (path, path.with_name(path.name + "-wal")):
            if f.exists():
                stored.append((f.name, f.read_bytes()))
    return stored


def test_canaries_never_appear_in_plain_text(db: Database, tmp_path: Path) -> None:
    stack = ProcessStack(db, tmp_path, latency_ms=5)
    stack.start()
    r = Recorder(stack.base)
    try:
        me, borrower_id, loan_id = _flow(r)
        shown = r.ok("GET", f"/v1/borrowers/{borrower_id}", headers=me)
        assert (shown["id_number"], shown["phone"]) == (mask_id_number(CANARY_ID), mask_mobile(CANARY_PHONE))
        payout = r.ok("GET", f"/v1/loans/{loan_id}", headers=me)["disbursements"][0]
        assert payout["account"] == mask_bank_card(CANARY_CARD) and payout["status"] == "posted"
        from puhui.bootstrap import seed_demo_staff

        seed_demo_staff(stack.container)
        revealed = _audited_reveal(r, borrower_id, me)
    finally:
        r.http.close()
        stack.stop()
    assert (revealed["id_number"], revealed["phone"], revealed["payout_accounts"]) == (
        CANARY_ID,
        CANARY_PHONE,
        [CANARY_CARD],
    )
    log = (tmp_path / "server.log").read_bytes()
    assert b"POST /v1/loans/" in log  # the log is the server's, with its access lines
    leaks = [
        (where, canary)
        for canary in CANARIES
        for where, content in [
            ("server log", log),
            *[(f"response {label}", body.encode()) for label, body in r.bodies if "/identity" not in label],
            *_stored_text(db),
        ]
        if canary.encode() in content
    ]
    assert leaks == []
    # the scan reads real content: the borrower's name (not a secret) and masked ID are found in it
    stored = _stored_text(db)
    name = "金丝雀".encode()
    assert name in stored[0][1] and mask_id_number(CANARY_ID).encode() in stored[0][1]
    if db.dialect == "sqlite":  # in the dump, and in the file or its WAL (not yet checkpointed)
        assert name in stored[1][1] and any(name in content for _, content in stored[2:])
    assert len(r.bodies) >= 25


def _audited_reveal(r: Recorder, borrower_id: str, me: dict[str, str]) -> Any:
    url = f"/v1/borrowers/{borrower_id}/identity"
    assert r.send("GET", url, headers=me, params={"reason": "curious"}).status_code == 403
    ops = staff_token(r.http, "ops")
    assert r.send("GET", url, headers=ops, params={"reason": "complaint 42"}).status_code == 403
    admin = staff_token(r.http, "admin")
    assert r.send("GET", url, headers=admin).status_code == 422  # a reason is required
    assert (
        r.send("GET", "/v1/borrowers/nobody/identity", headers=admin, params={"reason": "x-check"}).status_code == 404
    )
    revealed = r.ok("GET", url, headers=admin, params={"reason": "court order 2026-17"})
    return revealed


def test_each_reveal_is_audited(db: Database) -> None:
    """The audit trail of the identity endpoint, on the ASGI app (the process test above shows the
    values; this one who saw them, why and when)."""
    from tests.reliability.world import build_world

    w = build_world(db)
    url = f"/v1/borrowers/{w.a.borrower_id}/identity"
    assert w.client.get(url, headers=w.tokens["officer"], params={"reason": "look"}).status_code == 403
    first = w.client.get(url, headers=w.tokens["admin"], params={"reason": "complaint 7"})
    second = w.client.get(url, headers=w.tokens["admin"], params={"reason": "court order"})
    assert first.status_code == second.status_code == 200
    log = w.container.db.read(lambda c: list(c.execute(select(pii_access_log).order_by(pii_access_log.c.reason))))
    assert [(row.borrower_id, row.staff_role, row.reason) for row in log] == [
        (w.a.borrower_id, "admin", "complaint 7"),
        (w.a.borrower_id, "admin", "court order"),
    ]
    assert {row.id for row in log} == {first.json()["audit_id"], second.json()["audit_id"]}
    assert first.json()["payout_accounts"] and first.json()["id_number"].startswith("330106")
    w.client.close()
