"""The response models of the operations whose bodies the services build as dicts (loans, EOD, the
trial balance, decisions, alerts, health: api/schemas/{loans,operations,risk}.py) change nothing
in what the API answers: the body is the service's dict as FastAPI would have written it, byte for
byte on PostgreSQL. On SQLite a moment now carries its offset (`+00:00`; SQLite hands datetimes
back naive), as the other typed responses' moments do; nothing else differs.

And every JSON success response of the contract has a schema with named fields (RELIABILITY.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder

from puhui.api.deps import Credentials, authenticate
from puhui.api.routes import eod, health, ledger, loans, risk_alerts, risk_decisions
from puhui.domain.access import Principal
from tests.reliability.test_schemathesis import _spec
from tests.reliability.world import World


def _caller(world: World, who: str) -> Principal:
    token = world.tokens[who]["Authorization"].split()[1]
    return authenticate(world.container, Credentials(token, None))


def _with_offsets(value: Any) -> Any:
    """The plain encoding, with SQLite's naive moments given their UTC offset."""
    if isinstance(value, dict):
        return {k: _with_offsets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_offsets(v) for v in value]
    if isinstance(value, str) and len(value) == 19 and value[10:11] == "T" and value[4] == "-":
        return value + "+00:00"
    return value


def test_typed_bodies_are_the_services_dicts(world: World) -> None:
    c, a = world.container, world.a
    cases: list[tuple[str, str, Callable[[Principal], Any]]] = [
        ("a", "/v1/loans", lambda p: loans.list_loans(c, p, None, 50, 0)),
        ("admin", "/v1/loans", lambda p: loans.list_loans(c, p, None, 50, 0)),
        ("a", f"/v1/loans/{a.loan_id}", lambda p: loans.get_loan(a.loan_id, c, p)),
        ("a", f"/v1/loans/{a.loan_id}/schedule", lambda p: loans.schedule(a.loan_id, c, p)),
        ("a", f"/v1/loans/{a.loan_id}/transactions", lambda p: loans.transactions(a.loan_id, c, p)),
        ("a", f"/v1/loans/{a.loan_id}/payoff", lambda p: loans.payoff(a.loan_id, c, p, None)),
        ("ops", "/v1/eod", lambda p: eod.runs(c, p)),
        ("finance", "/v1/ledger/trial-balance", lambda p: ledger.trial_balance(c, p, None)),
        ("risk", "/v1/risk/alerts", lambda p: risk_alerts.alerts(c, p, None, 50, 0)),
        ("a", f"/v1/risk/decisions/{a.decision_id}", lambda p: risk_decisions.get_decision(a.decision_id, c, p)),
        ("risk", f"/v1/risk/decisions/{a.decision_id}", lambda p: risk_decisions.get_decision(a.decision_id, c, p)),
        ("a", "/healthz", lambda p: health.healthz(c)),
    ]
    for who, path, plain in cases:
        got = world.client.get(path, headers=world.tokens[who])
        assert got.status_code == 200, (path, got.text)
        body = jsonable_encoder(plain(_caller(world, who)))
        written = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        if c.db.dialect == "postgresql":
            assert got.content == written, path
        else:
            assert got.json() == _with_offsets(json.loads(written)), path


def test_every_json_success_response_names_its_fields() -> None:
    spec = _spec()

    def typed(schema: dict[str, Any]) -> bool:
        if "$ref" in schema:
            return True
        if schema.get("type") == "array":
            return typed(schema.get("items", {}))
        return bool(schema.get("properties"))

    untyped = [
        f"{method.upper()} {path} {status}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and "application/json" in response.get("content", {})
        and not typed(response["content"]["application/json"].get("schema", {}))
    ]
    assert untyped == []
