"""Posting rules: which accounts each loan event moves (what the GL sees of a loan).

Every function returns a balanced `Transfer` (checked by `make_transfer`); amounts in fen.
Per-loan accounts are owned by "loan:<id>", a borrower's credit balance by "borrower:<id>".
"""

from __future__ import annotations

from datetime import date

from puhui.domain.allocation import Split
from puhui.domain.ledger import (
    AccountCode,
    AccountKey,
    Entry,
    LedgerError,
    Transfer,
    TransferCode,
    credit,
    debit,
    make_transfer,
)
from puhui.money import to_minor

ACCRUED_INTEREST = AccountKey(AccountCode.ACCRUED_INTEREST)
BANK_CASH = AccountKey(AccountCode.BANK_CASH)
DISBURSEMENT_CLEARING = AccountKey(AccountCode.DISBURSEMENT_CLEARING)
FEE_INCOME = AccountKey(AccountCode.FEE_INCOME)
INTEREST_INCOME = AccountKey(AccountCode.INTEREST_INCOME)
PENALTY_INCOME = AccountKey(AccountCode.PENALTY_INCOME)
PROVISIONS = AccountKey(AccountCode.PROVISIONS)
PROVISION_EXPENSE = AccountKey(AccountCode.PROVISION_EXPENSE)
WRITE_OFF = AccountKey(AccountCode.WRITE_OFF)


def loan_account(code: AccountCode, loan_id: str) -> AccountKey:
    return AccountKey(code, f"loan:{loan_id}")


def _nonzero(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.amount_minor > 0]


def disbursement_pending(
    transfer_id: str, loan_id: str, principal_minor: int, upfront_fee_minor: int, on: date
) -> Transfer:
    """Phase one: the loan is owed in full; the net amount waits in clearing for the bank; the
    disclosed upfront fee is earned (it lowers what is paid out, never the principal owed)."""
    if not 0 <= upfront_fee_minor < principal_minor:
        raise LedgerError("the upfront fee must be at least 0 and below the principal")
    entries = _nonzero(
        [
            debit(loan_account(AccountCode.PRINCIPAL_RECEIVABLE, loan_id), principal_minor),
            credit(DISBURSEMENT_CLEARING, principal_minor - upfront_fee_minor),
            credit(FEE_INCOME, upfront_fee_minor),
        ]
    )
    return make_transfer(transfer_id, TransferCode.DISBURSEMENT, entries, on, description=f"disburse loan {loan_id}")


def disbursement_settled(transfer_id: str, loan_id: str, net_minor: int, on: date) -> Transfer:
    """Phase two: the bank paid the borrower; clearing empties into bank cash."""
    entries = [debit(DISBURSEMENT_CLEARING, net_minor), credit(BANK_CASH, net_minor)]
    return make_transfer(
        transfer_id, TransferCode.DISBURSEMENT_SETTLED, entries, on, description=f"payout of loan {loan_id}"
    )


def accrual(transfer_id: str, loan_id: str, code: TransferCode, amount_minor: int, on: date) -> Transfer:
    """Daily interest earned (into the book's accrued-interest account until the installment is
    billed) or penalty interest earned and owed by the loan."""
    if code is TransferCode.INTEREST_ACCRUAL:
        entries = [debit(ACCRUED_INTEREST, amount_minor), credit(INTEREST_INCOME, amount_minor)]
    elif code is TransferCode.PENALTY_ACCRUAL:
        entries = [
            debit(loan_account(AccountCode.PENALTY_RECEIVABLE, loan_id), amount_minor),
            credit(PENALTY_INCOME, amount_minor),
        ]
    else:
        raise LedgerError(f"{code.value} is not an accrual")
    return make_transfer(transfer_id, code, entries, on, description=f"{code.value} {loan_id}".strip())


def interest_billing(transfer_id: str, loan_id: str, amount_minor: int, on: date) -> Transfer:
    """An installment falls due: the interest it earned moves from accrued to the loan's receivable."""
    entries = [
        debit(loan_account(AccountCode.INTEREST_RECEIVABLE, loan_id), amount_minor),
        credit(ACCRUED_INTEREST, amount_minor),
    ]
    return make_transfer(transfer_id, TransferCode.INTEREST_BILLING, entries, on)


def fee_charge(transfer_id: str, loan_id: str, amount_minor: int, on: date) -> Transfer:
    """A disclosed per-period fee falls due."""
    entries = [debit(loan_account(AccountCode.FEE_RECEIVABLE, loan_id), amount_minor), credit(FEE_INCOME, amount_minor)]
    return make_transfer(transfer_id, TransferCode.FEE_CHARGE, entries, on)


def repayment(
    transfer_id: str, loan_id: str, borrower_id: str, split: Split, on: date, accrued_interest_minor: int = 0
) -> Transfer:
    """Money received, split as allocated; anything beyond what is owed is the borrower's credit.
    `accrued_interest_minor` of the interest is not yet billed (a prepayment pays it)."""
    total = to_minor(split.total)
    billed_interest = to_minor(split.interest) - accrued_interest_minor
    if billed_interest < 0:
        raise LedgerError("the accrued interest paid cannot exceed the interest paid")
    entries = _nonzero(
        [
            debit(BANK_CASH, total),
            credit(loan_account(AccountCode.PENALTY_RECEIVABLE, loan_id), to_minor(split.penalty)),
            credit(loan_account(AccountCode.FEE_RECEIVABLE, loan_id), to_minor(split.fees)),
            credit(loan_account(AccountCode.INTEREST_RECEIVABLE, loan_id), billed_interest),
            credit(ACCRUED_INTEREST, accrued_interest_minor),
            credit(loan_account(AccountCode.PRINCIPAL_RECEIVABLE, loan_id), to_minor(split.principal)),
            credit(AccountKey(AccountCode.BORROWER_CREDIT, f"borrower:{borrower_id}"), to_minor(split.excess)),
        ]
    )
    return make_transfer(transfer_id, TransferCode.REPAYMENT, entries, on, description=f"repayment of loan {loan_id}")


def provision_change(transfer_id: str, delta_minor: int, on: date) -> Transfer:
    """Raise (delta > 0) or release (delta < 0) the loan-loss allowance to its required level."""
    if delta_minor == 0:
        raise LedgerError("no provision change to post")
    amount = abs(delta_minor)
    entries = (
        [debit(PROVISION_EXPENSE, amount), credit(PROVISIONS, amount)]
        if delta_minor > 0
        else [debit(PROVISIONS, amount), credit(PROVISION_EXPENSE, amount)]
    )
    return make_transfer(transfer_id, TransferCode.PROVISION, entries, on)


def write_off(transfer_id: str, loan_id: str, principal_minor: int, provision_used_minor: int, on: date) -> Transfer:
    """Remove the principal from the books: the provision held absorbs what it can, the rest is
    a write-off loss."""
    if not 0 <= provision_used_minor <= principal_minor:
        raise LedgerError("the provision used must be between 0 and the principal written off")
    entries = _nonzero(
        [
            debit(PROVISIONS, provision_used_minor),
            debit(WRITE_OFF, principal_minor - provision_used_minor),
            credit(loan_account(AccountCode.PRINCIPAL_RECEIVABLE, loan_id), principal_minor),
        ]
    )
    return make_transfer(transfer_id, TransferCode.WRITE_OFF, entries, on, description=f"write off loan {loan_id}")


def write_off_loan(
    transfer_id: str,
    loan_id: str,
    principal_minor: int,
    interest_minor: int,
    fee_minor: int,
    penalty_minor: int,
    provision_used_minor: int,
    on: date,
    accrued_interest_minor: int = 0,
) -> Transfer:
    """核销: every receivable the loan carries leaves the books (billed interest from the loan's
    account, interest not yet billed from the accrued account); the provision held absorbs up to
    the principal, the rest is a write-off loss."""
    total = principal_minor + interest_minor + fee_minor + penalty_minor + accrued_interest_minor
    if not 0 <= provision_used_minor <= principal_minor or total <= 0:
        raise LedgerError("a write-off needs something to write off and at most the principal from provisions")
    entries = _nonzero(
        [
            debit(PROVISIONS, provision_used_minor),
            debit(WRITE_OFF, total - provision_used_minor),
            credit(loan_account(AccountCode.PRINCIPAL_RECEIVABLE, loan_id), principal_minor),
            credit(loan_account(AccountCode.INTEREST_RECEIVABLE, loan_id), interest_minor),
            credit(loan_account(AccountCode.FEE_RECEIVABLE, loan_id), fee_minor),
            credit(loan_account(AccountCode.PENALTY_RECEIVABLE, loan_id), penalty_minor),
            credit(ACCRUED_INTEREST, accrued_interest_minor),
        ]
    )
    return make_transfer(transfer_id, TransferCode.WRITE_OFF, entries, on, description=f"write off loan {loan_id}")


def recovery(
    transfer_id: str, loan_id: str, borrower_id: str, recovered_minor: int, excess_minor: int, on: date
) -> Transfer:
    """Money received on a written-off loan reduces the write-off loss; beyond what was written
    off it is the borrower's credit."""
    entries = _nonzero(
        [
            debit(BANK_CASH, recovered_minor + excess_minor),
            credit(WRITE_OFF, recovered_minor),
            credit(AccountKey(AccountCode.BORROWER_CREDIT, f"borrower:{borrower_id}"), excess_minor),
        ]
    )
    return make_transfer(transfer_id, TransferCode.RECOVERY, entries, on, description=f"recovery on loan {loan_id}")
