"""Schemathesis over the whole OpenAPI contract (RELIABILITY.md, item 1).

Every operation of /openapi.json, called in-process (ASGI) on a real database holding two
borrowers' loans, contracts, applications, consents, decisions and alerts: generated requests
(valid and invalid), sent as a borrower, as each staff role or anonymously, with path ids that
are either generated or real ones. Every response must be: not a 5xx, a status the operation
declares, of the declared content type, matching the declared schema, and a 4xx for data the
schema forbids.

`PUHUI_SCHEMATHESIS_EXAMPLES` sets the examples per operation (default 15 in `make test`;
`make reliability` runs 100)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation.case import Case
from schemathesis.specs.openapi import checks

from puhui.adapters.db.database import Database
from puhui.api.app import create_app
from puhui.bootstrap import Container
from puhui.config import load_settings
from tests.reliability.world import World

EXAMPLES = int(os.environ.get("PUHUI_SCHEMATHESIS_EXAMPLES", "15"))
# where to write how often each operation answered with each status (make reliability sets it)
REPORT_DIR = os.environ.get("PUHUI_SCHEMATHESIS_REPORT")
TALLY: Counter[tuple[str, str, int]] = Counter()
CALLERS = ("a", "b", "officer", "risk", "ops", "finance", "admin", "anonymous")

CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _spec() -> dict[str, object]:
    # the contract does not depend on the data: an app on a database that is never opened
    url = "sqlite:///never-opened.db"
    return create_app(Container(load_settings(database_url=url, env="demo"), Database(url))).openapi()


# `given` (the caller, real or generated ids) cannot be combined with the schema's own examples
CONFIG = schemathesis.Config.from_dict({"phases": {"examples": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(_spec(), config=CONFIG)


def _use_real_ids(case: Case, world: World) -> bool:
    """Real ids in the path and the body's references; True if the request changed (then it is no
    longer the data Schemathesis generated, which may have been schema-violating on purpose)."""
    before = (dict(case.path_parameters or {}), dict(case.body) if isinstance(case.body, dict) else None)
    owned = world.a.by_param()
    for name in list(case.path_parameters or {}):
        if name in owned:
            case.path_parameters[name] = owned[name]
        elif name == "source":
            case.path_parameters[name] = "transactions"
        elif name == "code":
            case.path_parameters[name] = "PH-FLAT"
    # and the body's references, so that generated bodies also reach the business rules
    if isinstance(case.body, dict):
        if isinstance(case.body.get("borrower_id"), str):
            case.body["borrower_id"] = world.a.borrower_id
        if isinstance(case.body.get("product_code"), str):
            case.body["product_code"] = "PH-FLAT"
    return before != (dict(case.path_parameters or {}), dict(case.body) if isinstance(case.body, dict) else None)


@pytest.fixture(scope="module", autouse=True)
def _write_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if REPORT_DIR and TALLY:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        out = Path(REPORT_DIR) / f"schemathesis-{worker}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"backend": b, "operation": op, "status": st_, "count": n} for (b, op, st_), n in sorted(TALLY.items())]
        out.write_text(json.dumps(rows, indent=1))


@schema.given(caller=st.sampled_from(CALLERS), real_ids=st.booleans())
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    database=None,
)
def test_every_operation_keeps_its_contract(case: Case, caller: str, real_ids: bool, world: World) -> None:
    changed = _use_real_ids(case, world) if real_ids else False
    headers = {} if caller == "anonymous" else dict(world.tokens[caller])
    response = case.call(app=world.app, headers=headers)
    TALLY[(world.container.db.dialect, f"{case.method} {case.path}", response.status_code)] += 1
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
    used = CHECKS
    if changed or case.media_type not in (None, "application/json"):
        # a CSV or Parquet upload is bytes on the wire: a "non-string" body cannot be sent as one;
        # and a request given real ids is not the (maybe deliberately invalid) one generated
        used = [c for c in CHECKS if c is not checks.negative_data_rejection]
    case.validate_response(response, checks=used, headers=headers, transport_kwargs={"app": world.app})
