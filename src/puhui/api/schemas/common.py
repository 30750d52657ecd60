"""Field types shared by API schemas: amounts and rates travel as strings, never floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema

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
AmountOut = Annotated[Decimal, PlainSerializer(format_amount, return_type=str), WithJsonSchema({"type": "string"})]


class ErrorField(BaseModel):
    path: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[ErrorField] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Not found"},
    422: {"model": ErrorBody, "description": "Invalid input, with the field and the reason"},
}
