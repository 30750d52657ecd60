"""A module-wide world (see world.py) on SQLite and PostgreSQL: built once per test module and
backend, because building it (two borrowers through decisions, contracts and payouts) costs seconds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from puhui.adapters.db.database import Database
from tests.reliability.world import World, build_world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[World]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("world") / "puhui.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
    else:
        from tests.conftest import PostgresFactory

        factory: PostgresFactory = request.getfixturevalue("postgres_factory")
        database = Database(factory.new_database())
    built = build_world(database)
    yield built
    built.client.close()
    database.dispose()
