"""Double-entry ledger rules: accounts, balanced immutable transfers, reversals, balances.

A transfer has an id (the idempotency key), a code (why money moved) and entries, each a debit
or a credit of a positive whole number of fen on one account. Debits equal credits, always.
History is append-only: a correction is a new transfer that reverses the old one.
Accounts are identified by their chart code plus an optional owner (a loan id, a borrower id),
so "principal receivable of loan 42" is `AccountKey(PRINCIPAL_RECEIVABLE, "loan:42")`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        debit_normal = (AccountType.ASSET, AccountType.EXPENSE)
        return Side.DEBIT if self in debit_normal else Side.CREDIT


class Side(StrEnum):
    DEBIT = "D"
    CREDIT = "C"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class AccountCode(StrEnum):
    PRINCIPAL_RECEIVABLE = "1201"
    INTEREST_RECEIVABLE = "1202"
    PENALTY_RECEIVABLE = "1203"
    FEE_RECEIVABLE = "1204"
    ACCRUED_INTEREST = "1205"  # earned day by day, not yet billed: one account for the book
    BANK_CASH = "1001"
    DISBURSEMENT_CLEARING = "1101"
    REPAYMENT_CLEARING = "1102"
    PROVISIONS = "1299"  # contra-asset: loan-loss allowance
    BORROWER_CREDIT = "2201"  # overpayments held for the borrower
    PARTNER_PAYABLE = "2202"  # co-lending partners' share
    EQUITY = "3001"
    INTEREST_INCOME = "6011"
    PENALTY_INCOME = "6012"
    FEE_INCOME = "6021"
    PROVISION_EXPENSE = "6701"
    WRITE_OFF = "6702"  # write-off expense beyond the provisions used


@dataclass(frozen=True, slots=True)
class AccountDefinition:
    code: AccountCode
    name: str
    name_zh: str
    type: AccountType
    per_owner: bool  # sub-accounts per loan/borrower


CHART_OF_ACCOUNTS: tuple[AccountDefinition, ...] = (
    AccountDefinition(AccountCode.BANK_CASH, "Bank cash", "银行存款", AccountType.ASSET, False),
    AccountDefinition(AccountCode.DISBURSEMENT_CLEARING, "Disbursement clearing", "放款清算", AccountType.ASSET, False),
    AccountDefinition(AccountCode.REPAYMENT_CLEARING, "Repayment clearing", "还款清算", AccountType.ASSET, False),
    AccountDefinition(AccountCode.PRINCIPAL_RECEIVABLE, "Principal receivable", "应收本金", AccountType.ASSET, True),
    AccountDefinition(AccountCode.INTEREST_RECEIVABLE, "Interest receivable", "应收利息", AccountType.ASSET, True),
    AccountDefinition(AccountCode.PENALTY_RECEIVABLE, "Penalty receivable", "应收罚息", AccountType.ASSET, True),
    AccountDefinition(AccountCode.FEE_RECEIVABLE, "Fee receivable", "应收费用", AccountType.ASSET, True),
    AccountDefinition(
        AccountCode.ACCRUED_INTEREST, "Accrued interest not yet billed", "应计利息", AccountType.ASSET, False
    ),
    AccountDefinition(AccountCode.PROVISIONS, "Loan-loss provisions", "贷款损失准备", AccountType.ASSET, False),
    AccountDefinition(
        AccountCode.BORROWER_CREDIT, "Borrower credit balance", "借款人溢缴款", AccountType.LIABILITY, True
    ),
    AccountDefinition(AccountCode.PARTNER_PAYABLE, "Partner payable", "应付合作方", AccountType.LIABILITY, True),
    AccountDefinition(AccountCode.EQUITY, "Lending capital", "资本金", AccountType.EQUITY, False),
    AccountDefinition(AccountCode.INTEREST_INCOME, "Interest income", "利息收入", AccountType.INCOME, False),
    AccountDefinition(AccountCode.PENALTY_INCOME, "Penalty income", "罚息收入", AccountType.INCOME, False),
    AccountDefinition(AccountCode.FEE_INCOME, "Fee income", "手续费收入", AccountType.INCOME, False),
    AccountDefinition(AccountCode.PROVISION_EXPENSE, "Provision expense", "资产减值损失", AccountType.EXPENSE, False),
    AccountDefinition(AccountCode.WRITE_OFF, "Write-off expense", "核销损失", AccountType.EXPENSE, False),
)
CHART: Mapping[AccountCode, AccountDefinition] = {a.code: a for a in CHART_OF_ACCOUNTS}


class TransferCode(StrEnum):
    CAPITAL = "capital"
    DISBURSEMENT = "disbursement"
    DISBURSEMENT_SETTLED = "disbursement_settled"
    REPAYMENT = "repayment"
    REPAYMENT_SETTLED = "repayment_settled"
    INTEREST_ACCRUAL = "interest_accrual"
    INTEREST_BILLING = "interest_billing"
    PENALTY_ACCRUAL = "penalty_accrual"
    FEE_CHARGE = "fee_charge"
    PROVISION = "provision"
    WRITE_OFF = "write_off"
    RECOVERY = "recovery"
    PARTNER_SHARE = "partner_share"
    REVERSAL = "reversal"


class LedgerError(ValueError):
    """A transfer the ledger refuses: unbalanced, empty, unknown account, bad amount."""


class TransferConflict(LedgerError):
    """The transfer id is already used by a transfer with different content."""

    code = "transfer_conflict"


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    code: AccountCode
    owner: str = ""

    def __str__(self) -> str:
        return f"{self.code.value}:{self.owner}" if self.owner else self.code.value

    @property
    def definition(self) -> AccountDefinition:
        return CHART[self.code]


@dataclass(frozen=True, slots=True)
class Entry:
    account: AccountKey
    side: Side
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    code: TransferCode
    entries: tuple[Entry, ...]
    business_date: date
    reverses_id: str | None = None
    description: str = ""

    @property
    def total_minor(self) -> int:
        return sum(e.amount_minor for e in self.entries if e.side is Side.DEBIT)

    def content_hash(self) -> str:
        """Fingerprint of what the transfer does (not its description): the idempotency check."""
        body = {
            "code": self.code.value,
            "date": self.business_date.isoformat(),
            "reverses": self.reverses_id,
            "entries": [[str(e.account), e.side.value, e.amount_minor] for e in self.entries],
        }
        return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def make_transfer(
    transfer_id: str,
    code: TransferCode,
    entries: Iterable[Entry],
    business_date: date,
    *,
    reverses_id: str | None = None,
    description: str = "",
) -> Transfer:
    """Build a transfer, refusing it unless it is balanced and well formed."""
    transfer = Transfer(transfer_id, code, tuple(entries), business_date, reverses_id, description)
    validate_transfer(transfer)
    return transfer


def validate_transfer(t: Transfer) -> None:
    if not t.id or len(t.id) > 100:
        raise LedgerError("transfer id must be 1 to 100 characters")
    if len(t.entries) < 2:
        raise LedgerError(f"transfer {t.id} needs at least two entries")
    for e in t.entries:
        if isinstance(e.amount_minor, bool) or not isinstance(e.amount_minor, int) or e.amount_minor <= 0:
            raise LedgerError(f"transfer {t.id}: every entry amount must be a positive whole number of fen")
        if e.account.code not in CHART:
            raise LedgerError(f"transfer {t.id}: unknown account {e.account}")
        if e.account.definition.per_owner and not e.account.owner:
            raise LedgerError(f"transfer {t.id}: account {e.account.code.name} needs an owner")
    debits = sum(e.amount_minor for e in t.entries if e.side is Side.DEBIT)
    credits = sum(e.amount_minor for e in t.entries if e.side is Side.CREDIT)
    if debits != credits:
        raise LedgerError(f"transfer {t.id} is unbalanced: debits {debits} != credits {credits}")
    if (t.code is TransferCode.REVERSAL) != (t.reverses_id is not None):
        raise LedgerError(f"transfer {t.id}: a reversal, and only a reversal, names the transfer it reverses")


def reversal_of(original: Transfer, reversal_id: str, business_date: date) -> Transfer:
    """The transfer that undoes `original`: same entries, sides swapped."""
    if original.code is TransferCode.REVERSAL:
        raise LedgerError(f"transfer {original.id} is itself a reversal; post a new transfer instead")
    entries = tuple(Entry(e.account, e.side.opposite, e.amount_minor) for e in original.entries)
    return make_transfer(
        reversal_id,
        TransferCode.REVERSAL,
        entries,
        business_date,
        reverses_id=original.id,
        description=f"reversal of {original.id}",
    )


def debit(account: AccountKey, amount_minor: int) -> Entry:
    return Entry(account, Side.DEBIT, amount_minor)


def credit(account: AccountKey, amount_minor: int) -> Entry:
    return Entry(account, Side.CREDIT, amount_minor)


@dataclass(frozen=True, slots=True)
class Balance:
    """Posted totals of one account, TigerBeetle-style: both sides kept, never netted away."""

    debits_minor: int = 0
    credits_minor: int = 0
    version: int = 0

    def balance_minor(self, account_type: AccountType) -> int:
        """The balance on the account's normal side (positive for a usual balance)."""
        net = self.debits_minor - self.credits_minor
        return net if account_type.normal_side is Side.DEBIT else -net


def balance_changes(transfers: Iterable[Transfer]) -> dict[AccountKey, tuple[int, int]]:
    """Sum of (debits, credits) per account that posting `transfers` adds."""
    changes: dict[AccountKey, tuple[int, int]] = {}
    for t in transfers:
        for e in t.entries:
            d, c = changes.get(e.account, (0, 0))
            changes[e.account] = (d + e.amount_minor, c) if e.side is Side.DEBIT else (d, c + e.amount_minor)
    return changes


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    code: AccountCode
    name: str
    type: AccountType
    debits_minor: int
    credits_minor: int

    @property
    def balance_minor(self) -> int:
        return Balance(self.debits_minor, self.credits_minor).balance_minor(self.type)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    lines: tuple[TrialBalanceLine, ...]

    @property
    def debits_minor(self) -> int:
        return sum(line.debits_minor for line in self.lines)

    @property
    def credits_minor(self) -> int:
        return sum(line.credits_minor for line in self.lines)

    @property
    def balanced(self) -> bool:
        return self.debits_minor == self.credits_minor


def trial_balance(totals: Mapping[AccountCode, tuple[int, int]]) -> TrialBalance:
    """A trial balance from (debits, credits) per chart code, every chart account listed."""
    lines = tuple(TrialBalanceLine(a.code, a.name, a.type, *totals.get(a.code, (0, 0))) for a in CHART_OF_ACCOUNTS)
    return TrialBalance(lines)
