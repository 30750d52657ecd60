"""A database handle: one engine, transactions with retry on serialization failures and races."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from puhui.adapters.db.engine import is_sqlite, make_engine
from puhui.adapters.db.migrate import upgrade

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLSTATEs a PostgreSQL client must be ready to retry (serialization failure, deadlock) and
# unique violations, which here mean another writer won a race we will now see as "exists".
RETRYABLE_SQLSTATES = {"40001", "40P01", "23505"}
MAX_ATTEMPTS = 8


class RetryableConflict(Exception):
    """Raised inside a transaction to ask for a clean retry (e.g. a lost insert race)."""


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableConflict):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # the server went away or the pooled connection was stale
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    if isinstance(exc, OperationalError) and "database is locked" in text:
        return True
    return isinstance(exc, IntegrityError) and ("unique constraint failed" in text or "transfer already posted" in text)


class Database:
    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self._is_sqlite = is_sqlite(url)  # parsing the URL costs ~0.1 ms: once, not per transaction
        # SQLite has one write lock per file, and a writer that finds it taken sleeps in growing
        # steps (its busy handler), so under concurrent writes the slowest waited over a second
        # (BENCHMARKS.md). The threads of one process queue here instead and take the file lock
        # in turn; other processes (a CLI run beside the server) still meet the busy handler.
        self._writer: AbstractContextManager[object] = threading.Lock() if self.is_sqlite else nullcontext()

    @property
    def is_sqlite(self) -> bool:
        return self._is_sqlite

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        upgrade(self.engine)

    def transaction(self, work: Callable[[Connection], T], *, attempts: int = MAX_ATTEMPTS) -> T:
        """Run `work` in one transaction; retry it whole on a retryable conflict."""
        for attempt in range(1, attempts + 1):
            try:
                with self._writer, self.engine.begin() as conn:
                    return work(conn)
            except Exception as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                log.debug("retrying transaction after %s (attempt %d)", type(exc).__name__, attempt)
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    def read(self, work: Callable[[Connection], T]) -> T:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                return work(conn)

    def read_one(self, work: Callable[[Connection], T]) -> T:
        """ONE read statement outside a transaction (autocommit): one round trip instead of three
        (BEGIN, the statement, ROLLBACK) on PostgreSQL. A single statement sees one snapshot anyway;
        work that runs several statements must use `read`."""
        if self.is_sqlite:
            return self.read(work)
        with self.engine.connect() as conn:
            return work(conn.execution_options(isolation_level="AUTOCOMMIT"))

    def write_one(self, work: Callable[[Connection], T], *, attempts: int = MAX_ATTEMPTS) -> T:
        """ONE write statement outside a transaction (autocommit) on PostgreSQL: one round trip
        instead of three. A single statement is atomic anyway; work that writes twice must use
        `transaction`. On SQLite it is a transaction (the write lock is taken either way)."""
        if self.is_sqlite:
            return self.transaction(work, attempts=attempts)
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.connect() as conn:
                    return work(conn.execution_options(isolation_level="AUTOCOMMIT"))
            except Exception as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
