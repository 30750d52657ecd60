"""The product catalogue: load TOML definitions, check them against the caps, store them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from puhui.adapters.db import product_repository as repo
from puhui.adapters.db.database import Database
from puhui.domain.caps import CapFinding
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.pricing import check_product_admissible
from puhui.domain.products import LoanProduct, parse_product

DEMO_PRODUCTS_DIR = Path(__file__).resolve().parent.parent / "products"


@dataclass(frozen=True, slots=True)
class LoadedProduct:
    product: LoanProduct
    version: int
    warnings: tuple[CapFinding, ...]


def read_definition(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise DomainValidationError([FieldProblem(path.name, f"is not valid TOML: {exc}")]) from exc


def validate_definition(raw: dict[str, Any], on: date) -> tuple[LoanProduct, list[CapFinding]]:
    product = parse_product(raw)
    return product, check_product_admissible(product, on)


def load_products(db: Database, paths: list[Path], on: date) -> list[LoadedProduct]:
    """Validate every file first; store them all in one transaction only if all are valid."""
    checked = []
    for path in paths:
        raw = read_definition(path)
        product, warnings = validate_definition(raw, on)
        checked.append((product, raw, warnings))

    def work(conn: Any) -> list[LoadedProduct]:
        return [LoadedProduct(p, repo.save(conn, p, raw), tuple(w)) for p, raw, w in checked]

    return db.transaction(work)


def product_files(directory: Path = DEMO_PRODUCTS_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def list_products(db: Database) -> list[LoanProduct]:
    return db.read(repo.list_active)


def get_product(db: Database, code: str) -> LoanProduct | None:
    return db.read(lambda conn: repo.get(conn, code))
