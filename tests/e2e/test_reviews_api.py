"""The manual review queue: maker–checker on changed terms, approve -> offer -> accept, decline,
who may act, and bad terms named by field."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from puhui.bootstrap import seed_demo_staff
from puhui.clock import FixedClock
from tests.helpers import borrower_token, phone, resident_id, share_cash_flow, staff_token


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    seed_demo_staff(demo_client.app.state.container)  # type: ignore[attr-defined]
    return demo_client


def _in_review(client: TestClient, n: int, amount: str = "800000.00") -> tuple[dict[str, str], str]:
    """A borrower (signed in) and an application of theirs; above ¥500k it goes to review."""
    headers = borrower_token(client, phone(n))
    body = {
        "kind": "individual_business",
        "name": f"王记小吃{n}",
        "id_number": resident_id(n),
        "phone": phone(n),
        "region": "330106",
        "industry": "catering",
        "staff_count": 4,
        "annual_revenue": "3000000.00",
        "established_on": "2019-06-01",
    }
    borrower_id = client.post("/v1/borrowers", json=body, headers=headers).json()["id"]
    share_cash_flow(client, headers, borrower_id, "individual_business", date(2026, 11, 22))
    consent = {"scope": "credit_assessment", "text_version": "2026-11"}
    assert client.post(f"/v1/borrowers/{borrower_id}/consents", json=consent, headers=headers).status_code == 201
    application = {
        "borrower_id": borrower_id,
        "product_code": "PH-EI",
        "amount": amount,
        "term_months": 24,
        "purpose": "a second shop",
    }
    response = client.post("/v1/applications", json=application, headers=headers)
    assert response.status_code == 201, response.text
    return headers, response.json()["id"]


def _terms(**change: object) -> dict[str, object]:
    return {"amount": "600000.00", "term_months": 36, "annual_rate": "0.1200", "note": "cut to cash flow", **change}


def test_queue_lists_review_applications_oldest_first(client: TestClient, clock: FixedClock) -> None:
    _, first = _in_review(client, 1)
    clock.advance(timedelta(minutes=5))
    _, second = _in_review(client, 2, amount="650000.00")
    _in_review(client, 3, amount="50000.00")  # approved at once: not in the queue
    officer = staff_token(client, "officer")
    queue = client.get("/v1/reviews", headers=officer)
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["total"] == 2 and [i["application_id"] for i in body["items"]] == [first, second]
    item = body["items"][0]
    assert item["status"] == "review" and item["amount"] == "800000.00" and item["borrower_name"] == "王记小吃1"
    assert item["decision"]["reasons"][0]["code"] == "LARGE_TICKET"
    assert item["proposed_terms"] is None and item["actions"] == []
    page = client.get("/v1/reviews?limit=1&offset=1", headers=officer).json()
    assert [i["application_id"] for i in page["items"]] == [second] and page["total"] == 2


def test_maker_cannot_approve_own_terms_checker_approves_borrower_accepts(client: TestClient) -> None:
    borrower, application_id = _in_review(client, 4)
    officer, risk = staff_token(client, "officer"), staff_token(client, "risk")

    proposed = client.post(f"/v1/reviews/{application_id}/terms", json=_terms(), headers=officer)
    assert proposed.status_code == 201, proposed.text
    terms = proposed.json()["proposed_terms"]
    assert (terms["amount"], terms["term_months"], terms["annual_rate"]) == ("600000.00", 36, "0.1200")
    assert terms["action"] == "propose_terms" and terms["actor_role"] == "officer" and terms["note"]
    assert Decimal("0.12") <= Decimal(terms["apr"]) < Decimal("0.13")

    refused = client.post(f"/v1/reviews/{application_id}/approve", json={}, headers=officer)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "maker_checker" and "another officer" in error["message"]

    approved = client.post(f"/v1/reviews/{application_id}/approve", json={"note": "checked"}, headers=risk)
    assert approved.status_code == 201, approved.text
    review = approved.json()
    assert review["status"] == "approved"
    assert [(a["seq"], a["action"], a["actor_role"]) for a in review["actions"]] == [
        (1, "propose_terms", "officer"),
        (2, "approve", "risk"),
    ]
    assert review["actions"][0]["actor"] != review["actions"][1]["actor"]
    assert client.get("/v1/reviews", headers=officer).json()["total"] == 0

    seen = client.get(f"/v1/applications/{application_id}", headers=borrower).json()
    assert seen["status"] == "approved" and seen["decision"]["outcome"] == "approved"
    assert seen["decision"]["approved_amount"] == "600000.00" and seen["decision"]["annual_rate"] == "0.1200"
    assert seen["decision"]["reasons"][-1]["code"] == "MANUAL_REVIEW_APPROVED"
    offer = seen["offer"]
    assert (offer["amount"], offer["term_months"], offer["annual_rate"]) == ("600000.00", 36, "0.1200")
    assert offer["status"] == "open" and len(seen["schedule"]) == 36
    assert sum(Decimal(i["principal"]) for i in seen["schedule"]) == Decimal("600000.00")

    accepted = client.post(f"/v1/applications/{application_id}/accept", headers=borrower)
    assert accepted.status_code == 201, accepted.text
    contract = client.get(f"/v1/contracts/{accepted.json()['contract_id']}", headers=borrower).json()
    assert contract["terms"]["amount"] == "600000.00" and contract["terms"]["annual_rate"] == "0.1200"

    again = client.post(f"/v1/reviews/{application_id}/approve", json={}, headers=risk)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_in_review"


def test_approval_without_changes_offers_the_requested_terms(client: TestClient) -> None:
    borrower, application_id = _in_review(client, 5)
    approved = client.post(f"/v1/reviews/{application_id}/approve", headers=staff_token(client, "officer"))
    assert approved.status_code == 201, approved.text
    seen = client.get(f"/v1/applications/{application_id}", headers=borrower).json()
    offer = seen["offer"]
    # the requested amount and term at the rate the credit policy priced
    assert (offer["amount"], offer["term_months"]) == ("800000.00", 24)
    assert offer["annual_rate"] == seen["decision"]["annual_rate"]
    assert seen["decision"]["pd"] is not None and seen["decision"]["policy_version"].startswith("credit-policy-")


def test_a_later_proposal_by_someone_else_frees_the_first_maker_to_approve(client: TestClient) -> None:
    _, application_id = _in_review(client, 6)
    officer, risk = staff_token(client, "officer"), staff_token(client, "risk")
    assert client.post(f"/v1/reviews/{application_id}/terms", json=_terms(), headers=officer).status_code == 201
    changed = _terms(amount="550000.00", term_months=24)
    assert client.post(f"/v1/reviews/{application_id}/terms", json=changed, headers=risk).status_code == 201
    assert client.post(f"/v1/reviews/{application_id}/approve", headers=risk).status_code == 409
    approved = client.post(f"/v1/reviews/{application_id}/approve", headers=officer)
    assert approved.status_code == 201, approved.text
    assert approved.json()["offer"]["amount"] == "550000.00"


def test_decline(client: TestClient) -> None:
    borrower, application_id = _in_review(client, 7)
    officer = staff_token(client, "officer")
    assert client.post(f"/v1/reviews/{application_id}/decline", json={}, headers=officer).status_code == 422
    declined = client.post(
        f"/v1/reviews/{application_id}/decline", json={"reason": "cash flow does not cover it"}, headers=officer
    )
    assert declined.status_code == 201, declined.text
    review = declined.json()
    assert review["status"] == "declined" and review["offer"] is None
    assert review["actions"][-1]["action"] == "decline" and review["actions"][-1]["note"].startswith("cash flow")
    seen = client.get(f"/v1/applications/{application_id}", headers=borrower).json()
    assert seen["decision"]["outcome"] == "declined" and seen["offer"] is None
    assert seen["decision"]["reasons"][-1]["code"] == "MANUAL_REVIEW_DECLINED"
    assert "cash flow" not in str(seen["decision"])  # the reviewer's note stays internal
    assert client.post(f"/v1/applications/{application_id}/accept", headers=borrower).status_code == 409
    risk = staff_token(client, "risk")
    assert client.post(f"/v1/reviews/{application_id}/approve", headers=risk).status_code == 409
    assert client.post(f"/v1/reviews/{application_id}/terms", json=_terms(), headers=risk).status_code == 409
    assert client.get("/v1/reviews", headers=officer).json()["items"] == []


def test_borrowers_do_not_see_the_queue_and_other_staff_are_refused(client: TestClient) -> None:
    borrower, application_id = _in_review(client, 8)
    paths = [
        ("get", "/v1/reviews", None),
        ("get", f"/v1/reviews/{application_id}", None),
        ("post", f"/v1/reviews/{application_id}/terms", _terms()),
        ("post", f"/v1/reviews/{application_id}/approve", {}),
        ("post", f"/v1/reviews/{application_id}/decline", {"reason": "no"}),
    ]
    ops, finance = staff_token(client, "ops"), staff_token(client, "finance")
    for method, path, body in paths:
        as_borrower = client.request(method, path, json=body, headers=borrower)
        assert as_borrower.status_code == 404, (path, as_borrower.text)
        assert as_borrower.json()["error"]["code"] == "not_found"
        for staff in (ops, finance):
            refused = client.request(method, path, json=body, headers=staff)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/reviews").status_code == 401
    admin = client.get(f"/v1/reviews/{application_id}", headers=staff_token(client, "admin"))
    assert admin.status_code == 200 and admin.json()["actions"] == []


def test_approving_an_application_not_in_review_is_a_conflict(client: TestClient) -> None:
    _, application_id = _in_review(client, 9, amount="50000.00")
    officer = staff_token(client, "officer")
    refused = client.post(f"/v1/reviews/{application_id}/approve", headers=officer)
    assert refused.status_code == 409 and "not awaiting review" in refused.json()["error"]["message"]
    assert (
        client.post(f"/v1/reviews/{application_id}/decline", json={"reason": "x"}, headers=officer).status_code == 409
    )
    assert client.post("/v1/reviews/nope/approve", headers=officer).status_code == 404


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"amount": "5000.00"}, "amount"),  # below the product
        ({"amount": "1500000.00"}, "amount"),  # above the product
        ({"term_months": 7}, "term_months"),  # not a term the product offers
        ({"annual_rate": "0.3000"}, "annual_rate"),  # outside the product's rate range
        ({"annual_rate": "0.12345"}, "annual_rate"),
        ({"annual_rate": 0.12}, "annual_rate"),  # floats refused
        ({"amount": "abc"}, "amount"),
        ({"approved": True}, "approved"),  # extra fields refused
    ],
)
def test_bad_terms_name_the_field(client: TestClient, change: dict[str, object], path: str) -> None:
    _, application_id = _in_review(client, 10)
    officer = staff_token(client, "officer")
    response = client.post(f"/v1/reviews/{application_id}/terms", json=_terms(**change), headers=officer)
    assert response.status_code == 422, response.text
    assert path in [f["path"] for f in response.json()["error"]["fields"]]
    assert client.get(f"/v1/reviews/{application_id}", headers=officer).json()["actions"] == []
