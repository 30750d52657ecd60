"""`Database.fetch_one` and `execute_one`, the hot path's single statements (on PostgreSQL through
the driver, on SQLite through SQLAlchemy): the same rows and the same errors as a SQLAlchemy
connection gives, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import String, bindparam, func, insert, literal, select
from sqlalchemy.exc import IntegrityError, StatementError

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import auth_tokens

TOKEN = {
    "token_hash": "h-1",
    "subject_kind": "borrower",
    "subject_id": "b-1",
    "role": "borrower",
    "created_at": datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
    "expires_at": datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
}
INSERT_TOKEN = insert(auth_tokens).values({name: bindparam(name) for name in TOKEN})
BY_HASH = select(auth_tokens).where(auth_tokens.c.token_hash == bindparam("token_hash", type_=String))


def _stored_token(db: Database) -> None:
    db.execute_one(INSERT_TOKEN, TOKEN)


def test_a_written_row_reads_back_as_sqlalchemy_reads_it(db: Database) -> None:
    _stored_token(db)
    fast = db.fetch_one(BY_HASH, {"token_hash": "h-1"})
    slow = db.read(lambda conn: conn.execute(BY_HASH, {"token_hash": "h-1"}).first())
    assert fast is not None and slow is not None
    for name in TOKEN:
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.subject_id == "b-1" and fast.role == "borrower"
    assert db.fetch_one(BY_HASH, {"token_hash": "nobody"}) is None


def test_the_statements_own_literals_are_bound_by_it(db: Database) -> None:
    """Literals inside the statement (here a prefix and aggregate_strings' separator, which
    PostgreSQL renders in place) are the statement's; the caller binds only the names it left open."""
    _stored_token(db)
    db.execute_one(INSERT_TOKEN, {**TOKEN, "token_hash": "h-2", "role": "staff"})
    who = bindparam("who", type_=String)
    joined = select(
        literal("roles:").concat(func.aggregate_strings(auth_tokens.c.role, ";")).label("roles"),
        func.count().label("n"),
    ).where(auth_tokens.c.subject_id == who)
    row = db.fetch_one(joined, {"who": "b-1"})
    assert row is not None and row.n == 2
    assert row.roles.startswith("roles:") and sorted(row.roles[6:].split(";")) == ["borrower", "staff"]
    assert db.fetch_one(joined, {"who": "b-2"}).n == 0


def test_a_broken_rule_is_sqlalchemys_error_without_the_values(db: Database) -> None:
    _stored_token(db)
    secret = {**TOKEN, "subject_id": "13800138000"}
    with pytest.raises(IntegrityError) as raised:
        db.execute_one(INSERT_TOKEN, secret, attempts=1)  # the same hash twice: a unique violation
    assert "13800138000" not in str(raised.value)
    with pytest.raises(StatementError):  # on PostgreSQL its subclass DBAPIError, from the driver
        db.fetch_one(select(auth_tokens).where(auth_tokens.c.created_at == bindparam("x")), {"x": "not a time"})
    row = db.fetch_one(BY_HASH, {"token_hash": "h-1"})  # the pool still works after the errors
    assert row is not None and row.subject_id == "b-1"


def test_many_threads_share_the_pool(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _stored_token(db)

    def look(_: int) -> str:
        row = db.fetch_one(BY_HASH, {"token_hash": "h-1"})
        assert row is not None
        return str(row.subject_id)

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(look, range(400))) == {"b-1"}
    assert db.fetch_one(select(func.current_date().label("d")), {}).d <= date.today()
