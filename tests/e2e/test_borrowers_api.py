"""Sign-in, registration with encrypted and masked identifiers, consent and object ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_staff
from puhui.clock import FixedClock
from tests.helpers import borrower_token, phone, resident_id, staff_token, uscc


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    return demo_client


def _individual(n: int) -> dict[str, object]:
    return {"kind": "individual", "name": "张三", "id_number": resident_id(n), "phone": phone(n), "region": "330106"}


def test_register_shows_only_masked_identifiers_and_stores_none_in_plaintext(client: TestClient, db: Database) -> None:
    headers = borrower_token(client, phone(1))
    body = _individual(1)
    response = client.post("/v1/borrowers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["phone"] == f"139****{phone(1)[-4:]}"
    assert out["id_number"].startswith("330") and "*" in out["id_number"]
    assert body["id_number"] not in response.text and phone(1) not in response.text
    with db.engine.connect() as conn:
        for table in ("borrowers", "sms_outbox", "otp_challenges", "auth_tokens"):
            dump = " ".join(str(v) for row in conn.execute(text(f"SELECT * FROM {table}")) for v in row)
            assert str(body["id_number"]) not in dump and phone(1) not in dump, table
    fetched = client.get(f"/v1/borrowers/{out['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json()["id"] == out["id"]


def test_enterprise_size_class_and_inclusive_flag(client: TestClient) -> None:
    headers = borrower_token(client, phone(2))
    body = {
        "kind": "enterprise",
        "name": "杭州小微制造有限公司",
        "id_number": uscc(2),
        "phone": phone(2),
        "region": "330106",
        "industry": "industry",
        "staff_count": 50,
        "annual_revenue": "10000000.00",
    }
    out = client.post("/v1/borrowers", json=body, headers=headers).json()
    assert out["size_class"] == "small" and out["inclusive"] is True


def test_a_business_records_its_licence_date_and_an_individual_cannot(client: TestClient) -> None:
    headers = borrower_token(client, phone(12))
    body = {
        "kind": "enterprise",
        "name": "成都川味食品有限公司",
        "id_number": uscc(12),
        "phone": phone(12),
        "region": "510104",
        "industry": "industry",
        "staff_count": 30,
        "annual_revenue": "8000000.00",
        "established_on": "2019-04-01",
    }
    out = client.post("/v1/borrowers", json=body, headers=headers)
    assert out.status_code == 201 and out.json()["established_on"] == "2019-04-01"
    future = client.post(
        "/v1/borrowers", json={**body, "id_number": uscc(13), "established_on": "2999-01-01"}, headers=headers
    )
    assert future.status_code == 422 and future.json()["error"]["fields"][0]["path"] == "established_on"
    me = borrower_token(client, phone(14))
    person = {**_individual(14), "established_on": "2019-04-01"}
    refused = client.post("/v1/borrowers", json=person, headers=me)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["path"] == "established_on"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"id_number": "330106198506120001"}, "id_number"),
        ({"phone": "12345678901"}, "phone"),
        ({"kind": "martian"}, "kind"),
        ({"region": "abc"}, "region"),
        ({"annual_revenue": 1.5}, "annual_revenue"),
    ],
)
def test_bad_registrations_name_the_field(client: TestClient, change: dict[str, object], path: str) -> None:
    headers = borrower_token(client, phone(3))
    body = {**_individual(3), **change}
    response = client.post("/v1/borrowers", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert path in [f["path"] for f in response.json()["error"]["fields"]]


def test_the_same_id_number_cannot_register_twice(client: TestClient) -> None:
    headers = borrower_token(client, phone(4))
    assert client.post("/v1/borrowers", json=_individual(4), headers=headers).status_code == 201
    again = client.post("/v1/borrowers", json=_individual(4), headers=headers)
    assert again.status_code == 409


def test_a_borrower_cannot_register_someone_elses_phone(client: TestClient) -> None:
    headers = borrower_token(client, phone(5))
    response = client.post("/v1/borrowers", json=_individual(6), headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "phone"


def test_other_borrowers_records_are_not_found(client: TestClient) -> None:
    mine = borrower_token(client, phone(7))
    theirs = borrower_token(client, phone(8))
    borrower_id = client.post("/v1/borrowers", json=_individual(7), headers=mine).json()["id"]
    assert client.get(f"/v1/borrowers/{borrower_id}", headers=theirs).status_code == 404
    assert client.get(f"/v1/borrowers/{borrower_id}/consents", headers=theirs).status_code == 404
    grant = client.post(
        f"/v1/borrowers/{borrower_id}/consents", json={"scope": "transactions", "text_version": "1"}, headers=theirs
    )
    assert grant.status_code == 404
    assert client.get("/v1/borrowers", headers=theirs).json() == []
    seed_demo_staff(client.app.state.container)
    officer = staff_token(client, "officer")
    assert client.get(f"/v1/borrowers/{borrower_id}", headers=officer).status_code == 200


def test_consent_is_per_scope_versioned_and_revocable(client: TestClient) -> None:
    headers = borrower_token(client, phone(9))
    borrower_id = client.post("/v1/borrowers", json=_individual(9), headers=headers).json()["id"]
    granted = client.post(
        f"/v1/borrowers/{borrower_id}/consents",
        json={"scope": "credit_assessment", "text_version": "2026-11"},
        headers=headers,
    )
    assert granted.status_code == 201
    assert granted.json()["purpose"].startswith("assess creditworthiness")
    consent_id = granted.json()["id"]
    revoked = client.delete(f"/v1/borrowers/{borrower_id}/consents/{consent_id}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    listed = client.get(f"/v1/borrowers/{borrower_id}/consents", headers=headers).json()
    assert [(c["scope"], c["active"]) for c in listed] == [("credit_assessment", False)]
    seed_demo_staff(client.app.state.container)
    officer = staff_token(client, "officer")
    refused = client.post(
        f"/v1/borrowers/{borrower_id}/consents", json={"scope": "credit_bureau", "text_version": "1"}, headers=officer
    )
    assert refused.status_code == 403


def test_otp_rate_limits_per_phone_and_per_ip(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/v1/auth/otp", json={"phone": phone(10)}).status_code == 202
    limited = client.post("/v1/auth/otp", json={"phone": phone(10)})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    for n in range(11, 16):
        assert client.post("/v1/auth/otp", json={"phone": phone(n)}).status_code == 202
    assert client.post("/v1/auth/otp", json={"phone": phone(16)}).status_code == 429  # 10 from this IP


def test_wrong_or_expired_otp_is_refused(client: TestClient, clock: FixedClock) -> None:
    sent = client.post("/v1/auth/otp", json={"phone": phone(20)}).json()
    wrong = "000000" if sent["demo_otp"] != "000000" else "111111"
    assert client.post("/v1/auth/token", json={"phone": phone(20), "otp": wrong}).status_code == 401
    clock.advance(timedelta(minutes=6))
    expired = client.post("/v1/auth/token", json={"phone": phone(20), "otp": sent["demo_otp"]})
    assert expired.status_code == 401


def test_staff_lockout_after_five_failures(client: TestClient) -> None:
    seed_demo_staff(client.app.state.container)
    for _ in range(5):
        assert client.post("/v1/auth/token", json={"username": "ops", "password": "nope"}).status_code == 401
    assert client.post("/v1/auth/token", json={"username": "ops", "password": "demo"}).status_code == 429


def test_routes_need_a_token(client: TestClient) -> None:
    assert client.get("/v1/borrowers").status_code == 401
    assert client.get("/v1/borrowers", headers={"Authorization": "Bearer forged"}).status_code == 401
    mixed = client.post("/v1/auth/token", json={"phone": phone(1), "otp": "1", "username": "x", "password": "y"})
    assert mixed.status_code == 422
