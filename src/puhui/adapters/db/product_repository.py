"""Products stored as their validated definition (JSON), keyed by code, versioned on change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db.tables import products
from puhui.domain.products import LoanProduct, parse_product


def save(conn: Connection, product: LoanProduct, definition: Mapping[str, Any]) -> int:
    """Insert or update a product; returns its version (unchanged definitions keep theirs)."""
    text = json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)
    row = conn.execute(
        select(products.c.version, products.c.definition_json).where(products.c.code == product.code)
    ).first()
    values = {
        "name": product.name,
        "repayment_method": product.repayment_method.value,
        "lender_type": product.lender_type.value,
        "definition_json": text,
        "active": True,
        "updated_at": datetime.now(UTC),
    }
    if row is None:
        conn.execute(products.insert().values(code=product.code, version=1, **values))
        return 1
    if row.definition_json == text:
        return int(row.version)
    version = int(row.version) + 1
    conn.execute(products.update().where(products.c.code == product.code).values(version=version, **values))
    return version


@lru_cache(maxsize=256)
def _parsed(definition_json: str) -> tuple[LoanProduct, dict[str, Any]]:
    """Parsing and validating a definition takes ~1 ms; the same text is the same product."""
    definition: dict[str, Any] = json.loads(definition_json)
    return parse_product(definition), definition


def _from_row(definition_json: str) -> LoanProduct:
    return _parsed(definition_json)[0]


def get(conn: Connection, code: str) -> LoanProduct | None:
    row = conn.execute(
        select(products.c.definition_json).where(products.c.code == code, products.c.active.is_(True))
    ).first()
    return _from_row(row.definition_json) if row else None


def list_active(conn: Connection) -> list[LoanProduct]:
    rows = conn.execute(select(products.c.definition_json).where(products.c.active.is_(True)).order_by(products.c.code))
    return [_from_row(r.definition_json) for r in rows]


def get_with_definition(conn: Connection, code: str) -> tuple[LoanProduct, dict[str, Any]] | None:
    """The product and the definition it was parsed from (stored with a decision, so it replays)."""
    row = conn.execute(
        select(products.c.definition_json).where(products.c.code == code, products.c.active.is_(True))
    ).first()
    if row is None:
        return None
    return parsed(row.definition_json)


def parsed(definition_json: str) -> tuple[LoanProduct, dict[str, Any]]:
    """A stored definition as a product and a copy of the definition it was parsed from."""
    product, definition = _parsed(definition_json)
    return product, dict(definition)
