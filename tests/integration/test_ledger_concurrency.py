"""Eight workers posting at once on PostgreSQL lose nothing and double nothing.

Every transfer is posted by two different workers (the retry-after-timeout case), all of them
touch the same hot bank-cash account, and loans are shared between workers, so row locks,
unique-violation races and retries are all exercised.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import date

import pytest

from puhui.adapters.db.database import Database
from puhui.domain.ledger import AccountCode, AccountKey, TransferCode, credit, debit, make_transfer
from puhui.services.accounting import (
    PostStatus,
    get_balance,
    get_trial_balance,
    post_transfer,
    post_transfers,
    unreconciled_accounts,
)

WORKERS = 8
TRANSFERS = 400
LOANS = 25
CASH = AccountKey(AccountCode.BANK_CASH)


def _transfer(n: int):
    loan = AccountKey(AccountCode.PRINCIPAL_RECEIVABLE, f"loan:{n % LOANS}")
    amount = 100 + n
    return make_transfer(
        f"c-{n}", TransferCode.DISBURSEMENT, [debit(loan, amount), credit(CASH, amount)], date(2026, 6, 1)
    )


@pytest.mark.postgres
def test_eight_concurrent_workers_lose_nothing_and_double_nothing(pg_db: Database) -> None:
    # each transfer goes to two different workers, in different orders
    jobs: list[list[int]] = [[] for _ in range(WORKERS)]
    for n in range(TRANSFERS):
        first = n % WORKERS
        jobs[first].append(n)
        jobs[(first + 1 + n % (WORKERS - 1)) % WORKERS].append(n)
    rng = random.Random(42)
    for job in jobs:
        rng.shuffle(job)
    statuses: Counter[PostStatus] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WORKERS)

    def work(job: list[int], batched: bool) -> None:
        try:
            barrier.wait()
            if batched:
                results = [
                    r
                    for i in range(0, len(job), 10)
                    for r in post_transfers(pg_db, [_transfer(n) for n in job[i : i + 10]])
                ]
            else:
                results = [post_transfer(pg_db, _transfer(n)) for n in job]
            with lock:
                statuses.update(r.status for r in results)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(job, i % 2 == 0)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert statuses[PostStatus.CREATED] == TRANSFERS
    assert statuses[PostStatus.EXISTS] == TRANSFERS
    expected_total = sum(100 + n for n in range(TRANSFERS))
    assert get_balance(pg_db, CASH).credits_minor == expected_total
    for loan in range(LOANS):
        key = AccountKey(AccountCode.PRINCIPAL_RECEIVABLE, f"loan:{loan}")
        assert get_balance(pg_db, key).debits_minor == sum(100 + n for n in range(loan, TRANSFERS, LOANS))
    assert unreconciled_accounts(pg_db) == {}
    assert get_trial_balance(pg_db).balanced
