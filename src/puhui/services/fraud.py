"""The database side of the real-time fraud checks (risk/fraud.py decides what the facts mean):
application signals and velocity counts, ring look-ups over shared devices and relations, payout
accounts that are flagged or shared, and the alert queue that operations and risk staff work.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from puhui.adapters.db.tables import (
    application_signals,
    borrower_data,
    disbursements,
    flagged_accounts,
    loan_servicing,
    loans,
    risk_alerts,
)
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import IdentifierError, mask_bank_card, normalise_bank_card
from puhui.risk.data.schemas import RelationKind, Source
from puhui.risk.fraud import (
    Finding,
    VelocityCounts,
    payer_findings,
    payout_findings,
    ring_around,
    ring_findings,
    velocity_findings,
)
from puhui.services.borrowers import Conflict, Forbidden, NotFound

ALERT_ROLES = (Role.RISK, Role.OPS, Role.ADMIN)
FLAG_ROLES = (Role.RISK, Role.ADMIN)
NETWORK_CONTEXT = "application.network"
ACCOUNT_CONTEXT = "disbursement.account"  # the same keyed hash as the payout's account
# relation kinds that mean "the same person or household", not a business tie
RING_KINDS = (RelationKind.SHARED_PHONE, RelationKind.SHARED_DEVICE, RelationKind.SHARED_ADDRESS)
DEFAULT_DPD = 90


@dataclass(frozen=True, slots=True)
class Signals:
    """Where an application came from: the phone it was signed in with, the device, the network."""

    phone_hash: str
    device_id: str | None
    network_hash: str | None


def network_of(container: Container, client_ip: str | None) -> str | None:
    """A keyed hash of the client's /24 (IPv4) or /48 (IPv6): never the address itself."""
    try:
        ip = ipaddress.ip_address(client_ip or "")
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return container.cipher.lookup_hash(str(net), NETWORK_CONTEXT)


def velocity(conn: Connection, s: Signals, now: datetime) -> VelocityCounts:
    """Applications in the window, this one included (it is not yet recorded)."""

    def count(column: Any, value: str | None, window: timedelta) -> int | None:
        if value is None:
            return None
        since = now - window
        seen = conn.execute(
            select(func.count()).where(and_(column == value, application_signals.c.created_at > since))
        ).scalar_one()
        return int(seen) + 1

    day, hour = timedelta(hours=24), timedelta(hours=1)
    phone = count(application_signals.c.phone_hash, s.phone_hash, day)
    return VelocityCounts(
        phone_24h=phone or 1,
        device_24h=count(application_signals.c.device_id, s.device_id, day),
        network_1h=count(application_signals.c.network_hash, s.network_hash, hour),
    )


def record_signals(conn: Connection, borrower_id: str, decision_id: str, s: Signals, now: datetime) -> None:
    conn.execute(
        application_signals.insert().values(
            borrower_id=borrower_id,
            decision_id=decision_id,
            phone_hash=s.phone_hash,
            device_id=s.device_id,
            network_hash=s.network_hash,
            created_at=now,
        )
    )


def _ring_keys(conn: Connection, borrower_ids: set[str]) -> tuple[set[str], set[str]]:
    """The ring-forming relation keys and the device ids of these borrowers."""
    prefixes = [f"{k.value}:" for k in RING_KINDS]
    keys = {
        r.row_key
        for r in conn.execute(
            select(borrower_data.c.row_key).where(
                and_(
                    borrower_data.c.borrower_id.in_(borrower_ids),
                    borrower_data.c.source == Source.RELATIONS.value,
                    or_(*(borrower_data.c.row_key.startswith(p) for p in prefixes)),
                )
            )
        )
    }
    devices = {
        r.device_id
        for r in conn.execute(
            select(application_signals.c.device_id).where(
                and_(application_signals.c.borrower_id.in_(borrower_ids), application_signals.c.device_id.is_not(None))
            )
        )
    }
    return keys, devices


def _neighbours(conn: Connection, borrower_ids: set[str]) -> set[str]:
    keys, devices = _ring_keys(conn, borrower_ids)
    found: set[str] = set()
    if keys:
        found |= {
            r.borrower_id
            for r in conn.execute(
                select(borrower_data.c.borrower_id).where(
                    and_(borrower_data.c.source == Source.RELATIONS.value, borrower_data.c.row_key.in_(keys))
                )
            )
        }
    if devices:
        found |= {
            r.borrower_id
            for r in conn.execute(
                select(application_signals.c.borrower_id).where(application_signals.c.device_id.in_(devices))
            )
        }
    return found


def _defaulted(conn: Connection, borrower_ids: set[str]) -> set[str]:
    if not borrower_ids:
        return set()
    rows = conn.execute(
        select(loan_servicing.c.borrower_id).where(
            and_(
                loan_servicing.c.borrower_id.in_(borrower_ids),
                or_(loan_servicing.c.status == "written_off", loan_servicing.c.max_dpd > DEFAULT_DPD),
            )
        )
    )
    return {r.borrower_id for r in rows}


def application_findings(conn: Connection, borrower_id: str, s: Signals, now: datetime) -> list[Finding]:
    """Velocity and rings for a new application (its own device counts as a link)."""
    found = velocity_findings(velocity(conn, s, now))
    start = {borrower_id}
    if s.device_id is not None:
        start |= {
            r.borrower_id
            for r in conn.execute(
                select(application_signals.c.borrower_id).where(application_signals.c.device_id == s.device_id)
            )
        }
    members = ring_around(start, lambda frontier: _neighbours(conn, frontier))
    found += ring_findings(members, _defaulted(conn, members), borrower_id)
    return found


# --- payouts -------------------------------------------------------------------------------------


def payout_check(conn: Connection, borrower_id: str, account_hash: str) -> list[Finding]:
    flagged = conn.execute(
        select(flagged_accounts.c.reason).where(flagged_accounts.c.account_hash == account_hash)
    ).scalar()
    others = conn.execute(
        select(func.count(func.distinct(loans.c.borrower_id)))
        .select_from(disbursements.join(loans, loans.c.id == disbursements.c.loan_id))
        .where(
            and_(
                disbursements.c.account_hash == account_hash,
                disbursements.c.status != "failed",
                loans.c.borrower_id != borrower_id,
            )
        )
    ).scalar_one()
    return payout_findings(flagged, int(others))


def known_payout_last4(conn: Connection, borrower_id: str) -> set[str]:
    rows = conn.execute(
        select(disbursements.c.account_masked)
        .select_from(disbursements.join(loans, loans.c.id == disbursements.c.loan_id))
        .where(and_(loans.c.borrower_id == borrower_id, disbursements.c.status != "failed"))
    )
    return {r.account_masked[-4:] for r in rows}


def note_payer(container: Container, loan_id: str, payer_last4: str | None, reference: str) -> list[str]:
    """After a bank repayment is posted: an alert when it came from an account the borrower was
    never paid out to (someone else paying, or money laundered through the loan)."""

    def work(conn: Connection) -> list[str]:
        borrower_id = conn.execute(select(loans.c.borrower_id).where(loans.c.id == loan_id)).scalar()
        if borrower_id is None:
            return []
        findings = payer_findings(payer_last4, known_payout_last4(conn, borrower_id))
        return raise_alerts(conn, findings, borrower_id, f"repayment:{reference}", container.clock.now())

    return list(container.db.transaction(work))


def flag_account(container: Container, account_number: str, reason: str, caller: Principal) -> dict[str, Any]:
    if not caller.has_any(FLAG_ROLES):
        raise Forbidden("only risk or admin staff flag accounts")
    try:
        account = normalise_bank_card(account_number)
    except IdentifierError as exc:
        raise DomainValidationError([FieldProblem("account_number", str(exc))]) from None
    if not reason.strip():
        raise DomainValidationError([FieldProblem("reason", "a flag needs a recorded reason")])
    digest = container.cipher.lookup_hash(account, ACCOUNT_CONTEXT)
    view = {"account": mask_bank_card(account), "reason": reason.strip(), "flagged_by": caller.subject_id}

    def work(conn: Connection) -> dict[str, Any]:
        known = select(flagged_accounts.c.account_hash).where(flagged_accounts.c.account_hash == digest)
        if conn.execute(known).first():
            raise Conflict(f"account {view['account']} is already flagged", "account_number")
        conn.execute(
            flagged_accounts.insert().values(
                account_hash=digest,
                account_masked=view["account"],
                reason=view["reason"],
                flagged_by=caller.subject_id,
                created_at=container.clock.now(),
            )
        )
        return view

    return dict(container.db.transaction(work))


# --- alerts --------------------------------------------------------------------------------------


def raise_alerts(
    conn: Connection, findings: list[Finding], borrower_id: str | None, subject: str | None, now: datetime
) -> list[str]:
    ids = []
    insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(risk_alerts)
    for f in findings:
        alert_id = str(uuid.uuid4())
        details = {"text_zh": f.text_zh, "text_en": f.text_en, **f.details}
        statement = (
            insert.on_conflict_do_nothing(index_elements=["kind", "subject"])
            .returning(risk_alerts.c.id)
            .values(
                id=alert_id,
                kind=f.alert.value,
                severity=f.severity.value,
                borrower_id=borrower_id,
                subject=subject,
                details_json=json.dumps(details, ensure_ascii=False, sort_keys=True),
                status="open",
                created_at=now,
            )
        )
        # RETURNING names the row only when it was inserted (rowcount is not reliable here on psycopg)
        if conn.execute(statement).first() is not None:
            ids.append(alert_id)
    return ids


def _alert_view(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "severity": r.severity,
        "borrower_id": r.borrower_id,
        "subject": r.subject,
        "details": json.loads(r.details_json),
        "status": r.status,
        "created_at": r.created_at,
        "resolved_by": r.resolved_by,
        "resolved_at": r.resolved_at,
        "resolution": r.resolution,
    }


def list_alerts(container: Container, caller: Principal, status: str | None, limit: int, offset: int) -> list[Any]:
    if not caller.has_any(ALERT_ROLES):
        raise Forbidden("only risk, operations or admin staff see the alert queue")
    query = select(risk_alerts).order_by(risk_alerts.c.created_at.desc(), risk_alerts.c.id).limit(limit).offset(offset)
    if status:
        query = query.where(risk_alerts.c.status == status)
    return container.db.read(lambda c: [_alert_view(r) for r in c.execute(query)])


def resolve_alert(container: Container, alert_id: str, resolution: str, caller: Principal) -> dict[str, Any]:
    if not caller.has_any(ALERT_ROLES):
        raise Forbidden("only risk, operations or admin staff resolve alerts")
    if not resolution.strip():
        raise DomainValidationError([FieldProblem("resolution", "say what was found and done")])

    def work(conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(risk_alerts).where(risk_alerts.c.id == alert_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"alert {alert_id} was not found")
        if row.status != "open":
            raise Conflict(f"alert {alert_id} is already {row.status}", "alert_id")
        conn.execute(
            risk_alerts.update()
            .where(risk_alerts.c.id == alert_id)
            .values(
                status="resolved",
                resolved_by=caller.subject_id,
                resolved_at=container.clock.now(),
                resolution=resolution.strip(),
            )
        )
        return _alert_view(conn.execute(select(risk_alerts).where(risk_alerts.c.id == alert_id)).one())

    return dict(container.db.transaction(work))
