"""Field types shared by API schemas: amounts and rates travel as strings, never floats."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from puhui.clock import as_utc
from puhui.money import MoneyError, format_amount, parse_amount, parse_rate


def _amount(raw: Any) -> Decimal:
    try:
        return parse_amount(raw)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _rate(raw: Any) -> Decimal:
    try:
        return parse_rate(raw)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


AmountIn = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "examples": ["12000.00"]}),
]
RateIn = Annotated[
    Decimal,
    BeforeValidator(_rate),
    WithJsonSchema({"type": "string", "pattern": r"^0(\.\d+)?$|^1(\.0+)?$", "examples": ["0.1200"]}),
]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(raw: Any) -> Any:
    """A date is written as one: Pydantic would also take a number (or a numeric string) as seconds
    since 1970, so `as_of=-1.2e-38` was 1970-01-01 (found by Schemathesis)."""
    if isinstance(raw, bool | int | float) or (isinstance(raw, str) and not _ISO_DATE.match(raw.strip())):
        raise ValueError("must be a date like 2026-01-15")
    return raw


# a request's date: ISO 8601 only (YYYY-MM-DD)
ISO_DATE_ONLY = BeforeValidator(_iso_date)
IsoDate = Annotated[date, ISO_DATE_ONLY]
AmountOut = Annotated[Decimal, PlainSerializer(format_amount, return_type=str), WithJsonSchema({"type": "string"})]

# One payment (a repayment or an incoming bank payment) is at most this much: more than any loan
# here could owe, and far inside the ledger's 64-bit fen (an unbounded amount was a 500 from the
# database, found by the stateful Schemathesis run).
MAX_PAYMENT = Decimal("1000000000.00")

# Paging: an offset past any real table, but inside a 64-bit integer (the databases' limit: a larger
# one was a 500 from the driver).
MAX_OFFSET = 1_000_000_000
PageLimit = Annotated[int, Query(ge=1, le=100, description="page size")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]

# A moment with its offset (RFC 3339 date-time): SQLite hands datetimes back naive, stored in UTC.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]


class ErrorField(BaseModel):
    path: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[ErrorField] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail


# Every operation may answer with these; the body is always ErrorBody. (Schemathesis checks that no
# operation answers with a status or a body it does not declare: tests/reliability.)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A body that cannot be parsed, or a missing Idempotency-Key"},
    401: {"model": ErrorBody, "description": "Not signed in, or a bad signature"},
    403: {"model": ErrorBody, "description": "Signed in without the role this needs"},
    404: {"model": ErrorBody, "description": "Not found (also: another borrower's object)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state, a consent or an idempotency key"},
    422: {"model": ErrorBody, "description": "Invalid input, with the field and the reason"},
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many requests; see Retry-After"},
}


def json_errors(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same error responses for a route whose success is not JSON (HTML, PDF): FastAPI would
    document a `model` under the route's own media type, but error bodies are always JSON."""
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {"description": r["description"], "content": {"application/json": {"schema": ref}}}
        for status, r in responses.items()
    }


# --- response bodies that services build as dicts ----------------------------------------------
# The routes declare these with `response_model_exclude_unset=True`: the JSON is the dict the
# service built, key for key (a key it leaves out stays out; a key the model does not name yet is
# passed on, never dropped), and every declared field is checked for its type on the way out.


class Passthrough(BaseModel):
    model_config = ConfigDict(extra="allow")


def _moment(value: Any) -> Any:
    return as_utc(value).isoformat() if isinstance(value, datetime) else value


AmountStr = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["12000.00"])]
# a moment as the services hand it over, written as Python writes it (`+00:00`), with its offset
# also on SQLite (which hands datetimes back naive, stored in UTC)
Moment = Annotated[str, BeforeValidator(_moment), WithJsonSchema({"type": "string", "format": "date-time"})]
Number = int | float  # an integer stays one in the JSON (0, not 0.0)
