"""Ledger storage: accounts with versioned balances, sealed transfers and their entries.

On PostgreSQL the posting path (content hashes, account ids, entries, transfers, balances)
sends each step as ONE statement over arrays (`unnest`, `= ANY`), each array as one literal
string, through `exec_driver_sql`. Measured with bench/bench_ledger.py (see BENCHMARKS.md): a
row-by-row executemany runs the statement once per row on the server, a Core statement costs
~0.2 ms of Python per execution, and the driver's list adaptation inspects every element.
The arrays keep custom plans (the planner sees their length): replanned each time, but never
a cached generic plan that joins a growing table by a sequential scan. SQLite keeps the Core
statements: it runs in-process and its driver's executemany is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from puhui.adapters.db.tables import ledger_accounts, ledger_entries, ledger_transfers
from puhui.domain.ledger import (
    AccountCode,
    AccountKey,
    Balance,
    Entry,
    Side,
    Transfer,
    TransferCode,
)

_CHUNK = 500

_PG_TRANSFER_HASHES = "SELECT id, content_hash FROM ledger_transfers WHERE id = ANY(%(ids)s::varchar[])"

_PG_ACCOUNT_IDS = """
SELECT a.id, a.code, a.owner
FROM unnest(%(codes)s::varchar[], %(owners)s::varchar[]) AS k(code, owner)
JOIN ledger_accounts AS a ON a.code = k.code AND a.owner = k.owner
"""

_PG_INSERT_ACCOUNTS = """
INSERT INTO ledger_accounts (code, owner, type, created_at)
SELECT k.code, k.owner, k.type, %(now)s
FROM unnest(%(codes)s::varchar[], %(owners)s::varchar[], %(types)s::varchar[]) AS k(code, owner, type)
ON CONFLICT (code, owner) DO NOTHING
RETURNING id, code, owner
"""

_PG_INSERT_ENTRIES = """
INSERT INTO ledger_entries (transfer_id, seq, account_id, side, amount_minor)
SELECT * FROM unnest(
  %(transfer_id)s::varchar[], %(seq)s::integer[], %(account_id)s::bigint[], %(side)s::varchar[],
  %(amount_minor)s::bigint[]
)
"""

_PG_INSERT_TRANSFERS = """
INSERT INTO ledger_transfers
  (id, code, business_date, reverses_id, content_hash, total_minor, entry_count, description, created_at)
SELECT t.*, %(created_at)s FROM unnest(
  %(id)s::varchar[], %(code)s::varchar[], %(business_date)s::date[], %(reverses_id)s::varchar[],
  %(content_hash)s::varchar[], %(total_minor)s::bigint[], %(entry_count)s::integer[], %(description)s::text[]
) AS t
"""

# One statement: the MATERIALIZED CTE takes the row locks in id order (a locking clause locks rows
# as they come out of the ORDER BY), then the UPDATE adds the totals to the rows it holds. NO KEY
# UPDATE is the lock an UPDATE of non-key columns takes; plain FOR UPDATE would also conflict with
# the KEY SHARE locks that other writers' entry foreign keys hold, and deadlock.
_PG_UPDATE_BALANCES = """
WITH locked AS MATERIALIZED (
  SELECT id FROM ledger_accounts WHERE id = ANY(%(aid)s::bigint[]) ORDER BY id FOR NO KEY UPDATE
)
UPDATE ledger_accounts AS a
SET debits_posted_minor = a.debits_posted_minor + v.d,
    credits_posted_minor = a.credits_posted_minor + v.c,
    version = a.version + 1
FROM unnest(%(aid)s::bigint[], %(d)s::bigint[], %(c)s::bigint[]) AS v(aid, d, c), locked
WHERE a.id = v.aid AND locked.id = v.aid
"""


def _insert(conn: Connection, table: object) -> object:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)  # type: ignore[arg-type]


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Rows as one array literal per column: the parameters of an `unnest` statement."""
    return {name: _array(row[name] for row in rows) for name in rows[0]}


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal, cast in the SQL: each element double-quoted with `"` and `\\`
    escaped, None as NULL (dates print as ISO). One string costs far less to send than a list,
    which the driver adapts by inspecting every element to pick a type."""
    return "{" + ",".join("NULL" if v is None else _quote(str(v)) for v in values) + "}"


def _quote(text: str) -> str:
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def ensure_accounts(conn: Connection, keys: Iterable[AccountKey]) -> dict[AccountKey, int]:
    """Ids of the accounts, creating any that do not exist yet (race-safe)."""
    wanted = sorted(set(keys))
    ids = _account_ids(conn, wanted)
    missing = [k for k in wanted if k not in ids]
    if missing:
        now = datetime.now(UTC)
        if _is_postgres(conn):
            ids.update(_pg_insert_accounts(conn, missing, now))
            lost = [k for k in missing if k not in ids]  # created meanwhile by a concurrent writer
            if lost:
                ids.update(_account_ids(conn, lost))
            return ids
        rows = [
            {"code": k.code.value, "owner": k.owner, "type": k.definition.type.value, "created_at": now}
            for k in missing
        ]
        stmt = _insert(conn, ledger_accounts).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["code", "owner"]
        )
        conn.execute(stmt, rows)
        ids.update(_account_ids(conn, missing))
    return ids


def _account_ids(conn: Connection, keys: Sequence[AccountKey]) -> dict[AccountKey, int]:
    if not keys:
        return {}
    if _is_postgres(conn):
        params = {"codes": _array(k.code.value for k in keys), "owners": _array(k.owner for k in keys)}
        return _keyed_ids(conn.exec_driver_sql(_PG_ACCOUNT_IDS, params))
    # SQLite cannot search an index for a row-value IN list: `(code, owner) IN (...)` scans
    # every account. `code IN (...) AND owner IN (...)` is an index search; it may return
    # pairs nobody asked for, which are dropped here.
    wanted = set(keys)
    codes = sorted({k.code.value for k in keys})
    owners = sorted({k.owner for k in keys})
    found: dict[AccountKey, int] = {}
    for start in range(0, len(owners), _CHUNK):
        rows = conn.execute(
            select(ledger_accounts.c.id, ledger_accounts.c.code, ledger_accounts.c.owner).where(
                ledger_accounts.c.code.in_(codes), ledger_accounts.c.owner.in_(owners[start : start + _CHUNK])
            )
        )
        found.update((key, aid) for key, aid in _keyed_ids(rows).items() if key in wanted)
    return found


def _pg_insert_accounts(conn: Connection, keys: Sequence[AccountKey], now: datetime) -> dict[AccountKey, int]:
    params = {
        "codes": _array(k.code.value for k in keys),
        "owners": _array(k.owner for k in keys),
        "types": _array(k.definition.type.value for k in keys),
        "now": now,
    }
    return _keyed_ids(conn.exec_driver_sql(_PG_INSERT_ACCOUNTS, params))


def _keyed_ids(rows: Iterable[Any]) -> dict[AccountKey, int]:
    """(id, code, owner) rows -> {AccountKey: id}."""
    return {AccountKey(AccountCode(code), owner): int(aid) for aid, code, owner in rows}


def content_hashes(conn: Connection, transfer_ids: Sequence[str]) -> dict[str, str]:
    if not transfer_ids:
        return {}
    if _is_postgres(conn):
        rows = conn.exec_driver_sql(_PG_TRANSFER_HASHES, {"ids": _array(transfer_ids)})
        return {tid: digest for tid, digest in rows}
    found: dict[str, str] = {}
    for start in range(0, len(transfer_ids), _CHUNK):
        chunk = transfer_ids[start : start + _CHUNK]
        rows = conn.execute(
            select(ledger_transfers.c.id, ledger_transfers.c.content_hash).where(ledger_transfers.c.id.in_(chunk))
        )
        found.update({row.id: row.content_hash for row in rows})
    return found


def insert_transfers(conn: Connection, transfers: Sequence[Transfer], account_ids: Mapping[AccountKey, int]) -> None:
    """Write entries first, then the transfer rows that seal them (the DB checks the balance)."""
    if not transfers:
        return
    now = datetime.now(UTC)
    entry_rows = [
        {
            "transfer_id": t.id,
            "seq": seq,
            "account_id": account_ids[e.account],
            "side": e.side.value,
            "amount_minor": e.amount_minor,
        }
        for t in transfers
        for seq, e in enumerate(t.entries)
    ]
    transfer_rows = [
        {
            "id": t.id,
            "code": t.code.value,
            "business_date": t.business_date,
            "reverses_id": t.reverses_id,
            "content_hash": t.content_hash(),
            "total_minor": t.total_minor,
            "entry_count": len(t.entries),
            "description": t.description,
        }
        for t in transfers
    ]
    if _is_postgres(conn):
        # Two statements, entries then transfers: the sealing trigger on a transfer row must see
        # its entries, which a later statement does and a sibling row of the same one does not.
        conn.exec_driver_sql(_PG_INSERT_ENTRIES, _columns(entry_rows))
        conn.exec_driver_sql(_PG_INSERT_TRANSFERS, {**_columns(transfer_rows), "created_at": now})
        return
    conn.execute(ledger_entries.insert(), entry_rows)
    conn.execute(ledger_transfers.insert(), [{**row, "created_at": now} for row in transfer_rows])


def apply_balance_changes(
    conn: Connection, changes: Mapping[AccountKey, tuple[int, int]], account_ids: Mapping[AccountKey, int]
) -> None:
    """Add posted debits/credits and bump each account's version, in id order (no deadlocks)."""
    rows = sorted(
        ({"aid": account_ids[key], "d": d, "c": c} for key, (d, c) in changes.items()), key=lambda r: r["aid"]
    )
    if not rows:
        return
    if _is_postgres(conn):
        # One UPDATE over many rows does not promise an order: the statement locks them first.
        conn.exec_driver_sql(_PG_UPDATE_BALANCES, _columns(rows))
        return
    stmt = (
        update(ledger_accounts)
        .where(ledger_accounts.c.id == bindparam("aid"))
        .values(
            debits_posted_minor=ledger_accounts.c.debits_posted_minor + bindparam("d"),
            credits_posted_minor=ledger_accounts.c.credits_posted_minor + bindparam("c"),
            version=ledger_accounts.c.version + 1,
        )
    )
    conn.execute(stmt, rows)


def load_transfer(conn: Connection, transfer_id: str) -> Transfer | None:
    head = conn.execute(select(ledger_transfers).where(ledger_transfers.c.id == transfer_id)).first()
    if head is None:
        return None
    rows = conn.execute(
        select(ledger_entries.c.side, ledger_entries.c.amount_minor, ledger_accounts.c.code, ledger_accounts.c.owner)
        .join(ledger_accounts, ledger_accounts.c.id == ledger_entries.c.account_id)
        .where(ledger_entries.c.transfer_id == transfer_id)
        .order_by(ledger_entries.c.seq)
    )
    entries = tuple(Entry(AccountKey(AccountCode(r.code), r.owner), Side(r.side), int(r.amount_minor)) for r in rows)
    return Transfer(head.id, TransferCode(head.code), entries, head.business_date, head.reverses_id, head.description)


def reversal_id_of(conn: Connection, transfer_id: str) -> str | None:
    return conn.execute(
        select(ledger_transfers.c.id).where(ledger_transfers.c.reverses_id == transfer_id)
    ).scalar_one_or_none()


def load_balance(conn: Connection, key: AccountKey) -> Balance:
    row = conn.execute(
        select(
            ledger_accounts.c.debits_posted_minor, ledger_accounts.c.credits_posted_minor, ledger_accounts.c.version
        ).where(and_(ledger_accounts.c.code == key.code.value, ledger_accounts.c.owner == key.owner))
    ).first()
    return Balance(int(row[0]), int(row[1]), int(row[2])) if row else Balance()


def all_balances(conn: Connection) -> dict[AccountKey, Balance]:
    rows = conn.execute(select(ledger_accounts))
    return {
        AccountKey(AccountCode(r.code), r.owner): Balance(
            int(r.debits_posted_minor), int(r.credits_posted_minor), int(r.version)
        )
        for r in rows
    }


def entry_sums(conn: Connection) -> dict[AccountKey, tuple[int, int]]:
    """(debits, credits) per account recomputed from the entries: the check on the balances."""
    debit_sum = func.coalesce(func.sum(ledger_entries.c.amount_minor).filter(ledger_entries.c.side == "D"), 0)
    credit_sum = func.coalesce(func.sum(ledger_entries.c.amount_minor).filter(ledger_entries.c.side == "C"), 0)
    rows = conn.execute(
        select(ledger_accounts.c.code, ledger_accounts.c.owner, debit_sum, credit_sum)
        .join(ledger_entries, ledger_entries.c.account_id == ledger_accounts.c.id)
        .group_by(ledger_accounts.c.code, ledger_accounts.c.owner)
    )
    return {AccountKey(AccountCode(r[0]), r[1]): (int(r[2]), int(r[3])) for r in rows}


def totals_by_code(conn: Connection, as_of: date | None = None) -> dict[AccountCode, tuple[int, int]]:
    """(debits, credits) per chart code: from the account totals, or from entries up to a date."""
    if as_of is None:
        rows = conn.execute(
            select(
                ledger_accounts.c.code,
                func.sum(ledger_accounts.c.debits_posted_minor),
                func.sum(ledger_accounts.c.credits_posted_minor),
            ).group_by(ledger_accounts.c.code)
        )
    else:
        debit_sum = func.coalesce(func.sum(ledger_entries.c.amount_minor).filter(ledger_entries.c.side == "D"), 0)
        credit_sum = func.coalesce(func.sum(ledger_entries.c.amount_minor).filter(ledger_entries.c.side == "C"), 0)
        rows = conn.execute(
            select(ledger_accounts.c.code, debit_sum, credit_sum)
            .select_from(ledger_entries)
            .join(ledger_accounts, ledger_accounts.c.id == ledger_entries.c.account_id)
            .join(ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id)
            .where(ledger_transfers.c.business_date <= as_of)
            .group_by(ledger_accounts.c.code)
        )
    return {AccountCode(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in rows}


def count_transfers(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())
