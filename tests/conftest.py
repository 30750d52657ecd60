"""Shared fixtures: databases on SQLite and PostgreSQL, and the PostgreSQL-under-CI rule.

The PostgreSQL suite runs when PUHUI_TEST_POSTGRES_URL is set or a server answers on
127.0.0.1:5432. Under CI=true a missing server, or a run in which no PostgreSQL test passed,
is a failure, never a quiet skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from puhui.adapters.db.database import Database
from puhui.adapters.db.engine import make_engine, normalise_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_pg_passed = 0


def postgres_admin_url() -> str | None:
    url = os.environ.get("PUHUI_TEST_POSTGRES_URL")
    if url:
        return normalise_url(url)
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return normalise_url(DEFAULT_PG_URL)
    except OSError:
        return None


def _require_postgres() -> str:
    url = postgres_admin_url()
    if url is None:
        if IN_CI:
            pytest.fail("CI=true but PostgreSQL is not reachable: the PostgreSQL suite must run", pytrace=False)
        pytest.skip("PostgreSQL not reachable (set PUHUI_TEST_POSTGRES_URL or start a server on 127.0.0.1:5432)")
    return url


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


class PostgresFactory:
    """Migrates one template database per worker; each test gets a fresh copy of it."""

    def __init__(self, admin_url: str, worker: str) -> None:
        self.admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.admin_url = admin_url
        self.template = f"puhui_tpl_{worker}_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self._exec(f'CREATE DATABASE "{self.template}"')
        db = Database(_with_database(admin_url, self.template))
        db.migrate()
        db.dispose()

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def new_database(self) -> str:
        name = f"puhui_t_{uuid.uuid4().hex[:12]}"
        self._exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return _with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in [*self.created, self.template]:
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_factory(worker_id: str) -> Iterator[PostgresFactory]:
    url = _require_postgres()
    factory = PostgresFactory(url, worker_id)
    yield factory
    factory.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite (a file) and PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        path = tmp_path / "puhui.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
    else:
        factory: PostgresFactory = request.getfixturevalue("postgres_factory")
        database = Database(factory.new_database())
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty SQLite database only (the browser tests: what `make run` serves)."""
    path = tmp_path / "puhui.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def pg_db(postgres_factory: PostgresFactory) -> Iterator[Database]:
    """A fresh PostgreSQL database only (concurrency tests)."""
    database = Database(postgres_factory.new_database())
    yield database
    database.dispose()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _pg_passed
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _pg_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # With xdist, the controller sees every worker's reports through pytest_runtest_logreport.
    if not IN_CI or hasattr(session.config, "workerinput"):
        return
    if _pg_passed == 0 and session.testscollected > 0 and exitstatus == 0:
        print("\nCI=true: no PostgreSQL test passed; the PostgreSQL suite is required under CI")
        session.exitstatus = 1
