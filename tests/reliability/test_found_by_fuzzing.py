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
