"""Products stored as their validated definition (JSON), keyed by code, versioned on change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db.tables import product_versions, products
from puhui.domain.products import LoanProduct, parse_product

CATALOGUE = "catalogue"  # a product file (TOML), loaded by `puhui demo` or at start-up
CONSOLE = "console"  # a staff user's edit


def _text(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)


def save(
    conn: Connection,
    product: LoanProduct,
    definition: Mapping[str, Any],
    *,
    active: bool = True,
    source: str = CATALOGUE,
    changed_by: str = CATALOGUE,
    changes: list[dict[str, Any]] | None = None,
) -> int:
    """Insert or update a product and record the version; returns it (unchanged definitions keep
    theirs). A product file that has not changed since it was last loaded leaves a staff user's
    later edit in place: loading the files again at start-up must not undo the console."""
    text = _text(definition)
    row = conn.execute(
        select(products.c.version, products.c.definition_json, products.c.active)
        .where(products.c.code == product.code)
        .with_for_update()
    ).first()
    if row is not None and row.definition_json == text and bool(row.active) == active:
        return int(row.version)
    if row is not None and source == CATALOGUE and _last_file_text(conn, product.code) == text:
        return int(row.version)
    now = datetime.now(UTC)
    values = {
        "name": product.name,
        "repayment_method": product.repayment_method.value,
        "lender_type": product.lender_type.value,
        "definition_json": text,
        "active": active,
        "updated_at": now,
    }
    version = 1 if row is None else int(row.version) + 1
    if row is None:
        conn.execute(products.insert().values(code=product.code, version=version, **values))
    else:
        conn.execute(products.update().where(products.c.code == product.code).values(version=version, **values))
    conn.execute(
        product_versions.insert().values(
            code=product.code,
            version=version,
            definition_json=text,
            active=active,
            source=source,
            changed_by=changed_by,
            changes_json=json.dumps(changes or [], ensure_ascii=False, default=str),
            changed_at=now,
        )
    )
    return version


def _last_file_text(conn: Connection, code: str) -> str | None:
    return conn.execute(
        select(product_versions.c.definition_json)
        .where(product_versions.c.code == code, product_versions.c.source == CATALOGUE)
        .order_by(product_versions.c.version.desc())
        .limit(1)
    ).scalar()


def current(conn: Connection, code: str, *, lock: bool = False) -> Any:
    """The product's row whether or not it is offered (code, version, definition_json, active)."""
    query = select(products).where(products.c.code == code)
    return conn.execute(query.with_for_update() if lock else query).first()


def history(conn: Connection, code: str, limit: int = 20) -> list[Any]:
    return list(
        conn.execute(
            select(product_versions)
            .where(product_versions.c.code == code)
            .order_by(product_versions.c.version.desc())
            .limit(limit)
        )
    )


def get_version(conn: Connection, code: str, version: int | None) -> LoanProduct | None:
    """The product as it was at `version` (a loan's terms); the current one, offered or not,
    for loans signed before versions were kept."""
    if version is None:
        row = current(conn, code)
        return _from_row(row.definition_json) if row else None
    text = conn.execute(
        select(product_versions.c.definition_json).where(
            product_versions.c.code == code, product_versions.c.version == version
        )
    ).scalar()
    return _from_row(text) if text is not None else None


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


def parsed(definition_json: str) -> tuple[LoanProduct, dict[str, Any]]:
    """A stored definition as a product and a copy of the definition it was parsed from."""
    product, definition = _parsed(definition_json)
    return product, dict(definition)


def list_all(conn: Connection) -> list[tuple[LoanProduct, bool, int]]:
    """Every product, offered or not: (product, active, version)."""
    rows = conn.execute(
        select(products.c.definition_json, products.c.active, products.c.version).order_by(products.c.code)
    )
    return [(_from_row(r.definition_json), bool(r.active), int(r.version)) for r in rows]
