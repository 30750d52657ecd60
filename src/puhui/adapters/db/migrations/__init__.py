"""Alembic migrations, run programmatically by `puhui.adapters.db.migrate.upgrade`."""
