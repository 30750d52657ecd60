"""Applications: consent first, bad input named, an instant decision, an offer that expires."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.helpers import borrower_token, phone, resident_id, share_cash_flow, uscc

AS_OF = date(2026, 11, 22)  # the demo client's business date


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    return demo_client


def _business(client: TestClient, n: int, consent: bool = True) -> tuple[dict[str, str], str]:
    headers = borrower_token(client, phone(n))
    body = {
        "kind": "individual_business",
        "name": "王记小吃",
        "id_number": resident_id(n),
        "phone": phone(n),
        "region": "330106",
        "industry": "catering",
        "staff_count": 4,
        "annual_revenue": "800000.00",
        "established_on": "2020-05-01",
    }
    borrower_id = client.post("/v1/borrowers", json=body, headers=headers).json()["id"]
    share_cash_flow(client, headers, borrower_id, "individual_business", AS_OF)
    if consent:
        granted = client.post(
            f"/v1/borrowers/{borrower_id}/consents",
            json={"scope": "credit_assessment", "text_version": "2026-11"},
            headers=headers,
        )
        assert granted.status_code == 201
    return headers, borrower_id


def _apply(client: TestClient, headers: dict[str, str], borrower_id: str, **change: object):  # type: ignore[no-untyped-def]
    body = {
        "borrower_id": borrower_id,
        "product_code": "PH-EI",
        "amount": "50000.00",
        "term_months": 12,
        "purpose": "restock for the spring festival",
        **change,
    }
    return client.post("/v1/applications", json=body, headers=headers)


def test_no_decision_without_credit_assessment_consent(client: TestClient) -> None:
    headers, borrower_id = _business(client, 1, consent=False)
    response = _apply(client, headers, borrower_id)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "consent_required" and "credit_assessment" in error["message"]


def test_approved_application_gets_an_offer_with_schedule_and_apr(client: TestClient) -> None:
    headers, borrower_id = _business(client, 2)
    response = _apply(client, headers, borrower_id)
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["decision"]["outcome"] == "approved"
    assert app["decision"]["approved_amount"] == "50000.00"
    offer = app["offer"]
    assert offer["status"] == "open" and offer["valid_until"].startswith("2026-11-25T02:00")
    assert len(app["schedule"]) == 12
    assert sum(Decimal(i["principal"]) for i in app["schedule"]) == Decimal("50000.00")
    assert Decimal(app["decision"]["apr"]) <= Decimal("0.24")
    again = client.get(f"/v1/applications/{app['id']}", headers=headers).json()
    assert again["decision"] == app["decision"] and again["offer"]["id"] == offer["id"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"product_code": "NOPE"}, "product_code"),
        ({"amount": "500.00"}, "amount"),
        ({"amount": "5000000.00"}, "amount"),
        ({"term_months": 7}, "term_months"),
        ({"amount": 100.5}, "amount"),
    ],
)
def test_bad_applications_name_the_field(client: TestClient, change: dict[str, object], path: str) -> None:
    headers, borrower_id = _business(client, 3)
    response = _apply(client, headers, borrower_id, **change)
    assert response.status_code == 422, response.text
    assert path in [f["path"] for f in response.json()["error"]["fields"]]


def test_product_not_for_this_kind_is_declined_with_a_reason(client: TestClient) -> None:
    headers, borrower_id = _business(client, 4)
    response = _apply(client, headers, borrower_id, product_code="PH-EP", amount="100000.00")
    assert response.status_code == 201
    decision = response.json()["decision"]
    assert decision["outcome"] == "declined" and decision["reasons"][0]["code"] == "KIND_NOT_ELIGIBLE"
    assert response.json()["offer"] is None


def test_large_ticket_goes_to_review(client: TestClient) -> None:
    headers, borrower_id = _business(client, 5)
    response = _apply(client, headers, borrower_id, amount="800000.00")
    assert response.json()["decision"]["outcome"] == "review"
    assert response.json()["offer"] is None


def test_applications_of_others_are_not_found(client: TestClient) -> None:
    mine, borrower_id = _business(client, 6)
    theirs, _ = _business(client, 7)
    application_id = _apply(client, mine, borrower_id).json()["id"]
    assert client.get(f"/v1/applications/{application_id}", headers=theirs).status_code == 404
    assert _apply(client, theirs, borrower_id).status_code == 404


def test_enterprise_applies_for_an_enterprise_product(client: TestClient) -> None:
    headers = borrower_token(client, phone(8))
    body = {
        "kind": "enterprise",
        "name": "小微制造",
        "id_number": uscc(8),
        "phone": phone(8),
        "region": "330106",
        "industry": "industry",
        "staff_count": 30,
        "annual_revenue": "6000000.00",
        "established_on": "2018-03-01",
    }
    borrower_id = client.post("/v1/borrowers", json=body, headers=headers).json()["id"]
    share_cash_flow(client, headers, borrower_id, "enterprise", AS_OF)
    client.post(
        f"/v1/borrowers/{borrower_id}/consents",
        json={"scope": "credit_assessment", "text_version": "1"},
        headers=headers,
    )
    response = _apply(client, headers, borrower_id, product_code="PH-EP", amount="200000.00", term_months=24)
    assert response.json()["decision"]["outcome"] == "approved"
    assert response.json()["schedule"][0]["principal"] == "8333.33"
