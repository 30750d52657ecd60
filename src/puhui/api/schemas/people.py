"""Sign-in, borrower and consent schemas. Identifiers go in whole and only ever come out masked."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PastDate, model_validator

from puhui.api.schemas.common import ISO_DATE_ONLY, AmountIn, Timestamp
from puhui.domain.access import ConsentScope
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.money import format_amount
from puhui.services.borrowers import BorrowerView, ConsentView


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=11, max_length=20, examples=["13812345678"])


class OtpResponse(BaseModel):
    sent: bool
    expires_in: int
    demo_otp: str | None = Field(default=None, description="only in demo mode")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=20)
    otp: str | None = Field(default=None, max_length=10)
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> TokenRequest:
        by_otp = self.phone is not None and self.otp is not None
        by_password = self.username is not None and self.password is not None
        if by_otp == by_password:
            raise ValueError("send either {phone, otp} or {username, password}")
        return self


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    expires_in: int


class BorrowerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: BorrowerKind
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=1, max_length=30, description="resident ID, or USCC for an enterprise")
    phone: str = Field(min_length=11, max_length=20)
    region: str = Field(pattern=r"^\d{6}$", description="6-digit administrative division code")
    industry: Sector | None = None
    staff_count: int | None = Field(default=None, ge=0, le=10_000_000)
    annual_revenue: AmountIn | None = None
    total_assets: AmountIn | None = None
    established_on: Annotated[PastDate, ISO_DATE_ONLY] | None = Field(
        default=None, description="businesses: the date on the business licence"
    )


class BorrowerOut(BaseModel):
    id: str
    kind: str
    name: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    region: str
    industry: str | None
    staff_count: int | None
    annual_revenue: str | None
    size_class: str
    inclusive: bool
    created_at: Timestamp
    established_on: date | None = None

    @classmethod
    def of(cls, v: BorrowerView) -> BorrowerOut:
        return cls(
            id=v.id,
            kind=v.kind.value,
            name=v.name,
            id_number=v.id_number_masked,
            phone=v.phone_masked,
            region=v.region,
            industry=v.industry,
            staff_count=v.staff_count,
            annual_revenue=format_amount(v.annual_revenue) if v.annual_revenue is not None else None,
            size_class=v.size_class.value,
            inclusive=v.inclusive,
            established_on=v.established_on,
            created_at=v.created_at,
        )


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: ConsentScope
    text_version: str = Field(min_length=1, max_length=40, examples=["2026-11"])


class ConsentOut(BaseModel):
    id: str
    borrower_id: str
    scope: str
    purpose: str
    text_version: str
    granted_at: Timestamp
    revoked_at: Timestamp | None
    active: bool

    @classmethod
    def of(cls, v: ConsentView) -> ConsentOut:
        return cls(
            id=v.id,
            borrower_id=v.borrower_id,
            scope=v.scope.value,
            purpose=v.purpose,
            text_version=v.text_version,
            granted_at=v.granted_at,
            revoked_at=v.revoked_at,
            active=v.revoked_at is None,
        )
