"""The credit-policy tables (GoRules JDM, risk/policy/*.json) evaluated by zen-engine.

`ZenRules` reads the directory once: it checks every cell's expression (zen treats a row whose
expression fails as a row that does not match, so a typo would silently switch a rule off),
keeps one pre-compiled `ZenDecisionContent` per table for the engine's loader, and derives the
policy version from the `version` label and a sha256 of the JSON bytes. Each evaluation keeps the
engine's trace (less its timings) as the audit record.

`engine.evaluate(key, ...)` through the loader is used rather than `ZenDecision.evaluate`: on
zen-engine 2.1 the latter measured about ten times slower per call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zen

import puhui.risk.policy as policy
from puhui.risk.policy import PolicyTableError, RulesOutcome

POLICY_DIRECTORY = Path(policy.__file__).parent
VERSION_FILE = "version"
DIGEST_CHARS = 12  # sha256 prefix in the policy version: 48 bits, ample to tell table sets apart


class ZenRules:
    """A RulesEvaluator over the JDM files of one directory (table name = file name without .json)."""

    def __init__(self, directory: Path = POLICY_DIRECTORY) -> None:
        self.directory = directory
        sources = {path.stem: path.read_bytes() for path in sorted(directory.glob("*.json"))}
        if not sources:
            raise PolicyTableError(f"no policy tables (*.json) in {directory}")
        for name, raw in sources.items():
            _check_expressions(name, raw)
        self._contents = {name: zen.ZenDecisionContent(raw.decode("utf-8")) for name, raw in sources.items()}
        self._engine = zen.ZenEngine({"loader": self._load})
        self._version = f"{_label(directory)}+sha256:{_digest(sources)[:DIGEST_CHARS]}"

    @property
    def policy_version(self) -> str:
        """`<label from the version file>+sha256:<first 12 hex digits over the JSON files>`."""
        return self._version

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._contents)

    def evaluate(self, name: str, context: Mapping[str, object]) -> RulesOutcome:
        if name not in self._contents:
            raise PolicyTableError(f"no policy table {name!r} in {self.directory}")
        try:
            response = self._engine.evaluate(name, dict(context), {"trace": True})
        except RuntimeError as exc:
            raise PolicyTableError(f"{name}.json failed: {_first_line(exc)}") from exc
        return RulesOutcome(result=response["result"], trace=_without_timings(response["trace"]))

    def _load(self, key: str) -> zen.ZenDecisionContent:
        return self._contents[key]  # compiled once in __init__; a lookup per evaluation


def _without_timings(trace: dict[str, Any]) -> dict[str, Any]:
    # Timings vary run to run; without them a replayed decision reproduces its stored trace exactly.
    return {node: {k: v for k, v in step.items() if k != "performance"} for node, step in trace.items()}


def _label(directory: Path) -> str:
    path = directory / VERSION_FILE
    label = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not label or any(c.isspace() for c in label):
        raise PolicyTableError(f"{path} must hold one version label without spaces")
    return label


def _digest(sources: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name, raw in sorted(sources.items()):
        # the name is hashed too, so swapping two tables' contents changes the version
        digest.update(name.encode() + b"\0" + raw + b"\0")
    return digest.hexdigest()


def _check_expressions(name: str, raw: bytes) -> None:
    """Compile every input cell (unary), output cell and expression; refuse the file on an error."""
    try:
        graph = json.loads(raw)
    except ValueError as exc:
        raise PolicyTableError(f"{name}.json is not valid JSON: {exc}") from exc
    for node in graph.get("nodes", []):
        content = node.get("content") or {}
        where = f"{name}.json, node {node.get('id')!r}"
        if node.get("type") == "decisionTableNode":
            _check_table(where, content)
        elif node.get("type") == "expressionNode":
            for expression in content.get("expressions", []):
                _compile(zen.compile_expression, expression.get("value", ""), f"{where}, {expression.get('key')!r}")


def _check_table(where: str, content: Mapping[str, Any]) -> None:
    inputs = [column["id"] for column in content.get("inputs", [])]
    outputs = [column["id"] for column in content.get("outputs", [])]
    for rule in content.get("rules", []):
        at = f"{where}, rule {rule.get('_id')!r}"
        for column in inputs:
            cell = rule.get(column, "")
            if cell.strip():  # an empty input cell matches anything
                _compile(zen.compile_unary_expression, cell, f"{at}, input {column!r}")
        for column in outputs:
            _compile(zen.compile_expression, rule.get(column, ""), f"{at}, output {column!r}")


def _compile(compile_: Any, expression: str, where: str) -> None:
    try:
        compile_(expression)
    except RuntimeError as exc:
        raise PolicyTableError(f"{where}: {expression!r} does not compile: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    # zen's messages carry a Rust backtrace after the first line
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
