"""Limits (RELIABILITY.md, item 7): a request body larger than its route allows is refused with 413
and the API's error body, and nothing is written; the data upload route takes up to 10 MB; a body
sent without a declared length is held to the same limit while it is read; a page is at most 100
rows."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from puhui.adapters.db.tables import borrower_data
from puhui.api.limits import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES
from puhui.bootstrap import seed_demo_staff
from tests.helpers import borrower_token, phone, resident_id, staff_token

QUOTE = '{"product_code": "PH-EI", "amount": "10000.00", "term_months": 12, "note": "%s"}'


def test_a_json_body_over_one_megabyte_is_413_with_the_error_body(demo_client: TestClient) -> None:
    small = demo_client.post("/v1/quotes", content=QUOTE % "x", headers={"content-type": "application/json"})
    assert small.status_code in (200, 422), small.text  # reaches the route (422: `note` is not a field)
    big = QUOTE % ("x" * MAX_REQUEST_BYTES)
    refused = demo_client.post("/v1/quotes", content=big, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "payload_too_large" and f"{MAX_REQUEST_BYTES:,}" in error["message"]


def test_a_streamed_body_over_the_limit_is_refused_too(demo_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"product_code": "PH-EI", "amount": "10000.00", "term_months": 12, "note": "'
        for _ in range(MAX_REQUEST_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    refused = demo_client.post("/v1/quotes", content=chunks(), headers={"content-type": "application/json"})
    assert refused.status_code == 413


def test_an_upload_may_be_larger_than_a_request_but_not_over_ten_megabytes(demo_client: TestClient) -> None:
    headers = borrower_token(demo_client, phone(5))
    body = {
        "kind": "individual",
        "name": "张三",
        "id_number": resident_id(5),
        "phone": phone(5),
        "region": "330106",
        "annual_revenue": "180000.00",
    }
    made = demo_client.post("/v1/borrowers", json=body, headers=headers)
    assert made.status_code == 201, made.text
    borrower_id = made.json()["id"]
    consent = {"scope": "transactions", "text_version": "1"}
    assert demo_client.post(f"/v1/borrowers/{borrower_id}/consents", json=consent, headers=headers).status_code == 201
    row = "t{n},2026-01-{d:02d},in,100.00,customer-1,1000.00\n"
    csv = "txn_id,occurred_on,direction,amount,counterparty_id,balance_after\n" + "".join(
        row.format(n=n, d=1 + n % 28) for n in range(40_000)
    )
    assert MAX_REQUEST_BYTES < len(csv) < MAX_UPLOAD_BYTES
    url = f"/v1/borrowers/{borrower_id}/data/transactions"
    kept = demo_client.post(url, content=csv, headers={**headers, "content-type": "text/csv"})
    assert kept.status_code == 202, kept.text[:500]
    container = demo_client.app.state.container  # type: ignore[attr-defined]

    def count() -> int:
        return int(container.db.read(lambda c: c.execute(select(func.count()).select_from(borrower_data)).scalar_one()))

    before = count()
    too_big = csv + "x" * MAX_UPLOAD_BYTES
    refused = demo_client.post(url, content=too_big, headers={**headers, "content-type": "text/csv"})
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"
    assert count() == before


def test_a_page_is_at_most_a_hundred_rows(demo_client: TestClient) -> None:
    seed_demo_staff(demo_client.app.state.container)  # type: ignore[attr-defined]
    officer = staff_token(demo_client, "officer")
    for path in ("/v1/borrowers", "/v1/loans", "/v1/reviews"):
        assert demo_client.get(f"{path}?limit=100", headers=officer).status_code == 200, path
        refused = demo_client.get(f"{path}?limit=101", headers=officer)
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["error"]["fields"][0]["path"] == "limit"
