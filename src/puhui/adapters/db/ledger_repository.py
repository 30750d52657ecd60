"""Ledger storage: accounts with versioned balances, sealed transfers and their entries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import Connection, and_, bindparam, func, select, tuple_, update
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


def _insert(conn: Connection, table: object) -> object:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)  # type: ignore[arg-type]


def ensure_accounts(conn: Connection, keys: Iterable[AccountKey]) -> dict[AccountKey, int]:
    """Ids of the accounts, creating any that do not exist yet (race-safe)."""
    wanted = sorted(set(keys))
    ids = _account_ids(conn, wanted)
    missing = [k for k in wanted if k not in ids]
    if missing:
        now = datetime.now(UTC)
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
    found: dict[AccountKey, int] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        pairs = [(k.code.value, k.owner) for k in chunk]
        rows = conn.execute(
            select(ledger_accounts.c.id, ledger_accounts.c.code, ledger_accounts.c.owner).where(
                tuple_(ledger_accounts.c.code, ledger_accounts.c.owner).in_(pairs)
            )
        )
        for row in rows:
            found[AccountKey(AccountCode(row.code), row.owner)] = row.id
    return found


def content_hashes(conn: Connection, transfer_ids: Sequence[str]) -> dict[str, str]:
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
            "created_at": now,
        }
        for t in transfers
    ]
    conn.execute(ledger_entries.insert(), entry_rows)
    conn.execute(ledger_transfers.insert(), transfer_rows)


def apply_balance_changes(
    conn: Connection, changes: Mapping[AccountKey, tuple[int, int]], account_ids: Mapping[AccountKey, int]
) -> None:
    """Add posted debits/credits and bump each account's version, in id order (no deadlocks)."""
    rows = sorted(
        ({"aid": account_ids[key], "d": d, "c": c} for key, (d, c) in changes.items()), key=lambda r: r["aid"]
    )
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
    entries = tuple(
        Entry(AccountKey(AccountCode(r.code), r.owner), Side(r.side), int(r.amount_minor)) for r in rows
    )
    return Transfer(
        head.id, TransferCode(head.code), entries, head.business_date, head.reverses_id, head.description
    )


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
