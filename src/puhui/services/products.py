"""Editing a product: the new definition is checked exactly as a product file is (the domain's
field rules, then the legal caps and per-borrower limits), stored as a new version with who
changed what, and loans already signed keep the version they were signed under."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from puhui.adapters.db import product_repository as repo
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role
from puhui.domain.caps import CapFinding
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.products import LoanProduct
from puhui.services.borrowers import Forbidden, NotFound
from puhui.services.catalogue import validate_definition

EDIT_ROLES = (Role.RISK,)  # and admin (Principal.has_any): DESIGN.md, the risk manager owns products
FEE_FIELDS = ("upfront_amount", "upfront_rate", "per_period_amount", "per_period_rate")
# the texts borrowers and officers read, each with its longest length; an optional one left empty
# is removed from the definition (the page then shows the other language)
TEXT_LIMITS = {"name": 200, "name_en": 200, "description": 500, "description_zh": 500}
OPTIONAL_TEXTS = ("name_en", "description", "description_zh")
EDITABLE = (
    "name",
    "name_en",
    "description",
    "description_zh",
    "amount_min",
    "amount_max",
    "term_options_months",
    "rate_annual_min",
    "rate_annual_max",
    "fees",
    "penalty_multiplier",
    "grace_days",
    "active",
)


@dataclass(frozen=True, slots=True)
class ProductChange:
    product: LoanProduct
    version: int
    active: bool
    changes: list[dict[str, Any]]  # [{field, before, after}]; empty when nothing changed
    warnings: tuple[CapFinding, ...]


@dataclass(frozen=True, slots=True)
class ProductVersion:
    version: int
    active: bool
    source: str
    changed_by: str
    changed_at: datetime
    changes: list[dict[str, Any]]


def may_edit(caller: Principal) -> bool:
    return caller.has_any(EDIT_ROLES)


def update(container: Container, code: str, edits: Mapping[str, Any], caller: Principal) -> ProductChange:
    """Apply `edits` (a subset of EDITABLE; fees may be partial) to the product `code`."""
    if not may_edit(caller):
        raise Forbidden("only a risk or admin user can change a product")
    problems = [FieldProblem(name, "cannot be changed here") for name in edits if name not in EDITABLE]
    problems += [
        FieldProblem(name, f"must be at most {most} characters")
        for name, most in TEXT_LIMITS.items()
        if isinstance(edits.get(name), str) and len(edits[name]) > most
    ]
    if problems:
        raise DomainValidationError(problems)
    today = container.clock.business_date()

    def work(conn: Connection) -> ProductChange:
        row = repo.current(conn, code, lock=True)
        if row is None:
            raise NotFound(f"product {code} was not found")
        before: dict[str, Any] = json.loads(row.definition_json)
        current, _ = repo.parsed(row.definition_json)
        after = _apply(before, current, edits)
        active = bool(edits.get("active", row.active))
        product, warnings = validate_definition(after, today)  # raises naming every bad field
        changes = _changes(before, after)
        if row.active != active:
            changes.append({"field": "active", "before": bool(row.active), "after": active})
        if not changes:
            return ProductChange(product, int(row.version), active, [], tuple(warnings))
        version = repo.save(
            conn, product, after, active=active, source=repo.CONSOLE, changed_by=caller.subject_id, changes=changes
        )
        return ProductChange(product, version, active, changes, tuple(warnings))

    return container.db.transaction(work)


def _apply(before: Mapping[str, Any], current: LoanProduct, edits: Mapping[str, Any]) -> dict[str, Any]:
    after = {k: v for k, v in before.items()}
    for name, value in edits.items():
        if name == "active":
            continue
        if name == "fees":
            if not isinstance(value, Mapping):
                raise DomainValidationError([FieldProblem("fees", "must be a table of " + ", ".join(FEE_FIELDS))])
            after["fees"] = {**dict(before.get("fees", {})), **value}
        elif name in OPTIONAL_TEXTS and (not value or (isinstance(value, str) and not value.strip())):
            after.pop(name, None)
        else:
            after[name] = value
    rates_edited = "rate_annual_min" in edits or "rate_annual_max" in edits
    if rates_edited and ("rate_daily_min" in after or "rate_daily_max" in after):
        # a product quoted by the day, edited as annual rates: keep both ends annual
        after.pop("rate_daily_min", None)
        after.pop("rate_daily_max", None)
        after.setdefault("rate_annual_min", str(current.rate_annual_min))
        after.setdefault("rate_annual_max", str(current.rate_annual_max))
    return after


def _flat(definition: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in definition.items() if k != "fees"}
    fees = definition.get("fees", {})
    if isinstance(fees, Mapping):
        flat.update({f"fees.{k}": v for k, v in fees.items()})
    return flat


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    old, new = _flat(before), _flat(after)
    return [
        {"field": name, "before": old.get(name), "after": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def history(container: Container, code: str, limit: int = 20) -> list[ProductVersion]:
    rows = container.db.read(lambda conn: repo.history(conn, code, limit))
    return [
        ProductVersion(
            int(r.version), bool(r.active), r.source, r.changed_by, r.changed_at, json.loads(r.changes_json or "[]")
        )
        for r in rows
    ]


def get_any(container: Container, code: str) -> tuple[LoanProduct, bool, int] | None:
    """The product whether or not it is offered: the product, whether it is active, its version."""
    row = container.db.read(lambda conn: repo.current(conn, code))
    if row is None:
        return None
    return repo.parsed(row.definition_json)[0], bool(row.active), int(row.version)


def list_all(container: Container) -> list[tuple[LoanProduct, bool, int]]:
    return container.db.read(repo.list_all)
