"""The ledger on a real database (SQLite and PostgreSQL): idempotent, balanced, immutable."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from puhui.adapters.db.database import Database
from puhui.domain.ledger import (
    AccountCode,
    AccountKey,
    LedgerError,
    TransferCode,
    TransferConflict,
    credit,
    debit,
    make_transfer,
)
from puhui.services.accounting import (
    PostStatus,
    get_balance,
    get_transfer,
    get_trial_balance,
    open_chart_of_accounts,
    post_transfer,
    post_transfers,
    reverse_transfer,
    unreconciled_accounts,
)

CASH = AccountKey(AccountCode.BANK_CASH)
D1 = date(2026, 3, 1)


def principal(loan: int) -> AccountKey:
    return AccountKey(AccountCode.PRINCIPAL_RECEIVABLE, f"loan:{loan}")


def disbursement(tid: str, loan: int, amount_minor: int, day: date = D1):
    return make_transfer(
        tid, TransferCode.DISBURSEMENT, [debit(principal(loan), amount_minor), credit(CASH, amount_minor)], day
    )


def test_posting_moves_both_balances_and_bumps_versions(db: Database) -> None:
    post_transfer(db, disbursement("d-1", 1, 1_000_000))
    loan = get_balance(db, principal(1))
    cash = get_balance(db, CASH)
    assert (loan.debits_minor, loan.credits_minor, loan.version) == (1_000_000, 0, 1)
    assert (cash.debits_minor, cash.credits_minor, cash.version) == (0, 1_000_000, 1)
    post_transfer(db, disbursement("d-2", 1, 500))
    assert get_balance(db, principal(1)).version == 2


def test_same_id_same_content_returns_the_original_and_changes_nothing(db: Database) -> None:
    first = post_transfer(db, disbursement("d-1", 1, 12_345))
    again = post_transfer(db, disbursement("d-1", 1, 12_345))
    assert (first.status, again.status) == (PostStatus.CREATED, PostStatus.EXISTS)
    assert get_balance(db, principal(1)).debits_minor == 12_345
    stored = get_transfer(db, "d-1")
    assert stored is not None and stored.content_hash() == disbursement("d-1", 1, 12_345).content_hash()


def test_same_id_different_content_is_an_error_and_posts_nothing(db: Database) -> None:
    post_transfer(db, disbursement("d-1", 1, 100))
    with pytest.raises(TransferConflict):
        post_transfers(db, [disbursement("d-2", 2, 7), disbursement("d-1", 1, 101)])
    assert get_transfer(db, "d-2") is None  # the batch is atomic
    assert get_balance(db, principal(1)).debits_minor == 100


def test_reversal_restores_balances_and_happens_once(db: Database) -> None:
    post_transfer(db, disbursement("d-1", 1, 9_999))
    assert reverse_transfer(db, "d-1", "r-1", date(2026, 3, 2)).status is PostStatus.CREATED
    assert reverse_transfer(db, "d-1", "r-1", date(2026, 3, 2)).status is PostStatus.EXISTS
    with pytest.raises(LedgerError, match="already been reversed"):
        reverse_transfer(db, "d-1", "r-2", date(2026, 3, 2))
    with pytest.raises(LedgerError, match="itself a reversal"):
        reverse_transfer(db, "r-1", "r-3", date(2026, 3, 2))
    loan = get_balance(db, principal(1))
    assert loan.debits_minor == loan.credits_minor == 9_999
    with pytest.raises(LedgerError, match="does not exist"):
        reverse_transfer(db, "nope", "r-4", date(2026, 3, 2))


def test_trial_balance_as_of_a_date(db: Database) -> None:
    open_chart_of_accounts(db)
    post_transfer(db, disbursement("d-1", 1, 100, date(2026, 3, 1)))
    post_transfer(db, disbursement("d-2", 2, 250, date(2026, 3, 5)))
    early = get_trial_balance(db, date(2026, 3, 3))
    late = get_trial_balance(db)
    assert early.balanced and late.balanced
    by_code = {line.code: line for line in early.lines}
    assert by_code[AccountCode.PRINCIPAL_RECEIVABLE].debits_minor == 100
    assert {line.code: line for line in late.lines}[AccountCode.PRINCIPAL_RECEIVABLE].balance_minor == 350
    assert {line.code: line for line in late.lines}[AccountCode.BANK_CASH].balance_minor == -350


def _raw(db: Database, *statements: str) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _account_ids(db: Database) -> tuple[int, int]:
    post_transfer(db, disbursement("seed", 1, 1))
    with db.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM ledger_accounts ORDER BY id"))]
    return ids[0], ids[1]


ENTRY = (
    "INSERT INTO ledger_entries (transfer_id, seq, account_id, side, amount_minor) VALUES ('{t}', {s}, {a}, '{d}', {m})"
)
SEAL = (
    "INSERT INTO ledger_transfers (id, code, business_date, content_hash, total_minor, entry_count, description,"
    " created_at) VALUES ('{t}', 'disbursement', '2026-03-01', 'x', {m}, {n}, '', CURRENT_TIMESTAMP)"
)


def test_database_refuses_an_unbalanced_transfer_written_behind_the_domain(db: Database) -> None:
    a, b = _account_ids(db)
    with pytest.raises(DBAPIError, match="unbalanced"):
        _raw(
            db,
            ENTRY.format(t="bad", s=0, a=a, d="D", m=500),
            ENTRY.format(t="bad", s=1, a=b, d="C", m=499),
            SEAL.format(t="bad", m=500, n=2),
        )
    with pytest.raises(DBAPIError, match="unbalanced"):  # a single entry, claimed to be two
        _raw(db, ENTRY.format(t="one", s=0, a=a, d="D", m=5), SEAL.format(t="one", m=5, n=2))
    with pytest.raises(DBAPIError, match=r"unbalanced|nonempty"):  # a single-entry "transfer"
        _raw(db, ENTRY.format(t="one", s=0, a=a, d="D", m=5), SEAL.format(t="one", m=5, n=1))
    assert get_transfer(db, "bad") is None


def test_database_refuses_entries_without_a_sealing_transfer(db: Database) -> None:
    a, b = _account_ids(db)
    with pytest.raises(DBAPIError):
        _raw(db, ENTRY.format(t="orphan", s=0, a=a, d="D", m=5), ENTRY.format(t="orphan", s=1, a=b, d="C", m=5))


def test_database_refuses_entries_added_to_a_posted_transfer(db: Database) -> None:
    a, b = _account_ids(db)
    with pytest.raises(DBAPIError, match="already posted"):
        _raw(db, ENTRY.format(t="seed", s=5, a=a, d="D", m=5), ENTRY.format(t="seed", s=6, a=b, d="C", m=5))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_minor = amount_minor + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transfers SET description = 'edited'",
        "DELETE FROM ledger_transfers",
    ],
)
def test_history_is_immutable(db: Database, statement: str) -> None:
    _account_ids(db)
    with pytest.raises(DBAPIError, match="immutable"):
        _raw(db, statement)
    assert get_transfer(db, "seed") is not None
    assert unreconciled_accounts(db) == {}


def test_domain_refuses_malformed_transfers() -> None:
    with pytest.raises(LedgerError, match="unbalanced"):
        make_transfer("x", TransferCode.DISBURSEMENT, [debit(principal(1), 5), credit(CASH, 4)], D1)
    with pytest.raises(LedgerError, match="positive"):
        make_transfer("x", TransferCode.DISBURSEMENT, [debit(principal(1), 0), credit(CASH, 0)], D1)
    with pytest.raises(LedgerError, match="owner"):
        make_transfer(
            "x",
            TransferCode.DISBURSEMENT,
            [debit(AccountKey(AccountCode.PRINCIPAL_RECEIVABLE), 5), credit(CASH, 5)],
            D1,
        )
    with pytest.raises(LedgerError, match="two entries"):
        make_transfer("x", TransferCode.DISBURSEMENT, [debit(principal(1), 5)], D1)
