"""Posting rules over a whole loan: disburse, accrue, bill fees, repay -> receivables reach zero,
income equals the schedule's interest and fees, cash moves by exactly what the borrower paid."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.allocation import Dues, allocate
from puhui.domain.enums import RepaymentMethod
from puhui.domain.ledger import AccountCode, AccountKey, LedgerError, Side, Transfer, TransferCode
from puhui.domain.postings import (
    accrual,
    disbursement_pending,
    disbursement_settled,
    fee_charge,
    interest_billing,
    loan_account,
    provision_change,
    repayment,
    write_off,
)
from puhui.domain.schedule import LoanTerms, generate
from puhui.money import to_minor

DAY = date(2026, 1, 15)


def balances(transfers: list[Transfer]) -> dict[AccountKey, int]:
    """Debit-positive net per account."""
    net: dict[AccountKey, int] = defaultdict(int)
    for t in transfers:
        for e in t.entries:
            net[e.account] += e.amount_minor if e.side is Side.DEBIT else -e.amount_minor
    return net


def run_loan(principal: Decimal, rate: Decimal, term: int, method: RepaymentMethod, upfront: Decimal, fee: Decimal):  # type: ignore[no-untyped-def]
    schedule = generate(LoanTerms(principal, rate, term, method, DAY, upfront, fee))
    p, up = to_minor(principal), to_minor(upfront)
    posted = [disbursement_pending("d", "L1", p, up, DAY), disbursement_settled("s", "L1", p - up, DAY)]
    for i in schedule.installments:
        if i.interest:
            posted.append(accrual(f"i{i.n}", "L1", TransferCode.INTEREST_ACCRUAL, to_minor(i.interest), i.due_date))
            posted.append(interest_billing(f"b{i.n}", "L1", to_minor(i.interest), i.due_date))
        if i.fee:
            posted.append(fee_charge(f"f{i.n}", "L1", to_minor(i.fee), i.due_date))
        if i.payment:  # an interest-free, fee-free interest-only month asks for nothing
            split = allocate(i.payment, Dues(fees=i.fee, interest=i.interest, principal=i.principal))
            posted.append(repayment(f"r{i.n}", "L1", "B1", split, i.due_date))
    return schedule, posted


@settings(max_examples=300, deadline=None)
@given(
    st.integers(100_00, 5_000_000_00),
    st.integers(0, 3600),
    st.integers(1, 36),
    st.sampled_from([m for m in RepaymentMethod if m.is_fixed_term]),
    st.integers(0, 300),
    st.integers(0, 100),
)
def test_a_loan_paid_as_scheduled_leaves_nothing_owed(
    p_fen: int, rate_bp: int, term: int, method: RepaymentMethod, upfront_bp: int, fee_bp: int
) -> None:
    principal = Decimal(p_fen) / 100
    upfront = (principal * upfront_bp / 10000).quantize(Decimal("0.01"))
    fee = (principal * fee_bp / 10000).quantize(Decimal("0.01"))
    schedule, posted = run_loan(principal, Decimal(rate_bp) / 10000, term, method, upfront, fee)
    net = balances(posted)
    for code in (AccountCode.PRINCIPAL_RECEIVABLE, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE):
        assert net[loan_account(code, "L1")] == 0
    assert net[AccountKey(AccountCode.ACCRUED_INTEREST)] == 0  # every accrual was billed
    assert net[AccountKey(AccountCode.DISBURSEMENT_CLEARING)] == 0
    assert -net[AccountKey(AccountCode.INTEREST_INCOME)] == to_minor(schedule.total_interest)
    assert -net[AccountKey(AccountCode.FEE_INCOME)] == to_minor(schedule.total_fees)
    assert net[AccountKey(AccountCode.BANK_CASH)] == to_minor(schedule.total_payments) - (p_fen - to_minor(upfront))
    assert sum(net.values()) == 0


def test_overpayment_becomes_the_borrowers_credit() -> None:
    split = allocate(Decimal("1000.00"), Dues(interest=Decimal("10.00"), principal=Decimal("900.00")))
    t = repayment("r", "L1", "B1", split, DAY)
    credit_balance = balances([t])[AccountKey(AccountCode.BORROWER_CREDIT, "borrower:B1")]
    assert credit_balance == -9000  # 90.00 held for the borrower (a liability)


def test_write_off_uses_the_provision_then_books_a_loss() -> None:
    posted = [
        disbursement_pending("d", "L2", 1_000_000, 0, DAY),
        provision_change("p", 600_000, DAY),
        write_off("w", "L2", 1_000_000, 600_000, DAY),
    ]
    net = balances(posted)
    assert net[loan_account(AccountCode.PRINCIPAL_RECEIVABLE, "L2")] == 0
    assert net[AccountKey(AccountCode.PROVISIONS)] == 0
    assert net[AccountKey(AccountCode.WRITE_OFF)] == 400_000
    assert net[AccountKey(AccountCode.PROVISION_EXPENSE)] == 600_000
    with pytest.raises(LedgerError):
        write_off("w2", "L2", 100, 200, DAY)


def test_provision_release_and_bad_fee() -> None:
    release = provision_change("p", -500, DAY)
    assert balances([release])[AccountKey(AccountCode.PROVISION_EXPENSE)] == -500
    with pytest.raises(LedgerError):
        provision_change("p0", 0, DAY)
    with pytest.raises(LedgerError):
        disbursement_pending("d", "L3", 100, 100, DAY)
