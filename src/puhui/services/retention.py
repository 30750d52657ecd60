"""Retention of personal data: borrowers past their period are anonymised, never deleted.

PIPL Art. 19 keeps personal information no longer than its purpose needs; the Anti-Money
Laundering Law keeps customer identity data and transaction records at least five years after the
business relationship ends. The periods are settings (config.py, `retention_*`):

- a borrower who never had a loan (declined, abandoned, never applied) is anonymised
  `retention_no_loan_days` (365) after their last activity;
- a borrower whose loans have all ended (closed or written off) `retention_after_loans_years` (5,
  the AML floor) after the later of the last loan's end and their last activity;
- never while a loan is open or an application pending (in review, or an offer or an unsigned
  contract still valid).

Anonymising replaces the name, ID number, phone and payout cards (ciphertexts, keyed hashes and
masked forms) with tombstones, replaces contract documents (they carry the name; the hash and the
platform's signature stay), deletes the alternative data and fraud signals, revokes the consents,
and deletes the phone's sign-in records when no other borrower uses it. Money records stay as they
are: ledger, loans, installments, repayments, applications and decisions. One `retention_log` row
(no personal data) says which rule applied and what changed. Each borrower is one transaction,
checked again inside it, so a run can stop anywhere and run again (idempotent).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.sql import Select

from puhui.adapters.db.tables import (
    application_signals,
    applications,
    auth_tokens,
    borrower_data,
    borrowers,
    consents,
    contracts,
    data_batches,
    disbursements,
    idempotency_keys,
    loan_servicing,
    loans,
    offers,
    otp_challenges,
    repayments,
    retention_log,
    risk_decisions,
    sms_outbox,
)
from puhui.bootstrap import Container
from puhui.clock import CHINA_TZ, as_utc
from puhui.config import Settings
from puhui.domain.access import SubjectKind
from puhui.domain.dates import add_months
from puhui.domain.servicing import LoanStatus
from puhui.services.auth import PHONE_CONTEXT

TOMBSTONE = "[anonymised]"  # what every display shows in place of a name, ID, phone or card
ERASED = "erased"  # in place of a ciphertext (never decrypted: see `is_erased`)
TOMBSTONE_DOCUMENT = (
    '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>[anonymised]</title></head><body>'
    "<p>本合同文本所载个人信息已于保存期限届满后删除；合同哈希与平台签名予以保留。</p>"
    "<p>The personal data in this contract was erased at the end of its retention period; the "
    "document's SHA-256 and the platform's signature are kept.</p></body></html>"
)
ENDED = (LoanStatus.CLOSED.value, LoanStatus.WRITTEN_OFF.value)
T = TypeVar("T")


class RetentionRule(StrEnum):
    NO_LOAN = "no_loan"  # never had a loan: retention_no_loan_days after the last activity
    LOANS_ENDED = "loans_ended"  # every loan ended: retention_after_loans_years after


def is_erased(ciphertext: str) -> bool:
    return ciphertext == ERASED


@dataclass(frozen=True, slots=True)
class Due:
    borrower_id: str
    rule: RetentionRule
    last_activity_on: date
    due_on: date


@dataclass(slots=True)
class RetentionReport:
    business_date: date
    dry_run: bool
    anonymised: list[Due] = field(default_factory=list)  # or, in a dry run, due
    held: int = 0  # past their period, but a loan is open or an application pending
    rows: dict[str, int] = field(default_factory=dict)  # rows changed or deleted, per table
    sign_in_rows_deleted: int = 0  # sign-in records past retention_sign_in_days

    def count(self, rule: RetentionRule) -> int:
        return sum(1 for d in self.anonymised if d.rule is rule)


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def _day(value: Any, is_date: bool = False) -> date | None:
    """A business date from a stored date or moment (SQLite may hand aggregates back as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = date.fromisoformat(value[:10]) if is_date else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return as_utc(value).astimezone(CHINA_TZ).date()
    return value if isinstance(value, date) else None


# --- who is due ----------------------------------------------------------------------------------

# (borrower column, activity column, is a date) per table: the borrower's own actions and what
# happened on their loans; sign-ins are found by the phone's keyed hash (below)
_ACTIVITY = (
    (consents.c.borrower_id, consents.c.granted_at, False),
    (consents.c.borrower_id, consents.c.revoked_at, False),
    (applications.c.borrower_id, applications.c.created_at, False),
    (risk_decisions.c.borrower_id, risk_decisions.c.created_at, False),
    (data_batches.c.borrower_id, data_batches.c.created_at, False),
    (contracts.c.borrower_id, contracts.c.created_at, False),
    (contracts.c.borrower_id, contracts.c.signed_at, False),
    (loans.c.borrower_id, loans.c.created_at, False),
    (loan_servicing.c.borrower_id, loan_servicing.c.closed_on, True),
)


def _only(query: Select[Any], column: Any, borrower_id: str | None) -> Select[Any]:
    return query if borrower_id is None else query.where(column == borrower_id)


def _latest_activity(conn: Connection, people: dict[str, Any], only: str | None) -> dict[str, date]:
    latest: dict[str, date] = {}

    def note(borrower_id: str, value: Any, is_date: bool = False) -> None:
        day = _day(value, is_date)
        if borrower_id in people and day is not None and (borrower_id not in latest or day > latest[borrower_id]):
            latest[borrower_id] = day

    for borrower_id, row in people.items():
        note(borrower_id, row.created_at)
    for owner, moment, is_date in _ACTIVITY:
        query = _only(select(owner, func.max(moment)).group_by(owner), owner, only)
        for borrower_id, value in conn.execute(query):
            note(borrower_id, value, is_date)
    paid = select(loans.c.borrower_id, func.max(repayments.c.paid_on)).join(loans, loans.c.id == repayments.c.loan_id)
    for borrower_id, value in conn.execute(_only(paid.group_by(loans.c.borrower_id), loans.c.borrower_id, only)):
        note(borrower_id, value, True)
    by_phone: dict[str, list[str]] = {}
    for borrower_id, row in people.items():
        by_phone.setdefault(row.phone_hash, []).append(borrower_id)
    phones = list(by_phone) if only is not None else None
    for digest, moment in _sign_ins(conn, phones):
        for borrower_id in by_phone.get(digest, []):
            note(borrower_id, moment)
    return latest


def _sign_ins(conn: Connection, phones: list[str] | None) -> Iterable[Any]:
    otp = select(otp_challenges.c.phone_hash, func.max(otp_challenges.c.created_at)).group_by(
        otp_challenges.c.phone_hash
    )
    tokens = (
        select(auth_tokens.c.subject_id, func.max(auth_tokens.c.created_at))
        .where(auth_tokens.c.subject_kind == SubjectKind.PHONE.value)
        .group_by(auth_tokens.c.subject_id)
    )
    if phones is not None:
        otp = otp.where(otp_challenges.c.phone_hash.in_(phones))
        tokens = tokens.where(auth_tokens.c.subject_id.in_(phones))
    for query in (otp, tokens):
        yield from conn.execute(query)  # (phone hash, newest moment)


def _held(conn: Connection, now: datetime, only: str | None) -> set[str]:
    """Borrowers with a loan not ended, or an application in review or still open to accept or sign."""
    open_loan = _only(select(loans.c.borrower_id).where(loans.c.status.not_in(ENDED)), loans.c.borrower_id, only)
    in_review = _only(
        select(applications.c.borrower_id).where(applications.c.status == "review"), applications.c.borrower_id, only
    )
    open_offer = _only(
        select(applications.c.borrower_id)
        .join(offers, offers.c.application_id == applications.c.id)
        .where(and_(offers.c.status == "open", offers.c.valid_until >= now)),
        applications.c.borrower_id,
        only,
    )
    unsigned = _only(
        select(contracts.c.borrower_id)
        .join(offers, offers.c.id == contracts.c.offer_id)
        .where(and_(contracts.c.status == "pending_signature", offers.c.valid_until >= now)),
        contracts.c.borrower_id,
        only,
    )
    return {r[0] for q in (open_loan, in_review, open_offer, unsigned) for r in conn.execute(q)}


def _due(
    conn: Connection, settings: Settings, on: date, now: datetime, only: str | None = None
) -> tuple[list[Due], int]:
    """Who is due on `on` (all borrowers not yet anonymised, or just `only`), and how many past
    their period are held."""
    query = select(borrowers.c.id, borrowers.c.phone_hash, borrowers.c.created_at).where(
        borrowers.c.anonymised_on.is_(None)
    )
    people = {r.id: r for r in conn.execute(_only(query, borrowers.c.id, only))}
    if not people:
        return [], 0
    latest = _latest_activity(conn, people, only)
    borrowed = {r[0] for r in conn.execute(_only(select(loans.c.borrower_id).distinct(), loans.c.borrower_id, only))}
    held = _held(conn, now, only)
    due: list[Due] = []
    kept = 0
    for borrower_id, last in sorted(latest.items()):
        if borrower_id in borrowed:
            rule, due_on = RetentionRule.LOANS_ENDED, add_years(last, settings.retention_after_loans_years)
        else:
            rule, due_on = RetentionRule.NO_LOAN, last + timedelta(days=settings.retention_no_loan_days)
        if due_on > on:
            continue
        if borrower_id in held:
            kept += 1
        else:
            due.append(Due(borrower_id, rule, last, due_on))
    return due, kept


# --- anonymising one borrower --------------------------------------------------------------------


def _phone_shared(conn: Connection, digest: str, borrower_id: str) -> bool:
    others = select(borrowers.c.id).where(and_(borrowers.c.phone_hash == digest, borrowers.c.id != borrower_id))
    return conn.execute(others.limit(1)).first() is not None


def _scrubbed(work: Callable[[Connection], T]) -> Callable[[Connection], T]:
    """`work` with SQLite zeroing what it overwrites or deletes (secure_delete), instead of leaving
    it in free space of the file; the pooled connection goes back as it was."""

    def run(conn: Connection) -> T:
        if conn.dialect.name != "sqlite":
            return work(conn)
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
        try:
            return work(conn)
        finally:
            conn.exec_driver_sql("PRAGMA secure_delete = OFF")

    return run


def _anonymise(conn: Connection, container: Container, due: Due, on: date, now: datetime) -> tuple[dict[str, int], str]:
    """Tombstones for one borrower; returns the rows changed per table and the phone (for the SMS
    outbox pass), or ({}, "") if the borrower is no longer due (anonymised, or active again)."""
    row = conn.execute(select(borrowers).where(borrowers.c.id == due.borrower_id).with_for_update()).first()
    if row is None or row.anonymised_on is not None:
        return {}, ""
    again, _ = _due(conn, container.settings, on, now, only=due.borrower_id)
    if not again:
        return {}, ""
    phone = "" if is_erased(row.phone_enc) else container.cipher.decrypt(row.phone_enc, PHONE_CONTEXT)
    rows: dict[str, int] = {}

    def run(table: str, statement: Any) -> None:
        changed = int(conn.execute(statement).rowcount or 0)
        if changed:
            rows[table] = rows.get(table, 0) + changed

    who = due.borrower_id
    run(
        "borrowers",
        update(borrowers)
        .where(and_(borrowers.c.id == who, borrowers.c.anonymised_on.is_(None)))
        .values(
            name=TOMBSTONE,
            id_number_enc=ERASED,
            id_number_hash=f"erased:{who}",  # unique per row; no keyed hash of a real ID is ever this
            id_number_masked=TOMBSTONE,
            phone_enc=ERASED,
            phone_hash=f"erased:{who}",  # no sign-in finds it again
            phone_masked=TOMBSTONE,
            anonymised_on=on,
        ),
    )
    their_loans = select(loans.c.id).where(loans.c.borrower_id == who).scalar_subquery()
    run(
        "disbursements",
        update(disbursements)
        .where(disbursements.c.loan_id.in_(their_loans))
        .values(account_enc=ERASED, account_masked=TOMBSTONE, account_hash=None),
    )
    run("contracts", update(contracts).where(contracts.c.borrower_id == who).values(document_html=TOMBSTONE_DOCUMENT))
    run("borrower_data", delete(borrower_data).where(borrower_data.c.borrower_id == who))
    run("data_batches", update(data_batches).where(data_batches.c.borrower_id == who).values(rejections_json="[]"))
    run(
        "data_batches",
        update(data_batches)
        .where(and_(data_batches.c.borrower_id == who, data_batches.c.actor == row.phone_hash))
        .values(actor=TOMBSTONE),
    )
    run("application_signals", delete(application_signals).where(application_signals.c.borrower_id == who))
    run(
        "consents",
        update(consents)
        .where(and_(consents.c.borrower_id == who, consents.c.revoked_at.is_(None)))
        .values(revoked_at=now),
    )
    if not _phone_shared(conn, row.phone_hash, who):
        run("auth_tokens", delete(auth_tokens).where(auth_tokens.c.subject_id == row.phone_hash))
        run("otp_challenges", delete(otp_challenges).where(otp_challenges.c.phone_hash == row.phone_hash))
        run("idempotency_keys", delete(idempotency_keys).where(idempotency_keys.c.subject == row.phone_hash))
    else:
        phone = ""  # the phone stays another borrower's: its SMS and sign-ins are theirs too
    conn.execute(
        retention_log.insert().values(
            id=str(uuid.uuid4()),
            borrower_id=who,
            rule=due.rule.value,
            last_activity_on=due.last_activity_on,
            due_on=due.due_on,
            business_date=on,
            rows_json=json.dumps(rows, sort_keys=True),
            created_at=now,
        )
    )
    return rows, phone


def _forget_sms(conn: Connection, container: Container, phones: set[str]) -> int:
    """Delete the SMS sent to the anonymised phones (the outbox holds them encrypted, unhashed)."""
    gone = [
        r.id
        for r in conn.execute(select(sms_outbox.c.id, sms_outbox.c.phone_enc))
        if container.cipher.decrypt(r.phone_enc, PHONE_CONTEXT) in phones
    ]
    for start in range(0, len(gone), 500):
        conn.execute(delete(sms_outbox).where(sms_outbox.c.id.in_(gone[start : start + 500])))
    return len(gone)


def _sign_in_cutoff(settings: Settings, on: date) -> datetime:
    start = datetime(on.year, on.month, on.day, tzinfo=CHINA_TZ).astimezone(UTC)
    return start - timedelta(days=settings.retention_sign_in_days)


def _sign_in_statements(cutoff: datetime) -> list[Any]:
    return [
        delete(otp_challenges).where(otp_challenges.c.created_at < cutoff),
        delete(sms_outbox).where(sms_outbox.c.created_at < cutoff),
        delete(auth_tokens).where(auth_tokens.c.expires_at < cutoff),
    ]


def _count_sign_ins(conn: Connection, cutoff: datetime) -> int:
    counts = [
        select(func.count()).select_from(otp_challenges).where(otp_challenges.c.created_at < cutoff),
        select(func.count()).select_from(sms_outbox).where(sms_outbox.c.created_at < cutoff),
        select(func.count()).select_from(auth_tokens).where(auth_tokens.c.expires_at < cutoff),
    ]
    return sum(int(conn.execute(q).scalar_one()) for q in counts)


# --- the job -------------------------------------------------------------------------------------


def run_retention(
    container: Container,
    on: date | None = None,
    dry_run: bool = False,
    progress: Callable[[Due], None] | None = None,
) -> RetentionReport:
    """Anonymise every borrower due on `on` (default: the business date) and delete the sign-in
    records past their period. A dry run reports the same and writes nothing."""
    on = on or container.clock.business_date()
    now = container.clock.now()
    settings = container.settings
    due, held = container.db.read(lambda conn: _due(conn, settings, on, now))
    report = RetentionReport(on, dry_run, held=held)
    cutoff = _sign_in_cutoff(settings, on)
    if dry_run:
        report.anonymised = due
        report.sign_in_rows_deleted = container.db.read(lambda conn: _count_sign_ins(conn, cutoff))
        return report
    phones: set[str] = set()
    for item in due:

        def one(conn: Connection, item: Due = item) -> tuple[dict[str, int], str]:
            return _anonymise(conn, container, item, on, now)

        rows, phone = container.db.transaction(_scrubbed(one))
        if not rows:
            continue
        report.anonymised.append(item)
        for table, n in rows.items():
            report.rows[table] = report.rows.get(table, 0) + n
        if phone:
            phones.add(phone)
        if progress:
            progress(item)

    def sweep(conn: Connection) -> int:
        return sum(int(conn.execute(s).rowcount or 0) for s in _sign_in_statements(cutoff))

    report.sign_in_rows_deleted = container.db.transaction(_scrubbed(sweep))
    if phones:
        forgotten = container.db.transaction(_scrubbed(lambda conn: _forget_sms(conn, container, phones)))
        if forgotten:
            report.rows["sms_outbox"] = report.rows.get("sms_outbox", 0) + forgotten
    if container.db.is_sqlite and (report.anonymised or report.sign_in_rows_deleted):
        _checkpoint(container)
    return report


def _checkpoint(container: Container) -> None:
    """On SQLite the old page images stay in the write-ahead log until a checkpoint copies the new
    ones over them: checkpoint and truncate it (best effort: a reader still open keeps it)."""
    raw = container.db.engine.raw_connection()  # outside a transaction (SQLAlchemy would BEGIN)
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


def retention_history(container: Container, limit: int = 50) -> list[dict[str, Any]]:
    """The newest anonymisations, as the audit log holds them."""
    query = select(retention_log).order_by(retention_log.c.created_at.desc(), retention_log.c.id).limit(limit)
    return [
        {**dict(r._mapping), "rows": json.loads(r.rows_json)}
        for r in container.db.read(lambda conn: list(conn.execute(query)))
    ]
