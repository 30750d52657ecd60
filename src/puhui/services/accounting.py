"""Posting to the ledger: balanced, immutable, idempotent by transfer id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import Connection

from puhui.adapters.db import ledger_repository as repo
from puhui.adapters.db.database import Database
from puhui.domain.ledger import (
    CHART_OF_ACCOUNTS,
    AccountKey,
    Balance,
    LedgerError,
    Transfer,
    TransferConflict,
    TrialBalance,
    balance_changes,
    reversal_of,
    trial_balance,
    validate_transfer,
)


class PostStatus(StrEnum):
    CREATED = "created"
    EXISTS = "exists"  # the same transfer was posted before: nothing changed


@dataclass(frozen=True, slots=True)
class PostResult:
    transfer_id: str
    status: PostStatus


def post_transfers(db: Database, transfers: Sequence[Transfer]) -> list[PostResult]:
    """Post a batch atomically. Known ids with the same content are reported as EXISTS; a known
    id with other content raises TransferConflict and posts nothing."""
    unique = _dedupe(transfers)
    for t in unique:
        validate_transfer(t)
    return db.transaction(lambda conn: post_in(conn, unique))


def post_transfer(db: Database, transfer: Transfer) -> PostResult:
    return post_transfers(db, [transfer])[0]


def post_in(conn: Connection, transfers: Sequence[Transfer]) -> list[PostResult]:
    """Post inside a caller's transaction (a use case that also writes other rows)."""
    existing = repo.content_hashes(conn, [t.id for t in transfers])
    fresh: list[Transfer] = []
    results: list[PostResult] = []
    for t in transfers:
        known = existing.get(t.id)
        if known is None:
            fresh.append(t)
            results.append(PostResult(t.id, PostStatus.CREATED))
        elif known == t.content_hash():
            results.append(PostResult(t.id, PostStatus.EXISTS))
        else:
            raise TransferConflict(f"transfer id {t.id} is already used by a transfer with different content")
    if fresh:
        _check_reversals(conn, fresh)
        keys = {e.account for t in fresh for e in t.entries}
        account_ids = repo.ensure_accounts(conn, keys)
        repo.insert_transfers(conn, fresh, account_ids)
        repo.apply_balance_changes(conn, balance_changes(fresh), account_ids)
    return results


def _dedupe(transfers: Sequence[Transfer]) -> list[Transfer]:
    seen: dict[str, Transfer] = {}
    for t in transfers:
        if t.id in seen and seen[t.id].content_hash() != t.content_hash():
            raise TransferConflict(f"transfer id {t.id} appears twice in the batch with different content")
        seen.setdefault(t.id, t)
    return list(seen.values())


def _check_reversals(conn: Connection, transfers: Sequence[Transfer]) -> None:
    for t in transfers:
        if t.reverses_id is None:
            continue
        original = repo.load_transfer(conn, t.reverses_id)
        if original is None:
            raise LedgerError(f"transfer {t.id} reverses {t.reverses_id}, which does not exist")
        if repo.reversal_id_of(conn, t.reverses_id) is not None:
            raise LedgerError(f"transfer {t.reverses_id} has already been reversed")


def reverse_transfer(db: Database, original_id: str, reversal_id: str, business_date: date) -> PostResult:
    """Post the reversal of `original_id` (once; a retry with the same reversal id is EXISTS)."""

    def work(conn: Connection) -> PostResult:
        original = repo.load_transfer(conn, original_id)
        if original is None:
            raise LedgerError(f"transfer {original_id} does not exist")
        reversal = reversal_of(original, reversal_id, business_date)
        return post_in(conn, [reversal])[0]

    return db.transaction(work)


def get_transfer(db: Database, transfer_id: str) -> Transfer | None:
    return db.read(lambda conn: repo.load_transfer(conn, transfer_id))


def get_balance(db: Database, key: AccountKey) -> Balance:
    return db.read(lambda conn: repo.load_balance(conn, key))


def get_trial_balance(db: Database, as_of: date | None = None) -> TrialBalance:
    return trial_balance(db.read(lambda conn: repo.totals_by_code(conn, as_of)))


def open_chart_of_accounts(db: Database) -> int:
    """Create the lender-level (not per-loan) accounts of the chart; returns how many exist."""
    keys = [AccountKey(a.code) for a in CHART_OF_ACCOUNTS if not a.per_owner]
    return len(db.transaction(lambda conn: repo.ensure_accounts(conn, keys)))


def unreconciled_accounts(db: Database) -> dict[AccountKey, tuple[Balance, tuple[int, int]]]:
    """Accounts whose stored totals differ from the sum of their entries (should be none)."""

    def work(conn: Connection) -> dict[AccountKey, tuple[Balance, tuple[int, int]]]:
        balances = repo.all_balances(conn)
        sums = repo.entry_sums(conn)
        out = {}
        for key, bal in balances.items():
            expected = sums.get(key, (0, 0))
            if (bal.debits_minor, bal.credits_minor) != expected:
                out[key] = (bal, expected)
        return out

    return db.read(work)
