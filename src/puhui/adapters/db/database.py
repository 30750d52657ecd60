"""A database handle: one engine, transactions with retry on serialization failures and races."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.sql import ClauseElement, Executable

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


def _retrying(once: Callable[[], T], attempts: int) -> T:
    """`once()`, again after a short random wait while it fails with a retryable conflict."""
    for attempt in range(1, attempts + 1):
        try:
            return once()
        except Exception as exc:
            if attempt == attempts or not _is_retryable(exc):
                raise
            log.debug("retrying after %s (attempt %d)", type(exc).__name__, attempt)
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")


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
        self._autocommit: Engine | None = None  # PostgreSQL: the pool of `fetch_one`/`execute_one`
        self._compiled: dict[int, tuple[Executable, str, dict[str, Any]]] = {}

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

        def once() -> T:
            with self._writer, self.engine.begin() as conn:
                return work(conn)

        return _retrying(once, attempts)

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

    # The hot path: ONE statement, autocommit, through the driver. A statement run through a
    # SQLAlchemy connection costs ~0.3 ms of Python on top of the driver's ~0.1 ms (the checkout,
    # the execution options, the compiled-cache look-up, the result's processing); the instant
    # decision runs three per request. Here the statement is still built with SQLAlchemy Core and
    # compiled once; each call binds its values and sends it on a pooled autocommit connection
    # (no reset on return: there is never a transaction to roll back). Each distinct statement
    # object is compiled and kept: pass statements built once (module constants), not per call.

    def fetch_one(self, statement: Executable, params: Mapping[str, Any]) -> Any | None:
        """The first row of ONE read statement (a named tuple: `row.column`), or None."""
        if self.is_sqlite:
            return self.read(lambda conn: conn.execute(statement, dict(params)).first())
        with self._driver_cursor(statement, params) as cursor:
            return cursor.fetchone()

    def execute_one(self, statement: Executable, params: Mapping[str, Any], *, attempts: int = MAX_ATTEMPTS) -> None:
        """ONE write statement, atomic on its own (autocommit); retried as `transaction` retries."""
        if self.is_sqlite:
            self.transaction(lambda conn: conn.execute(statement, dict(params)), attempts=attempts)
            return

        def once() -> None:
            with self._driver_cursor(statement, params):
                pass

        _retrying(once, attempts)

    def _sql_of(self, statement: Executable) -> tuple[str, dict[str, Any]]:
        """The statement's SQL for the driver and the values it binds itself (its literals)."""
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            compiled: Any = cast(ClauseElement, statement).compile(dialect=self.engine.dialect)
            # the literals rendered in place (the separators of aggregate_strings are), the values
            # it binds to the statement kept: only the unbound names are the caller's to give
            unbound = {bind.key: None for bind in compiled.binds.values() if bind.required}
            expanded = compiled.construct_expanded_state(unbound)
            literals = {k: v for k, v in expanded.parameters.items() if k not in unbound}
            found = (statement, expanded.statement, literals)
            self._compiled[id(statement)] = found  # the statement is kept, so its id is not reused
        return found[1], found[2]

    @contextmanager
    def _driver_cursor(self, statement: Executable, params: Mapping[str, Any]) -> Iterator[Any]:
        from psycopg import Error as DriverError
        from psycopg import OperationalError as DriverGone
        from psycopg.rows import namedtuple_row

        sql, literals = self._sql_of(statement)
        bound = {**literals, **params}
        if self._autocommit is None:
            self._autocommit = make_engine(self.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        pooled = self._autocommit.raw_connection()
        try:
            driver: Any = pooled.driver_connection  # a psycopg connection
            with driver.cursor(row_factory=namedtuple_row) as cursor:
                try:
                    cursor.execute(sql, bound)
                except DriverError as exc:
                    if isinstance(exc, DriverGone):
                        pooled.invalidate(exc)
                    raise DBAPIError.instance(
                        sql,
                        bound,
                        exc,
                        DriverError,
                        hide_parameters=True,  # the values stay out of messages and logs
                        connection_invalidated=isinstance(exc, DriverGone),
                    ) from exc
                yield cursor
        finally:
            pooled.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()
