"""A Hypothesis state machine over the stored ledger: post, repost, conflicting reuse of an id,
reverse, double reverse. Invariants: every transfer balanced (checked by the database), every
stored balance equal to the sum of its entries and to an independent model, trial balance even."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from puhui.adapters.db.database import Database
from puhui.domain.ledger import (
    AccountCode,
    AccountKey,
    Entry,
    LedgerError,
    Side,
    Transfer,
    TransferCode,
    TransferConflict,
    make_transfer,
)
from puhui.services.accounting import (
    PostStatus,
    get_balance,
    get_trial_balance,
    post_transfer,
    reverse_transfer,
    unreconciled_accounts,
)

# CI runs the full 200 examples x 50 steps (RELIABILITY.md #4; about 1.5 min per backend on 2
# cores); a developer's `make test` a lighter 30 x 30 unless told otherwise.
_IN_CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = int(os.environ.get("PUHUI_LEDGER_SM_EXAMPLES", "200" if _IN_CI else "30"))
STEPS = int(os.environ.get("PUHUI_LEDGER_SM_STEPS", "50" if _IN_CI else "30"))
DAY = date(2026, 5, 1)
CODES = [
    AccountCode.BANK_CASH,
    AccountCode.PRINCIPAL_RECEIVABLE,
    AccountCode.INTEREST_RECEIVABLE,
    AccountCode.INTEREST_INCOME,
    AccountCode.BORROWER_CREDIT,
]


def ledger_machine(db: Database) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        posted = Bundle("posted")

        def __init__(self) -> None:
            super().__init__()
            self.ns = uuid.uuid4().hex[:10]  # examples share the database; each has its own ids
            self.model: dict[AccountKey, list[int]] = {}
            self.reversed: set[str] = set()

        def key(self, index: int) -> AccountKey:
            code = CODES[index % len(CODES)]
            per_owner = code in (
                AccountCode.PRINCIPAL_RECEIVABLE,
                AccountCode.INTEREST_RECEIVABLE,
                AccountCode.BORROWER_CREDIT,
            )
            return AccountKey(code, f"{self.ns}:{index}" if per_owner or index >= len(CODES) else "")

        def apply(self, transfer: Transfer) -> None:
            for e in transfer.entries:
                totals = self.model.setdefault(e.account, [0, 0])
                totals[0 if e.side is Side.DEBIT else 1] += e.amount_minor

        @rule(
            target=posted,
            legs=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 10**9)), min_size=1, max_size=3),
            counter=st.integers(0, 7),
        )
        def post(self, legs: list[tuple[int, int]], counter: int) -> Transfer:
            entries = [Entry(self.key(i), Side.DEBIT, amount) for i, amount in legs]
            total = sum(amount for _, amount in legs)
            entries.append(Entry(self.key(counter + 8), Side.CREDIT, total))
            transfer = make_transfer(f"{self.ns}-{uuid.uuid4().hex[:8]}", TransferCode.REPAYMENT, entries, DAY)
            assert post_transfer(db, transfer).status is PostStatus.CREATED
            self.apply(transfer)
            return transfer

        @rule(transfer=posted)
        def repost_same(self, transfer: Transfer) -> None:
            assert post_transfer(db, transfer).status is PostStatus.EXISTS

        @rule(transfer=posted, factor=st.integers(2, 5))
        def reuse_id_with_other_content(self, transfer: Transfer, factor: int) -> None:
            scaled = [Entry(e.account, e.side, e.amount_minor * factor) for e in transfer.entries]
            with pytest.raises(TransferConflict):
                post_transfer(db, make_transfer(transfer.id, transfer.code, scaled, DAY))

        @rule(transfer=consumes(posted))
        def reverse(self, transfer: Transfer) -> None:
            result = reverse_transfer(db, transfer.id, f"{transfer.id}-rev", DAY)
            assert result.status is PostStatus.CREATED
            self.reversed.add(transfer.id)
            self.apply(
                Transfer(
                    f"{transfer.id}-rev",
                    TransferCode.REVERSAL,
                    tuple(Entry(e.account, e.side.opposite, e.amount_minor) for e in transfer.entries),
                    DAY,
                    transfer.id,
                )
            )
            with pytest.raises(LedgerError):
                reverse_transfer(db, transfer.id, f"{transfer.id}-rev-again", DAY)

        @rule(a=st.integers(0, 7), amount=st.integers(1, 1000))
        def unbalanced_is_refused(self, a: int, amount: int) -> None:
            with pytest.raises(LedgerError):
                make_transfer(
                    f"{self.ns}-bad",
                    TransferCode.REPAYMENT,
                    [Entry(self.key(a), Side.DEBIT, amount), Entry(self.key(a + 8), Side.CREDIT, amount + 1)],
                    DAY,
                )

        @invariant()
        def balances_match_the_model(self) -> None:
            for key, (debits, credits) in self.model.items():
                stored = get_balance(db, key)
                if key.owner:  # shared lender-level accounts also move in other examples
                    assert (stored.debits_minor, stored.credits_minor) == (debits, credits)

        def teardown(self) -> None:
            assert unreconciled_accounts(db) == {}
            assert get_trial_balance(db).balanced

    return LedgerMachine


def test_ledger_state_machine(db: Database) -> None:
    machine = ledger_machine(db)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
