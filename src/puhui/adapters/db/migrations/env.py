"""Alembic environment: uses the connection handed in by `migrate.upgrade`, or the URL option."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from puhui.adapters.db.engine import make_engine
from puhui.adapters.db.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            _migrate(conn)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
