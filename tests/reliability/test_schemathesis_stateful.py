"""Stateful Schemathesis (RELIABILITY.md, item 1): sequences of calls that follow the schema's
OpenAPI links (`src/puhui/api/links.py`), so a step uses the ids the previous responses answered:
list the borrowers, open one, grant and revoke a consent, apply, accept, read and sign the
contract, read the loan, repay, restructure, write off, replay the decision, resolve an alert...

The world is the stateless test's (two borrowers with loans, contracts, applications, consents,
a decision, an alert; `world.py`), a fresh one for this module. Each scenario starts as one of the
8 callers and may switch caller between steps (a maker proposes, a checker approves). As in the
stateless test, every other step that no link fed takes the world's real ids (path parameters,
a body's `borrower_id` and `product_code`), so that chains also start from real objects. Every
response, as in the stateless test: not a 5xx, a declared status and content type, the declared
schema, and a 4xx for data the schema forbids. Only the declared links are followed (the link
inference of Schemathesis is off), so the figures are about the contract as it is written.

`PUHUI_SCHEMATHESIS_SCENARIOS` and `PUHUI_SCHEMATHESIS_STEPS` size the run (20 x 10 in
`make test`; `make reliability` runs 300 x 20)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis.stateful import initialize, rule
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi import checks

from tests.reliability.test_schemathesis import CALLERS, CHECKS, _spec, _use_real_ids
from tests.reliability.world import World

SCENARIOS = int(os.environ.get("PUHUI_SCHEMATHESIS_SCENARIOS", "20"))
STEPS = int(os.environ.get("PUHUI_SCHEMATHESIS_STEPS", "10"))
REPORT_DIR = os.environ.get("PUHUI_SCHEMATHESIS_REPORT")

CONFIG = schemathesis.Config.from_dict(
    {"phases": {"examples": {"enabled": False}, "stateful": {"inference": {"algorithms": []}}}}
)
schema = schemathesis.openapi.from_dict(_spec(), config=CONFIG)

# (backend, operation, status) and (backend, link) -> how often
STATUSES: Counter[tuple[str, str, int]] = Counter()
FOLLOWED: Counter[tuple[str, str]] = Counter()
DONE: Counter[str] = Counter()  # scenarios run, per backend
RESTARTED: Counter[str] = Counter()  # runs Hypothesis stopped as flaky generation, per backend
FAILURES: list[str] = []
RESTARTS = 20


def _workflow(world: World) -> type[Any]:
    base: type[Any] = schema.as_state_machine()

    class Workflow(base):  # type: ignore[valid-type, misc]
        caller = "anonymous"

        @initialize(caller=st.sampled_from(CALLERS))
        def start_as(self, caller: str) -> None:
            self.caller = caller

        @rule(caller=st.sampled_from(CALLERS))
        def switch_to(self, caller: str) -> None:
            self.caller = caller

        def step(self, input: StepInput) -> StepOutput:
            self.turn = getattr(self, "turn", 0) + 1
            self.changed = False
            if input.transition is not None and input.is_applied:
                FOLLOWED[(world.container.db.dialect, f"{input.case.operation.label} <- {input.transition.id}")] += 1
            elif self.turn % 2:  # every other step that no link fed starts from the world's real objects
                self.changed = _use_real_ids(input.case, world)
            if self.turn % 2 and isinstance(input.case.body, dict):  # and a body's references, where no link set them
                linked = {name for _, name in input.applied_parameters}
                for name, real in (("borrower_id", world.a.borrower_id), ("product_code", "PH-FLAT")):
                    if name not in linked and isinstance(input.case.body.get(name), str):
                        self.changed |= input.case.body[name] != real
                        input.case.body[name] = real
            return super().step(input)  # type: ignore[no-any-return]

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            headers = {} if self.caller == "anonymous" else dict(world.tokens[self.caller])
            return {"app": world.app, "headers": headers}

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            STATUSES[(world.container.db.dialect, case.operation.label, response.status_code)] += 1
            try:
                assert response.status_code < 500, f"{response.status_code}: {response.text}"
                used = CHECKS
                if self.changed or case.media_type not in (None, "application/json"):
                    used = [c for c in CHECKS if c is not checks.negative_data_rejection]
                case.validate_response(
                    response,
                    checks=used,
                    headers=kwargs.get("headers"),
                    transport_kwargs={"app": world.app},
                    recorder=self.recorder,
                )
            except Exception as exc:  # kept, so that a failure is never lost in a restart (below)
                FAILURES.append(f"{case.method} {case.formatted_path} as {self.caller}: {exc}")
                raise

        def teardown(self) -> None:
            DONE[world.container.db.dialect] += 1
            super().teardown()

    return Workflow


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    if REPORT_DIR and STATUSES:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        out = Path(REPORT_DIR) / f"schemathesis-stateful-{worker}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "statuses": [
                {"backend": b, "operation": op, "status": s, "count": n} for (b, op, s), n in STATUSES.items()
            ],
            "links_followed": [{"backend": b, "link": link, "count": n} for (b, link), n in FOLLOWED.items()],
            "scenarios": dict(DONE),
            "restarts": dict(RESTARTED),
        }
        out.write_text(json.dumps(report, indent=1))


def test_linked_call_sequences_keep_the_contract(world: World) -> None:
    """The world changes as the scenarios run (a loan written off, a consent revoked), so the same
    choices do not always enable the same calls, and Hypothesis may stop a run as "flaky" data
    generation. Then the run goes on afresh, as Schemathesis' own runner does, until the scenarios
    are done; a failed check is never such a stop (it is recorded first and fails the test)."""
    dialect = world.container.db.dialect
    workflow = _workflow(world)
    for _ in range(RESTARTS):
        left = SCENARIOS - DONE[dialect]
        if left <= 0:
            break
        run = settings(
            max_examples=left,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # no shrinking: a replay would meet a world already changed
            suppress_health_check=list(HealthCheck),
        )
        try:
            workflow.run(settings=run)
            break
        except FlakyStrategyDefinition:
            assert not FAILURES, FAILURES
            RESTARTED[dialect] += 1
    assert not FAILURES, FAILURES
    followed = {link for (b, link), _ in FOLLOWED.items() if b == dialect}
    assert followed, "no link was followed: the scenarios never chained two calls"
