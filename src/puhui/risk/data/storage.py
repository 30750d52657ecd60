"""How a validated alternative-data row is kept and read back: its natural key within its source,
its own date, and a JSON payload with money in integer fen (`amount` -> `amount_minor`).

Reading back gives the schema's columns with amounts as two-decimal strings, the same shape
`puhui simulate` writes, so the feature code reads stored and simulated data alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from puhui.money import format_amount, from_minor, to_minor
from puhui.risk.data.schemas import SCHEMAS, Source

_KEYS: dict[Source, Callable[[Any], str]] = {
    Source.TRANSACTIONS: lambda r: str(r.txn_id),
    Source.UTILITY_PAYMENTS: lambda r: str(r.bill_id),
    Source.TAX_INVOICES: lambda r: str(r.invoice_id),
    Source.REPAYMENTS: lambda r: f"{r.lender}:{r.loan_ref}:{r.due_on.isoformat()}",
    Source.RELATIONS: lambda r: f"{r.kind.value}:{r.other_party_id}",
    Source.DEVICES: lambda r: f"{r.device_id}:{r.observed_on.isoformat()}",
}

_DATES: dict[Source, str] = {
    Source.TRANSACTIONS: "occurred_on",
    Source.UTILITY_PAYMENTS: "due_on",
    Source.TAX_INVOICES: "issued_on",
    Source.REPAYMENTS: "due_on",
    Source.RELATIONS: "since",
    Source.DEVICES: "observed_on",
}


def row_key(source: Source, row: BaseModel) -> str:
    """The row's identity within its source and borrower: re-sending it is a duplicate."""
    return _KEYS[source](row)


def row_date(source: Source, row: BaseModel) -> date | None:
    value = getattr(row, _DATES[source])
    return value if isinstance(value, date) else None


def to_payload(row: BaseModel) -> str:
    out: dict[str, Any] = {}
    for name, value in row:
        if isinstance(value, Decimal):  # every Decimal of the schemas is an amount of money
            out[f"{name}_minor"] = to_minor(value)
        elif isinstance(value, Enum):
            out[name] = value.value
        elif isinstance(value, date):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return json.dumps(out, sort_keys=True, ensure_ascii=False)


def from_payload(source: Source, payload: str) -> dict[str, Any]:
    """The stored row in the schema's columns: amounts as "12.50", dates as ISO strings."""
    stored: Mapping[str, Any] = json.loads(payload)
    row: dict[str, Any] = {}
    for name in SCHEMAS[source].model_fields:
        minor = stored.get(f"{name}_minor")
        row[name] = stored.get(name) if minor is None else format_amount(from_minor(int(minor)))
    return row
