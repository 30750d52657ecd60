"""Editing a product over the API: checked as a product file is (each bad field named), only by
risk and admin users, recorded as a version with who changed what, used by new quotes at once,
kept when the product files are loaded again, and never by the loans signed before."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from puhui.adapters.db.tables import installments, loan_servicing, loans, product_versions, products
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.domain.enums import BorrowerKind
from puhui.services import seeding
from tests.helpers import borrower_token, phone, resident_id, staff_token

URL = "/v1/products/PH-FLAT"


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    seed_demo_staff(demo_client.app.state.container)  # type: ignore[attr-defined]
    return demo_client


def _container(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def _stored(client: TestClient) -> tuple[int, str]:
    row = _container(client).db.read(
        lambda c: c.execute(
            select(products.c.version, products.c.definition_json).where(products.c.code == "PH-FLAT")
        ).one()
    )
    return int(row.version), row.definition_json


def test_risk_changes_the_rate_range_and_new_quotes_use_it(client: TestClient) -> None:
    risk = staff_token(client, "risk")
    changed = client.put(URL, json={"rate_annual_min": "0.0700", "rate_annual_max": "0.0900"}, headers=risk)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["version"] == 2 and body["active"] is True
    assert body["product"]["annual_rate_min"] == "0.0700" and body["product"]["annual_rate_max"] == "0.0900"
    assert {c["field"]: (c["before"], c["after"]) for c in body["changes"]} == {
        "rate_annual_min": ("0.0600", "0.0700"),
        "rate_annual_max": ("0.1000", "0.0900"),
    }
    assert client.get(URL).json()["annual_rate_min"] == "0.0700"
    quote = client.post("/v1/quotes", json={"product_code": "PH-FLAT", "amount": "10000.00", "term_months": 12})
    assert quote.status_code == 200, quote.text
    assert quote.json()["annual_rate"] == "0.0700"
    # the audit: who, when, before and after
    audit = _container(client).db.read(
        lambda c: c.execute(select(product_versions).where(product_versions.c.code == "PH-FLAT")).all()
    )
    assert [(r.version, r.source) for r in sorted(audit, key=lambda r: r.version)] == [(1, "catalogue"), (2, "console")]
    edit = max(audit, key=lambda r: r.version)
    assert edit.changed_by.startswith("staff") or edit.changed_by  # the risk user's subject id
    assert {c["field"] for c in json.loads(edit.changes_json)} == {"rate_annual_min", "rate_annual_max"}
    # the same edit again changes nothing and makes no version
    again = client.put(URL, json={"rate_annual_min": "0.0700"}, headers=risk)
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["changes"] == []


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        ({"rate_annual_max": "0.3000"}, "rate_annual_max", "24"),  # above the 24 % cap
        ({"rate_annual_min": "12"}, "rate_annual_min", "fraction"),
        ({"rate_annual_min": "0.0900", "rate_annual_max": "0.0800"}, "rate_annual_max", "below"),
        ({"amount_min": "60000.00"}, "amount_max", "below"),
        ({"amount_min": "100.123"}, "amount_min", "two decimals"),
        ({"amount_max": "abc"}, "amount_max", ""),
        ({"term_options_months": [0, 12]}, "term_options_months", "1 to 360"),
        ({"term_options_months": []}, "term_options_months", "non-empty"),
        ({"penalty_multiplier": "0.9"}, "penalty_multiplier", "R-2.3"),
        ({"grace_days": 45}, "grace_days", "at most 30"),
        ({"fees": {"upfront_rate": "1.5"}}, "fees.upfront_rate", "fraction"),
        ({"name": " "}, "name", "non-empty"),
    ],
)
def test_a_bad_value_is_422_naming_its_field_and_nothing_is_stored(
    client: TestClient, edit: dict[str, object], field: str, words: str
) -> None:
    before = _stored(client)
    refused = client.put(URL, json=edit, headers=staff_token(client, "admin"))
    assert refused.status_code == 422, refused.text
    fields = {f["path"]: f["message"] for f in refused.json()["error"]["fields"]}
    assert field in fields, fields
    assert words in fields[field]
    assert _stored(client) == before


def test_undeclared_fields_are_refused(client: TestClient) -> None:
    refused = client.put(URL, json={"code": "OTHER", "day_count": "ACT/360"}, headers=staff_token(client, "risk"))
    assert refused.status_code == 422
    assert {f["path"] for f in refused.json()["error"]["fields"]} >= {"code", "day_count"}


def test_only_risk_and_admin_change_products_and_an_unknown_code_is_404(client: TestClient) -> None:
    before = _stored(client)
    edit = {"grace_days": 5}
    for user in ("officer", "ops", "finance"):
        assert client.put(URL, json=edit, headers=staff_token(client, user)).status_code == 403
    assert client.put(URL, json=edit, headers=borrower_token(client, phone(31))).status_code == 403
    assert client.put(URL, json=edit).status_code == 401
    assert _stored(client) == before
    missing = client.put("/v1/products/NO-SUCH", json=edit, headers=staff_token(client, "risk"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.put(URL, json=edit, headers=staff_token(client, "admin")).json()["product"]["grace_days"] == 5


def test_a_deactivated_product_leaves_the_catalogue_and_comes_back(client: TestClient) -> None:
    admin = staff_token(client, "admin")
    assert client.put(URL, json={"active": False}, headers=admin).json()["active"] is False
    assert client.get(URL).status_code == 404
    assert "PH-FLAT" not in [p["code"] for p in client.get("/v1/products").json()]
    assert client.put(URL, json={"active": True}, headers=admin).json()["version"] == 3
    assert client.get(URL).status_code == 200


def test_loading_the_product_files_again_keeps_the_edit(client: TestClient) -> None:
    client.put(URL, json={"rate_annual_max": "0.0950"}, headers=staff_token(client, "risk"))
    prepare(_container(client))  # what `puhui serve` does at every start
    assert client.get(URL).json()["annual_rate_max"] == "0.0950"
    assert _stored(client)[0] == 2


def test_a_loan_signed_before_an_edit_keeps_its_terms(client: TestClient) -> None:
    container = _container(client)
    seed_demo_capital(container)
    who = seeding.onboard(container, BorrowerKind.INDIVIDUAL, "张三", resident_id(41), phone(41))
    loan_id = seeding.originate(container, who, "PH-FLAT", Decimal("10000.00"), 12, "a laptop")
    assert loan_id is not None
    edit = {"penalty_multiplier": "0.5", "fees": {"per_period_amount": "1.00"}}  # 20.00 would break the 24 % cap
    assert client.put(URL, json=edit, headers=staff_token(client, "risk")).status_code == 200
    seeding.pay_out(container, loan_id)  # activated after the edit, on the terms it was signed under

    def read(conn):  # type: ignore[no-untyped-def]
        version = conn.execute(select(loans.c.product_version).where(loans.c.id == loan_id)).scalar_one()
        fees = conn.execute(select(installments.c.fee_minor).where(installments.c.loan_id == loan_id)).scalars().all()
        state = conn.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).one()
        return version, fees, state

    version, fees, state = container.db.read(read)
    assert version == 1
    assert set(fees) == {0} and len(fees) == 12  # no per-period fee: the contract had none
    assert state.penalty_rate_ppm == state.rate_ppm * 13 // 10  # contract rate + 30 %, as signed
    quote = client.post("/v1/quotes", json={"product_code": "PH-FLAT", "amount": "10000.00", "term_months": 12})
    assert quote.json()["installments"][0]["fee"] == "1.00"  # a new loan has the new fee
