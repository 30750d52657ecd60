"""The table definitions the code uses (adapters/db/tables.py) are exactly what the Alembic
migrations build, on both databases: no column, index or table in one and not the other."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import metadata


def _differences(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(context, metadata)
    # alembic's own version table is not part of the application's schema
    return [d for d in diffs if "alembic_version" not in repr(d)]


def test_migrated_schema_equals_the_table_definitions(db: Database) -> None:
    assert _differences(db) == []
