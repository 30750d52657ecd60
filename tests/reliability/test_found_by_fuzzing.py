"""Regressions for what Schemathesis found (RELIABILITY.md, item 1): each was a 500."""

from __future__ import annotations

from tests.helpers import resident_id
from tests.reliability.world import World


def test_an_offset_beyond_64_bits_is_refused(world: World) -> None:
    for path in ("/v1/borrowers", "/v1/loans", "/v1/reviews", "/v1/risk/alerts"):
        r = world.client.get(path, params={"offset": 2**63}, headers=world.tokens["admin"])
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["fields"][0]["path"] == "offset"
        assert world.client.get(path, params={"offset": 10**9}, headers=world.tokens["admin"]).status_code == 200


def test_a_loan_status_filter_is_one_of_the_statuses(world: World) -> None:
    for status in ("\x00", "nonsense"):
        r = world.client.get("/v1/loans", params={"status": status}, headers=world.tokens["a"])
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["path"] == "status"
    active = world.client.get("/v1/loans", params={"status": "active"}, headers=world.tokens["a"]).json()
    assert [loan["id"] for loan in active["loans"]] == [world.a.loan_id]


def test_a_nul_character_in_text_is_bad_input_not_a_server_error(world: World) -> None:
    body = {"kind": "individual", "name": "张\x00三", "id_number": resident_id(909), "phone": "13900000909"}
    r = world.client.post("/v1/borrowers", json={**body, "region": "330106"}, headers=world.tokens["officer"])
    if world.container.db.dialect == "postgresql":
        assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]
    else:
        assert r.status_code == 201  # SQLite stores it


def test_an_end_of_day_request_catches_up_a_month_at_most(world: World) -> None:
    """The stateful run closed a day in the year 86, then asked for a date years later: one request
    ran thousands of days and timed out. Over HTTP a request closes at most 31 missed days."""
    from datetime import date, timedelta

    ops = world.tokens["ops"]
    today = date.fromisoformat(world.client.get("/v1/eod", headers=ops).json()["business_date"])
    first = today - timedelta(days=40)
    assert world.client.post("/v1/eod", json={"business_date": first.isoformat()}, headers=ops).status_code == 200
    late = world.client.post("/v1/eod", json={"business_date": today.isoformat()}, headers=ops)
    assert late.status_code == 422, late.text
    assert late.json()["error"]["fields"][0]["path"] == "business_date" and "puhui eod" in late.text
    month = (first + timedelta(days=31)).isoformat()
    assert world.client.post("/v1/eod", json={"business_date": month}, headers=ops).status_code == 200


def test_a_payment_beyond_any_loan_is_bad_input(world: World) -> None:
    """The stateful run wrote A's loan off and then repaid it with ¥5 x 10^18: the recovery's
    borrower credit overflowed the ledger's 64-bit fen (a 500 from either database). A payment is
    at most ¥1,000,000,000.00, over the API and in the bank's incoming-payment callback."""
    import json

    from puhui.adapters.bank.signing import SIGNATURE_HEADER, sign

    headers = {"Idempotency-Key": "huge-1", **world.tokens["ops"]}
    path = f"/v1/loans/{world.a.loan_id}/repayments"
    r = world.client.post(path, json={"amount": "5045312633090836682"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["path"] == "amount", r.text
    event = {"type": "incoming", "loan_ref": world.a.loan_id, "amount": "1000000000.01", "reference": "huge-2"}
    body = json.dumps(event).encode()
    signed = {SIGNATURE_HEADER: sign(world.container.settings.bank_secret, body), "content-type": "application/json"}
    r = world.client.post("/v1/callbacks/bank", content=body, headers=signed)
    assert r.status_code == 422, r.text


def test_a_date_is_written_as_one_not_as_a_number(world: World) -> None:
    """`?as_of=-1.175494351e-38` was the trial balance of 1970-01-01: Pydantic takes a number (or a
    numeric string) for a date as seconds since 1970. Request dates are YYYY-MM-DD only."""
    finance, ops = world.tokens["finance"], world.tokens["ops"]
    for value in ("-1.175494351e-38", "0", "86400"):
        r = world.client.get("/v1/ledger/trial-balance", params={"as_of": value}, headers=finance)
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["path"] == "as_of", (value, r.text)
    assert world.client.post("/v1/eod", json={"business_date": 0}, headers=ops).status_code == 422
    payoff = world.client.get(f"/v1/loans/{world.a.loan_id}/payoff", params={"date": "0"}, headers=world.tokens["a"])
    assert payoff.status_code == 422
    good = world.client.get("/v1/ledger/trial-balance", params={"as_of": "2026-11-22"}, headers=finance)
    assert good.status_code == 200 and good.json()["as_of"] == "2026-11-22"
