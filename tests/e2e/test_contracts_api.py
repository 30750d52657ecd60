"""Accept an offer, read and verify the e-contract, sign it by SMS code, detect tampering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from puhui.adapters.db.database import Database
from puhui.clock import FixedClock
from tests.helpers import borrower_token, phone, resident_id


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    return demo_client


def _approved(client: TestClient, n: int, product: str = "PH-AGRI", amount: str = "20000.00") -> tuple[dict, str]:
    headers = borrower_token(client, phone(n))
    body = {"kind": "individual", "name": "李四", "id_number": resident_id(n), "phone": phone(n), "region": "330106"}
    borrower_id = client.post("/v1/borrowers", json=body, headers=headers).json()["id"]
    client.post(
        f"/v1/borrowers/{borrower_id}/consents",
        json={"scope": "credit_assessment", "text_version": "1"},
        headers=headers,
    )
    app = client.post(
        "/v1/applications",
        headers=headers,
        json={
            "borrower_id": borrower_id,
            "product_code": product,
            "amount": amount,
            "term_months": 12,
            "purpose": "seeds and fertiliser",
        },
    ).json()
    assert app["decision"]["outcome"] == "approved", app
    return headers, app["id"]


def test_accept_sign_and_verify(client: TestClient) -> None:
    headers, application_id = _approved(client, 1)
    accepted = client.post(f"/v1/applications/{application_id}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
    contract_id = accepted.json()["contract_id"]
    again = client.post(f"/v1/applications/{application_id}/accept", headers=headers)
    assert again.json()["contract_id"] == contract_id  # accepting twice gives the same contract
    contract = client.get(f"/v1/contracts/{contract_id}", headers=headers).json()
    assert contract["status"] == "pending_signature" and contract["loan_id"] is None
    doc = client.get(f"/v1/contracts/{contract_id}/document", headers=headers).text
    # every fee, the APR and the full schedule are in the document; identifiers only masked
    assert "年化利率" in doc and contract["terms"]["apr"] != ""
    assert f"{float(contract['terms']['apr']) * 100:.2f}%" in doc
    assert doc.count("<tr><td>") >= 12 + 3
    assert phone(1) not in doc and resident_id(1) not in doc
    assert client.get(f"/v1/contracts/{contract_id}/verify", headers=headers).json()["valid"] is True
    bad = client.post(f"/v1/contracts/{contract_id}/sign", json={"otp": "000000"}, headers=headers)
    assert bad.status_code == 401
    otp = client.post("/v1/auth/otp", json={"phone": phone(1)}).json()["demo_otp"]
    signed = client.post(f"/v1/contracts/{contract_id}/sign", json={"otp": otp}, headers=headers)
    assert signed.status_code == 201, signed.text
    assert signed.json()["document_sha256"] == contract["document_sha256"]
    loan_id = signed.json()["loan_id"]
    assert client.get(f"/v1/contracts/{contract_id}", headers=headers).json()["loan_id"] == loan_id


def test_tampering_with_the_stored_document_is_detected(client: TestClient, db: Database) -> None:
    headers, application_id = _approved(client, 2)
    contract_id = client.post(f"/v1/applications/{application_id}/accept", headers=headers).json()["contract_id"]
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE contracts SET document_html = replace(document_html, '12 个月', '24 个月')"))
    verdict = client.get(f"/v1/contracts/{contract_id}/verify", headers=headers).json()
    assert verdict["valid"] is False and verdict["stored_sha256"] != verdict["document_sha256"]


def test_an_expired_offer_cannot_be_accepted(client: TestClient, clock: FixedClock) -> None:
    headers, application_id = _approved(client, 3)
    clock.advance(timedelta(hours=73))
    headers = borrower_token(client, phone(3))  # the old token has expired too
    response = client.post(f"/v1/applications/{application_id}/accept", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "offer_expired"


def test_someone_elses_contract_is_not_found(client: TestClient) -> None:
    headers, application_id = _approved(client, 4)
    contract_id = client.post(f"/v1/applications/{application_id}/accept", headers=headers).json()["contract_id"]
    other = borrower_token(client, phone(5))
    assert client.get(f"/v1/contracts/{contract_id}", headers=other).status_code == 404
    assert client.get(f"/v1/contracts/{contract_id}/document", headers=other).status_code == 404
    assert client.post(f"/v1/applications/{application_id}/accept", headers=other).status_code == 404
