"""The alternative data the seeds name, one schema per source, with row-level validation.

Sources and the consent scope each needs (DESIGN.md "Consent scopes"):

| source            | scope             | one row is                                              |
|-------------------|-------------------|---------------------------------------------------------|
| transactions      | transactions      | a money movement on the borrower's account (in or out)  |
| utility_payments  | transactions      | a utility bill and when it was paid                     |
| tax_invoices      | tax_invoices      | an e-invoice (fapiao) issued or received                |
| repayments        | credit_bureau     | an installment of a loan at another lender, and its pay |
| relations         | relations         | a link to another party (phone, device, address, ...)   |
| devices           | credit_assessment | device facts seen at an application                     |

Amounts are Decimal yuan with at most two decimals (strings in JSON/CSV); dates are ISO dates.
Counterparty and other-party ids are opaque keys chosen by the data provider (a hashed account,
a USCC, another borrower's id): never a plaintext phone or card number.

`validate_rows(source, rows)` keeps every good row and returns each bad one with its index and
the reasons (field + message); nothing here does I/O. The same columns, plus `borrower_id`, are
what `puhui simulate` writes and what the feature code reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from puhui.domain.access import ConsentScope


class Source(StrEnum):
    TRANSACTIONS = "transactions"
    UTILITY_PAYMENTS = "utility_payments"
    TAX_INVOICES = "tax_invoices"
    REPAYMENTS = "repayments"
    RELATIONS = "relations"
    DEVICES = "devices"

    @property
    def scope(self) -> ConsentScope:
        return SCOPE_OF[self]


SCOPE_OF: dict[Source, ConsentScope] = {
    Source.TRANSACTIONS: ConsentScope.TRANSACTIONS,
    Source.UTILITY_PAYMENTS: ConsentScope.TRANSACTIONS,
    Source.TAX_INVOICES: ConsentScope.TAX_INVOICES,
    Source.REPAYMENTS: ConsentScope.CREDIT_BUREAU,
    Source.RELATIONS: ConsentScope.RELATIONS,
    Source.DEVICES: ConsentScope.CREDIT_ASSESSMENT,
}


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Channel(StrEnum):
    BANK = "bank"
    ALIPAY = "alipay"
    WECHAT = "wechat"
    POS = "pos"
    CASH = "cash"


class InvoiceDirection(StrEnum):
    SALES = "sales"  # issued by the borrower
    PURCHASE = "purchase"  # received by the borrower


class InvoiceStatus(StrEnum):
    VALID = "valid"
    VOID = "void"  # 作废
    RED = "red"  # 红冲 (credit note)


class Utility(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    TELECOM = "telecom"


class RelationKind(StrEnum):
    SHARED_PHONE = "shared_phone"
    SHARED_DEVICE = "shared_device"
    SHARED_ADDRESS = "shared_address"
    GUARANTOR = "guarantor"
    TRADING_PARTNER = "trading_partner"
    FAMILY = "family"


Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_float_money(cls, value: Any) -> Any:
        # CSV and JSON hand us strings or ints; a float amount would already have lost its fen
        if isinstance(value, float):
            raise ValueError("amounts and numbers must be given as strings or integers, not floats")
        return value


class TransactionRow(_Row):
    txn_id: Key
    occurred_on: date
    direction: Direction
    amount: PositiveMoney
    counterparty_id: Key | None = None
    channel: Channel = Channel.BANK
    balance_after: Annotated[Decimal, Field(max_digits=14, decimal_places=2)] | None = None  # may be negative


class UtilityPaymentRow(_Row):
    bill_id: Key
    utility: Utility
    due_on: date
    paid_on: date | None = None  # None: unpaid
    amount: Money

    @model_validator(mode="after")
    def _paid_after_issue(self) -> UtilityPaymentRow:
        if self.paid_on is not None and (self.due_on - self.paid_on).days > 366:
            raise ValueError("paid_on is more than a year before due_on")
        return self


class TaxInvoiceRow(_Row):
    invoice_id: Key
    issued_on: date
    direction: InvoiceDirection
    amount: Money  # before tax
    tax_amount: Money
    counterparty_id: Key | None = None
    status: InvoiceStatus = InvoiceStatus.VALID


class RepaymentRow(_Row):
    """One installment of a loan at another lender (bureau-style repayment history)."""

    lender: Key
    loan_ref: Key
    due_on: date
    amount_due: Money
    paid_on: date | None = None
    amount_paid: Money = Decimal("0")


class RelationRow(_Row):
    kind: RelationKind
    other_party_id: Key
    since: date | None = None


class DeviceRow(_Row):
    device_id: Key
    observed_on: date
    ip_prefix: Annotated[str, Field(min_length=1, max_length=45, pattern=r"^[0-9a-fA-F.:/]+$")] | None = None
    os: Annotated[str, Field(max_length=32)] | None = None
    emulator: bool = False
    rooted: bool = False


SCHEMAS: dict[Source, type[_Row]] = {
    Source.TRANSACTIONS: TransactionRow,
    Source.UTILITY_PAYMENTS: UtilityPaymentRow,
    Source.TAX_INVOICES: TaxInvoiceRow,
    Source.REPAYMENTS: RepaymentRow,
    Source.RELATIONS: RelationRow,
    Source.DEVICES: DeviceRow,
}


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # position of the row in the input, from 0
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Validated:
    accepted: list[_Row]
    rejected: list[Rejected]


def _blank_to_none(row: Mapping[str, Any]) -> dict[str, Any]:
    """CSV cells are strings: an empty cell means "not given"."""
    return {k: (None if isinstance(v, str) and v.strip() == "" else v) for k, v in row.items()}


def validate_rows(source: Source, rows: Iterable[Mapping[str, Any]]) -> Validated:
    """Every row checked on its own: good rows kept, bad rows returned with their reasons."""
    schema = SCHEMAS[source]
    accepted: list[_Row] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(rows):
        if not isinstance(raw, Mapping):
            rejected.append(Rejected(index, (Problem("", "a row must be an object of named fields"),)))
            continue
        try:
            accepted.append(schema.model_validate(_blank_to_none(raw)))
        except ValidationError as exc:
            problems = tuple(
                Problem(".".join(str(p) for p in e["loc"]) or "", e["msg"].removeprefix("Value error, "))
                for e in exc.errors()
            )
            rejected.append(Rejected(index, problems))
    return Validated(accepted, rejected)


def columns(source: Source) -> list[str]:
    """The field names of a source, in schema order (the CSV header, without borrower_id)."""
    return list(SCHEMAS[source].model_fields)
