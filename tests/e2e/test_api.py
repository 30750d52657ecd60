"""The HTTP API on both databases: products, quotes, the error body, health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from puhui.adapters.db.database import Database
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare
from puhui.clock import FixedClock
from puhui.config import load_settings


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    container = Container(load_settings(database_url=db.url), db, FixedClock(datetime(2026, 11, 22, 2, tzinfo=UTC)))
    prepare(container)
    with TestClient(create_app(container)) as c:
        yield c


def test_health(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"


def test_products_list_every_method_with_its_apr_range(client: TestClient) -> None:
    response = client.get("/v1/products")
    assert response.status_code == 200
    products = {p["code"]: p for p in response.json()}
    methods = {p["repayment_method"] for p in products.values()}
    assert methods == {"equal_installment", "equal_principal", "interest_only", "flat_rate", "revolving_daily"}
    for p in products.values():
        assert Decimal(p["apr_from"]) <= Decimal(p["apr_to"]) <= Decimal("0.24")
        assert Decimal(p["annual_rate_min"]) <= Decimal(p["annual_rate_max"])
    rev = products["PH-REV"]
    assert rev["daily_rate_max"] == "0.000500" and rev["apr_to"] == "0.1825"
    # a flat-rate product's true APR is far above its nominal rate
    assert Decimal(products["PH-FLAT"]["apr_to"]) > Decimal(products["PH-FLAT"]["annual_rate_max"]) * Decimal("1.7")


def test_one_product_and_an_unknown_one(client: TestClient) -> None:
    assert client.get("/v1/products/PH-EI").json()["name_en"].startswith("Inclusive business loan")
    missing = client.get("/v1/products/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_quote_equal_installment(client: TestClient) -> None:
    body = {
        "product_code": "PH-EI",
        "amount": "10000.00",
        "term_months": 12,
        "annual_rate": "0.12",
        "start_date": "2026-01-31",
    }
    response = client.post("/v1/quotes", json=body)
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["installments"][0]["payment"] == "888.49"
    assert quote["installments"][0]["due_date"] == "2026-02-28"
    assert quote["installments"][1]["due_date"] == "2026-03-31"
    assert quote["apr"] == "0.1200" and quote["apr_percent"] == "12.00"
    assert sum(Decimal(i["principal"]) for i in quote["installments"]) == Decimal("10000.00")
    assert quote["net_disbursed"] == "10000.00"
    # 12 % is above 4 x LPR (12.00 %)? No: equal, so no warning
    assert quote["warnings"] == []


def test_quote_with_fees_shows_them_in_the_apr_and_warns_above_4x_lpr(client: TestClient) -> None:
    body = {
        "product_code": "PH-FLAT",
        "amount": "12000",
        "term_months": 12,
        "annual_rate": "0.10",
        "start_date": "2026-11-22",
    }
    quote = client.post("/v1/quotes", json=body).json()
    assert quote["upfront_fee"] == "120.00" and quote["net_disbursed"] == "11880.00"
    assert quote["total_fees"] == "120.00"
    assert {i["interest"] for i in quote["installments"]} == {"100.00"}
    assert Decimal(quote["apr_percent"]) > Decimal("18")
    assert [w["rule"] for w in quote["warnings"]] == ["R-1.4/4xLPR"]


def test_quote_over_the_cap_from_2028_is_refused_with_the_rule(client: TestClient) -> None:
    body = {
        "product_code": "PH-EI",
        "amount": "10000.00",
        "term_months": 12,
        "annual_rate": "0.18",
        "start_date": "2028-01-01",
    }
    response = client.post("/v1/quotes", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "rate_cap_exceeded"
    assert "R-1.4/4xLPR" in error["message"]


def test_revolving_quote_apr_is_the_daily_rate_times_basis(client: TestClient) -> None:
    body = {
        "product_code": "PH-REV",
        "amount": "10000.00",
        "term_months": 12,
        "annual_rate": "0.1825",
        "start_date": "2026-11-22",
    }
    quote = client.post("/v1/quotes", json=body).json()
    assert quote["apr_percent"] == "18.25" and quote["daily_rate"] == "0.000500"
    # interest for the first month: 10,000 x 0.05 % x 30 days (Nov 22 -> Dec 22)
    assert quote["installments"][0]["interest"] == "150.00"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"amount": 12000.5}, "amount"),
        ({"amount": "12000.001"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "5"}, "amount"),
        ({"term_months": 7}, "term_months"),
        ({"term_months": "twelve"}, "term_months"),
        ({"annual_rate": "0.5"}, "annual_rate"),
        ({"annual_rate": 0.12}, "annual_rate"),
        ({"product_code": "NOPE"}, "product_code"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"status": "approved"}, "status"),
    ],
)
def test_bad_quotes_name_the_field(client: TestClient, change: dict[str, object], path: str) -> None:
    body = {"product_code": "PH-EI", "amount": "10000.00", "term_months": 12, **change}
    response = client.post("/v1/quotes", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert path in [f["path"] for f in error["fields"]], error


def test_malformed_json_is_a_clear_4xx(client: TestClient) -> None:
    response = client.post("/v1/quotes", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/products", "/v1/products/{code}", "/v1/quotes", "/healthz"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
