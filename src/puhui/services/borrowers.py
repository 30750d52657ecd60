"""Borrowers and their consents. Identifiers are validated, encrypted at rest, findable by a keyed
hash and only ever shown masked. Ownership: a borrower signed in by OTP owns the records
registered with that phone; anything else is reported as not found."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, and_, select

from puhui.adapters.db.tables import borrowers, consents
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope, MissingConsent, Principal, Role, SubjectKind
from puhui.domain.borrowers import FirmFacts, Sector, SizeClass, SizeError, classify_size, is_inclusive
from puhui.domain.enums import BorrowerKind
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import (
    IdentifierError,
    mask_id_number,
    mask_mobile,
    mask_uscc,
    normalise_id_number,
    normalise_mobile,
    normalise_uscc,
)
from puhui.money import from_minor, to_minor
from puhui.services.auth import PHONE_CONTEXT

ID_CONTEXT = "borrower.id_number"
STAFF_WHO_REGISTER = (Role.OFFICER, Role.OPS)


class NotFound(Exception):
    code = "not_found"


class Forbidden(Exception):
    code = "forbidden"


class Conflict(Exception):
    code = "conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the request field the conflict is about, when there is one


@dataclass(frozen=True, slots=True)
class NewBorrower:
    kind: BorrowerKind
    name: str
    id_number: str  # resident ID for individuals and individual businesses; USCC for enterprises
    phone: str
    region: str
    industry: Sector | None = None
    staff_count: int | None = None
    annual_revenue: Decimal | None = None
    total_assets: Decimal | None = None
    established_on: date | None = None  # businesses: the date on the business licence


@dataclass(frozen=True, slots=True)
class BorrowerView:
    id: str
    kind: BorrowerKind
    name: str
    id_number_masked: str
    phone_masked: str
    region: str
    industry: str | None
    staff_count: int | None
    annual_revenue: Decimal | None
    size_class: SizeClass
    inclusive: bool
    created_at: datetime
    established_on: date | None = None


def _validated_identifiers(cmd: NewBorrower) -> tuple[str, str, str]:
    problems: list[FieldProblem] = []
    number = masked = phone = ""
    try:
        if cmd.kind is BorrowerKind.ENTERPRISE:
            number = normalise_uscc(cmd.id_number)
            masked = mask_uscc(number)
        else:
            number = normalise_id_number(cmd.id_number)
            masked = mask_id_number(number)
    except IdentifierError as exc:
        what = "unified social credit code" if cmd.kind is BorrowerKind.ENTERPRISE else "resident ID number"
        problems.append(FieldProblem("id_number", f"{what} {exc}"))
    try:
        phone = normalise_mobile(cmd.phone)
    except IdentifierError as exc:
        problems.append(FieldProblem("phone", str(exc)))
    if cmd.established_on is not None and cmd.kind is BorrowerKind.INDIVIDUAL:
        problems.append(FieldProblem("established_on", "applies to individual businesses and enterprises only"))
    if problems:
        raise DomainValidationError(problems)
    return number, masked, phone


def _size(cmd: NewBorrower) -> SizeClass:
    if cmd.kind is BorrowerKind.INDIVIDUAL:
        return SizeClass.NOT_APPLICABLE
    facts = FirmFacts(cmd.industry, cmd.staff_count, cmd.annual_revenue, cmd.total_assets)
    try:
        return classify_size(facts)
    except SizeError as exc:
        if cmd.kind is BorrowerKind.INDIVIDUAL_BUSINESS:
            return SizeClass.MICRO  # an individual business without figures is treated as micro
        raise DomainValidationError([FieldProblem("staff_count", str(exc))]) from None


def register(container: Container, cmd: NewBorrower, caller: Principal) -> BorrowerView:
    number, masked, phone = _validated_identifiers(cmd)
    cipher = container.cipher
    phone_digest = cipher.lookup_hash(phone, PHONE_CONTEXT)
    if caller.kind is SubjectKind.PHONE and caller.subject_id != phone_digest:
        raise DomainValidationError([FieldProblem("phone", "must be the phone you signed in with")])
    if caller.kind is not SubjectKind.PHONE and not caller.has_any(STAFF_WHO_REGISTER):
        raise Forbidden("only the borrower or a credit officer may register a borrower")
    size = _size(cmd)
    row = {
        "id": str(uuid.uuid4()),
        "kind": cmd.kind.value,
        "name": cmd.name.strip(),
        "id_number_enc": cipher.encrypt(number, ID_CONTEXT),
        "id_number_hash": cipher.lookup_hash(number, ID_CONTEXT),
        "id_number_masked": masked,
        "phone_enc": cipher.encrypt(phone, PHONE_CONTEXT),
        "phone_hash": phone_digest,
        "phone_masked": mask_mobile(phone),
        "region": cmd.region,
        "industry": cmd.industry.value if cmd.industry else None,
        "staff_count": cmd.staff_count,
        "annual_revenue_minor": to_minor(cmd.annual_revenue) if cmd.annual_revenue is not None else None,
        "total_assets_minor": to_minor(cmd.total_assets) if cmd.total_assets is not None else None,
        "established_on": cmd.established_on,
        "size_class": size.value,
        "inclusive": is_inclusive(cmd.kind, size, Decimal(0), business_loan=cmd.kind is not BorrowerKind.INDIVIDUAL),
        "created_at": container.clock.now(),
    }

    def work(conn: Connection) -> None:
        taken = conn.execute(select(borrowers.c.id).where(borrowers.c.id_number_hash == row["id_number_hash"]))
        if taken.first() is not None:
            raise Conflict("a borrower with this identification number is already registered")
        conn.execute(borrowers.insert().values(**row))

    container.db.transaction(work)
    return _view(row)


def _view(row: Any) -> BorrowerView:
    r: Mapping[str, Any] = row if isinstance(row, dict) else row._mapping
    revenue = r["annual_revenue_minor"]
    return BorrowerView(
        id=r["id"],
        kind=BorrowerKind(r["kind"]),
        name=r["name"],
        id_number_masked=r["id_number_masked"],
        phone_masked=r["phone_masked"],
        region=r["region"],
        industry=r["industry"],
        staff_count=r["staff_count"],
        annual_revenue=from_minor(int(revenue)) if revenue is not None else None,
        size_class=SizeClass(r["size_class"]),
        inclusive=bool(r["inclusive"]),
        created_at=r["created_at"],
        established_on=r.get("established_on"),
    )


def owned_borrower(conn: Connection, borrower_id: str, caller: Principal, missing: str | None = None) -> Any:
    """The borrower row if the caller may see it; NotFound otherwise (never 'forbidden').

    `missing` names what the caller asked for ("loan 42"), so a refusal reads like an absence."""
    row = conn.execute(select(borrowers).where(borrowers.c.id == borrower_id)).first()
    if row is None:
        raise NotFound(f"{missing or f'borrower {borrower_id}'} was not found")
    return check_owner(row, caller, missing)


def check_owner(row: Any, caller: Principal, missing: str | None = None) -> Any:
    """The borrower row if the caller may see it (staff; the borrower signed in with its phone);
    NotFound otherwise, worded like an absence."""
    if caller.kind is SubjectKind.PARTNER or (caller.kind is SubjectKind.PHONE and row.phone_hash != caller.subject_id):
        raise NotFound(f"{missing or f'borrower {row.id}'} was not found")
    return row


def owned_row(conn: Connection, table: Table, row_id: str, caller: Principal, what: str) -> Any:
    """A row of a borrower-owned table (with `id` and `borrower_id`) if the caller may see it."""
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    if row is None:
        raise NotFound(f"{what} {row_id} was not found")
    owned_borrower(conn, row.borrower_id, caller, missing=f"{what} {row_id}")
    return row


def get(container: Container, borrower_id: str, caller: Principal) -> BorrowerView:
    return _view(container.db.read(lambda conn: owned_borrower(conn, borrower_id, caller)))


def list_for(container: Container, caller: Principal, limit: int = 50, offset: int = 0) -> list[BorrowerView]:
    query = select(borrowers).order_by(borrowers.c.created_at, borrowers.c.id).limit(limit).offset(offset)
    if caller.kind is SubjectKind.PHONE:
        query = query.where(borrowers.c.phone_hash == caller.subject_id)
    elif caller.kind is SubjectKind.PARTNER:
        return []
    return [_view(r) for r in container.db.read(lambda conn: list(conn.execute(query)))]


# --- consent ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentView:
    id: str
    borrower_id: str
    scope: ConsentScope
    purpose: str
    text_version: str
    granted_at: datetime
    revoked_at: datetime | None


def _consent_view(r: Any) -> ConsentView:
    m = r._mapping
    return ConsentView(
        m["id"],
        m["borrower_id"],
        ConsentScope(m["scope"]),
        m["purpose"],
        m["text_version"],
        m["granted_at"],
        m["revoked_at"],
    )


def grant_consent(
    container: Container, borrower_id: str, scope: ConsentScope, text_version: str, caller: Principal
) -> ConsentView:
    """Only the borrower can consent (PIPL: separate consent by the person concerned)."""
    if caller.kind is not SubjectKind.PHONE:
        raise Forbidden("only the borrower can give consent")
    now = container.clock.now()
    consent_id = str(uuid.uuid4())

    def work(conn: Connection) -> None:
        owned_borrower(conn, borrower_id, caller)
        conn.execute(
            consents.insert().values(
                id=consent_id,
                borrower_id=borrower_id,
                scope=scope.value,
                purpose=scope.purpose,
                text_version=text_version,
                granted_at=now,
                revoked_at=None,
            )
        )

    container.db.transaction(work)
    return ConsentView(consent_id, borrower_id, scope, scope.purpose, text_version, now, None)


def revoke_consent(container: Container, borrower_id: str, consent_id: str, caller: Principal) -> ConsentView:
    if caller.kind is not SubjectKind.PHONE:
        raise Forbidden("only the borrower can revoke consent")
    now = container.clock.now()

    def work(conn: Connection) -> ConsentView:
        owned_borrower(conn, borrower_id, caller)
        where = and_(consents.c.id == consent_id, consents.c.borrower_id == borrower_id)
        row = conn.execute(select(consents).where(where)).first()
        if row is None:
            raise NotFound(f"consent {consent_id} was not found")
        if row.revoked_at is None:
            conn.execute(consents.update().where(where).values(revoked_at=now))
        return _consent_view(conn.execute(select(consents).where(where)).first())

    return container.db.transaction(work)


def list_consents(container: Container, borrower_id: str, caller: Principal) -> list[ConsentView]:
    def work(conn: Connection) -> list[ConsentView]:
        owned_borrower(conn, borrower_id, caller)
        rows = conn.execute(
            select(consents).where(consents.c.borrower_id == borrower_id).order_by(consents.c.granted_at)
        )
        return [_consent_view(r) for r in rows]

    return container.db.read(work)


def active_scopes(conn: Connection, borrower_id: str) -> set[ConsentScope]:
    rows = conn.execute(
        select(consents.c.scope).where(and_(consents.c.borrower_id == borrower_id, consents.c.revoked_at.is_(None)))
    )
    return {ConsentScope(r.scope) for r in rows}


def require_consent(conn: Connection, borrower_id: str, scope: ConsentScope) -> None:
    if scope not in active_scopes(conn, borrower_id):
        raise MissingConsent(scope)
