"""Who reaches what (RELIABILITY.md, item 2), generated from the OpenAPI contract.

1. Object-level authorisation (OWASP API1): every operation whose path names a borrower-owned
   object, called by borrower B on borrower A's real ids: 404 (or 403), every time.
2. Function-level authorisation (OWASP API5): every operation, called by each staff role and by
   both borrowers, against the table below. The table is what the code's role checks say
   (services/*: *_ROLES, api/routes: require_roles); a change to either shows here.
3. Mass assignment (OWASP API3): every JSON body with fields it does not declare (status,
   annual_rate, approved_amount, owner, borrower_id, ...) is refused with 422 and the database is
   byte-for-byte what it was.

Verdicts: "ok" = the function was reached (any status but 401 unauthorized, 403 or 404: a 409 or
422 from the state or the body still means the caller got in); "403"; "404"."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db.tables import metadata
from tests.helpers import bank_card, phone, resident_id
from tests.reliability.test_schemathesis import schema
from tests.reliability.world import World

CALLERS = ("a", "b", "officer", "risk", "ops", "finance", "admin")
OWNED_PARAMS = {"borrower_id", "application_id", "contract_id", "loan_id", "consent_id", "decision_id"}
# no sign-in needed (or a signature instead of one): outside the matrix, covered by their own tests
PUBLIC = {
    "GET /healthz",
    "POST /v1/auth/otp",
    "POST /v1/auth/token",
    "GET /v1/products",
    "GET /v1/products/{code}",
    "POST /v1/quotes",
    "POST /v1/callbacks/bank",
}
_serial = itertools.count(500)


def _new_borrower(w: World, caller: str) -> dict[str, Any]:
    n = next(_serial)
    mobile = phone(101) if caller == "a" else phone(202) if caller == "b" else phone(n)
    return {"kind": "individual", "name": "新人", "id_number": resident_id(n), "phone": mobile, "region": "330106"}


def _sign(w: World, caller: str) -> dict[str, Any]:
    if caller != "a":
        return {"otp": "000000"}
    sent = w.client.post("/v1/auth/otp", json={"phone": phone(101)})
    return {"otp": sent.json()["demo_otp"]}


Body = dict[str, Any] | list[Any] | Callable[[World, str], Any] | None
# the body each operation is called with: valid, so that a refusal is about who calls, not what
BODIES: dict[str, Body] = {
    "POST /v1/borrowers": _new_borrower,
    "POST /v1/borrowers/{borrower_id}/consents": {"scope": "relations", "text_version": "1"},
    "POST /v1/borrowers/{borrower_id}/data/{source}": [],
    "POST /v1/applications": lambda w, _: {
        "borrower_id": w.a.borrower_id,
        "product_code": "PH-FLAT",
        "amount": "5000.00",
        "term_months": 12,
        "purpose": "stock",
    },
    "POST /v1/reviews/{application_id}/terms": {"amount": "5000.00", "term_months": 12, "annual_rate": "0.1000"},
    "POST /v1/reviews/{application_id}/approve": {},
    "POST /v1/reviews/{application_id}/decline": {"reason": "matrix"},
    "POST /v1/contracts/{contract_id}/sign": _sign,
    "POST /v1/loans/{loan_id}/disbursements": lambda _w, _c: {"account_number": bank_card(next(_serial))},
    "POST /v1/loans/{loan_id}/repayments": {"amount": "1.00"},
    "POST /v1/loans/{loan_id}/restructure": {"term_months": 12, "reason": "matrix"},
    "POST /v1/loans/{loan_id}/write-off": {"reason": "matrix"},
    "POST /v1/loans/{loan_id}/class-upgrade": {"to_class": "special_mention", "assessment": "matrix assessment"},
    "POST /v1/eod": lambda w, _: {"business_date": w.clock.business_date().isoformat()},
    "POST /v1/risk/alerts/{alert_id}/resolve": {"resolution": "matrix"},
    "POST /v1/risk/flagged-accounts": lambda _w, _c: {"account_number": bank_card(next(_serial)), "reason": "m"},
    "PUT /v1/products/{code}": {"grace_days": 3},
    "POST /v1/risk/decisions": lambda w, _: {
        "borrower_id": w.a.borrower_id,
        "product_code": "PH-FLAT",
        "amount": "5000.00",
        "term_months": 12,
    },
}

# required query parameters
QUERIES = {"GET /v1/borrowers/{borrower_id}/identity": {"reason": "matrix"}}

# fmt: off
# operation                                              a     b      officer risk   ops    finance admin
MATRIX: dict[str, tuple[str, ...]] = {
    "POST /v1/borrowers":                                 ("ok", "ok",  "ok",  "403", "ok",  "403", "ok"),
    "GET /v1/borrowers":                                  ("ok", "ok",  "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/borrowers/{borrower_id}":                    ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "POST /v1/borrowers/{borrower_id}/consents":          ("ok", "404", "403", "403", "403", "403", "403"),
    "GET /v1/borrowers/{borrower_id}/identity":           ("403", "403", "403", "403", "403", "403", "ok"),
    "GET /v1/borrowers/{borrower_id}/consents":           ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "DELETE /v1/borrowers/{borrower_id}/consents/{consent_id}":
                                                          ("ok", "404", "403", "403", "403", "403", "403"),
    "POST /v1/borrowers/{borrower_id}/data/{source}":     ("ok", "404", "ok",  "ok",  "ok",  "403", "ok"),
    "POST /v1/applications":                              ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/applications/{application_id}":              ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/reviews":                                    ("404", "404", "ok", "ok",  "403", "403", "ok"),
    "GET /v1/reviews/{application_id}":                   ("404", "404", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/reviews/{application_id}/terms":            ("404", "404", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/reviews/{application_id}/approve":          ("404", "404", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/reviews/{application_id}/decline":          ("404", "404", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/applications/{application_id}/accept":      ("ok", "404", "403", "403", "403", "403", "403"),
    "GET /v1/contracts/{contract_id}":                    ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/contracts/{contract_id}/document":           ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/contracts/{contract_id}/pdf":                ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "POST /v1/contracts/{contract_id}/sign":              ("ok", "404", "403", "403", "403", "403", "403"),
    "GET /v1/contracts/{contract_id}/verify":             ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "POST /v1/loans/{loan_id}/disbursements":             ("ok", "404", "403", "403", "ok",  "ok",  "ok"),
    "POST /v1/loans/{loan_id}/repayments":                ("ok", "404", "403", "403", "ok",  "ok",  "ok"),
    "POST /v1/loans/{loan_id}/restructure":               ("403", "403", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/loans/{loan_id}/class-upgrade":             ("403", "403", "ok", "ok",  "403", "403", "ok"),
    "POST /v1/loans/{loan_id}/write-off":                 ("403", "403", "403", "403", "403", "ok", "ok"),
    "GET /v1/loans":                                      ("ok", "ok",  "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/loans/{loan_id}/payoff":                     ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/loans/{loan_id}/schedule":                   ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/loans/{loan_id}/transactions":               ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/loans/{loan_id}":                            ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/eod":                                        ("403", "403", "403", "403", "ok", "403", "ok"),
    "POST /v1/eod":                                       ("403", "403", "403", "403", "ok", "403", "ok"),
    "GET /v1/ledger/trial-balance":                       ("403", "403", "403", "403", "ok", "ok",  "ok"),
    "GET /v1/risk/alerts":                                ("403", "403", "403", "ok",  "ok",  "403", "ok"),
    "POST /v1/risk/alerts/{alert_id}/resolve":            ("403", "403", "403", "ok",  "ok",  "403", "ok"),
    "POST /v1/risk/flagged-accounts":                     ("403", "403", "403", "ok",  "403", "403", "ok"),
    "POST /v1/risk/decisions":                            ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/risk/decisions/{decision_id}":               ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "POST /v1/risk/decisions/{decision_id}/replay":       ("ok", "404", "ok",  "ok",  "ok",  "ok",  "ok"),
    "GET /v1/risk/monitoring":                            ("403", "403", "403", "ok", "403", "403", "ok"),
    "PUT /v1/products/{code}":                            ("403", "403", "403", "ok", "403", "403", "ok"),
}
# fmt: on


def _operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in schema.raw_schema["paths"].items() for method in ops]


def _label(method: str, path: str) -> str:
    return f"{method} {path}"


def _url(w: World, path: str) -> str:
    ids = {**w.a.by_param(), "application_id": w.a.open_application_id, "source": "transactions", "code": "PH-FLAT"}
    if "/accept" in path:
        ids["application_id"] = w.a.open_application_id
    if "/sign" in path or path.startswith("/v1/contracts/{contract_id}"):
        ids["contract_id"] = w.a.open_contract_id if "/sign" in path else w.a.contract_id
    return path.format(**ids)


def _call(w: World, method: str, path: str, caller: str) -> tuple[int, str]:
    body = BODIES.get(_label(method, path))
    if callable(body):
        body = body(w, caller)
    headers = dict(w.tokens[caller])
    if path.endswith(("/disbursements", "/repayments")):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    kwargs: dict[str, Any] = {"headers": headers, "params": QUERIES.get(_label(method, path))}
    if body is not None:
        kwargs["json"] = body
    response = w.client.request(method, _url(w, path), **kwargs)
    assert response.status_code < 500, f"{caller} {method} {path}: {response.status_code} {response.text}"
    return response.status_code, response.text


def _verdict(status: int, body: str) -> str:
    if status == 403:
        return "403"
    if status == 404 and '"not_found"' in body:
        return "404"
    if status == 401 and '"unauthorized"' in body and "sign in first" in body:
        return "401"
    return "ok"


def test_every_operation_is_in_the_matrix_or_public() -> None:
    labels = {_label(m, p) for m, p in _operations()}
    assert labels - PUBLIC - set(MATRIX) == set(), "add the new operation to MATRIX (who may call it) or PUBLIC"
    assert set(MATRIX) - labels == set(), "MATRIX names operations the API no longer has"
    # without a valid body every caller would get 422 and the row would say nothing about roles
    needs_body = {
        _label(m.upper(), p)
        for p, ops in schema.raw_schema["paths"].items()
        for m, op in ops.items()
        if op.get("requestBody", {}).get("required")
    }
    assert needs_body - PUBLIC - set(BODIES) == set(), "add a valid body for the operation to BODIES"


def test_another_borrowers_objects_are_not_found(world: World) -> None:
    """Every operation naming a borrower-owned object in its path, generated from the contract."""
    owned = [(m, p) for m, p in _operations() if OWNED_PARAMS & set(_path_params(p))]
    assert len(owned) >= 25  # the contract has not lost its owned routes (a sanity floor, not the figure)
    refused = {_label(m, p): _call(world, m, p, "b")[0] for m, p in owned}
    assert {op: status for op, status in refused.items() if status not in (403, 404)} == {}
    # and the owner gets in, so the 404s are about B, not about the ids
    reached = {_label(m, p): _verdict(*_call(world, m, p, "a")) for m, p in owned}
    expected_owner = {op: MATRIX[op][0] for op in reached}
    assert reached == expected_owner


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_each_role_reaches_only_its_functions(world: World) -> None:
    actual: dict[str, tuple[str, ...]] = {}
    # the refusals first, so an allowed call's effect (a write-off, a revoked consent) cannot turn
    # a later refusal into a different status
    order = sorted(range(len(CALLERS)), key=lambda i: i == 0 or CALLERS[i] in ("officer", "ops", "admin"))
    for label in MATRIX:
        method, path = label.split(" ", 1)
        row = [""] * len(CALLERS)
        for i in order:
            row[i] = _verdict(*_call(world, method, path, CALLERS[i]))
        actual[label] = tuple(row)
    mismatches = {op: {"expected": MATRIX[op], "actual": actual[op]} for op in MATRIX if actual[op] != MATRIX[op]}
    assert mismatches == {}


# --- mass assignment ---------------------------------------------------------------------------

EXTRA_FIELDS = {
    "status": "approved",
    "annual_rate": "0.0001",
    "approved_amount": "999999.00",
    "credit_limit": "999999.00",
    "owner": "someone-else",
    "borrower_id": "00000000-0000-0000-0000-000000000000",
    "id": "00000000-0000-0000-0000-000000000001",
    "role": "admin",
    "decision": {"outcome": "approved"},
    "outstanding": "0.00",
}


def _dump(conn: Connection) -> list[tuple[str, list[tuple[Any, ...]]]]:
    tables = []
    for table in metadata.sorted_tables:
        if table.name == "auth_tokens":
            continue  # signing in is not what is under test
        rows = conn.execute(select(table)).all()
        tables.append((table.name, sorted(tuple(str(v) for v in r) for r in rows)))
    return tables


def _json_body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if body is None:
        return None
    if "$ref" in body:
        body = schema.raw_schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return body if body.get("type") == "object" else None


def test_undeclared_fields_are_refused_and_change_nothing(world: World) -> None:
    tried = 0
    for path, ops in schema.raw_schema["paths"].items():
        for method, op in ops.items():
            body_schema = _json_body_schema(op)
            label = _label(method.upper(), path)
            if body_schema is None or label in PUBLIC - {"POST /v1/quotes", "POST /v1/auth/token"}:
                continue
            assert body_schema.get("additionalProperties") is False, f"{label}: the body must forbid unknown fields"
            base = BODIES.get(label) or _public_body(label)
            for field, value in EXTRA_FIELDS.items():
                if field in body_schema.get("properties", {}):
                    continue  # a field the operation declares is not an extra one
                before = world.container.db.read(_dump)
                sent = base(world, "admin") if callable(base) else base
                sent = {**(sent or {}), field: value}
                # admin passes every role dependency, so the body is what gets refused
                headers = {**world.tokens["admin"], "Idempotency-Key": "mass"}
                response = world.client.request(method.upper(), _url(world, path), json=sent, headers=headers)
                assert response.status_code == 422, f"{label} + {field}: {response.status_code} {response.text}"
                assert response.json()["error"]["fields"][0]["path"] == field
                assert world.container.db.read(_dump) == before, f"{label} + {field} changed the database"
                tried += 1
    assert tried >= 150  # about 20 bodies x 10 fields, less the declared ones


def _public_body(label: str) -> dict[str, Any] | None:
    return {
        "POST /v1/quotes": {"product_code": "PH-FLAT", "amount": "5000.00", "term_months": 12},
        "POST /v1/auth/token": {"username": "admin", "password": "demo"},
    }.get(label)


def test_the_dump_sees_a_change(world: World) -> None:
    """The before/after comparison above can fail: a real write shows in the dump."""
    before = world.container.db.read(_dump)
    granted = world.client.post(
        f"/v1/borrowers/{world.a.borrower_id}/consents",
        json={"scope": "tax_invoices", "text_version": "2"},
        headers=world.tokens["a"],
    )
    assert granted.status_code == 201
    assert world.container.db.read(_dump) != before
