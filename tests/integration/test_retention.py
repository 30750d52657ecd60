"""Retention (RELIABILITY.md #14, PIPL Art. 19) by time travel, on SQLite and PostgreSQL.

Six borrowers on one business day: one who never applied, one declined, one in manual review, one
who paid a loan off, one written off, one with a loan still open. The clock then moves: the day
before a period ends the job changes nothing at all; on the day, the due borrowers' identifiers
(name, ID number, phone, card: plaintext, ciphertext, keyed hash, masked form) are gone from every
table, the displays show a tombstone, the money records are byte for byte what they were, the
ledger balances, and the borrower with the open loan and the one in review are untouched. The
search is the personal-data canary test's (every table's rows; on SQLite also the `.dump`, the
database file and its write-ahead log)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
from typer.testing import CliRunner

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import borrowers, disbursements, loans, metadata, retention_log
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.servicing import PrepaymentChoice
from puhui.money import parse_amount, to_minor
from puhui.services import auth, identity_access, seeding, servicing
from puhui.services import borrowers as borrower_service
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from puhui.services.retention import TOMBSTONE, RetentionRule, add_years, run_retention
from tests.helpers import phone, resident_id, staff_token
from tests.reliability.test_pii_canaries import _stored_text

T0 = date(2026, 1, 15)
FINANCE = Principal(SubjectKind.STAFF, "fin-1", Role.FINANCE)
ADMIN = Principal(SubjectKind.STAFF, "admin-1", Role.ADMIN)
MONEY_TABLES = (
    "ledger_accounts",
    "ledger_transfers",
    "ledger_entries",
    "loans",
    "loan_servicing",
    "installments",
    "repayments",
    "applications",
    "offers",
    "risk_decisions",
    "schedule_changes",
)


@dataclass
class Book:
    container: Container
    clock: FixedClock
    ids: dict[str, str]  # role in the story -> borrower id
    loans: dict[str, str]  # role -> loan id
    secrets: dict[str, list[str]]  # role -> every stored form of their identifiers, and the plaintexts
    plain: dict[str, list[str]]  # role -> the plaintexts (stored nowhere, even before)


def _snapshot(db: Database, tables: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    def work(conn: Connection) -> dict[str, list[str]]:
        return {
            t.name: sorted(str(tuple(r)) for r in conn.execute(select(t)))
            for t in metadata.sorted_tables
            if tables is None or t.name in tables
        }

    return db.read(work)


def _text(db: Database) -> str:
    return "\n".join(row for rows in _snapshot(db).values() for row in rows)


def _secrets(container: Container, borrower_id: str, id_number: str, mobile: str) -> list[str]:
    """The plaintext, ciphertext, keyed hash and masked form of each identifier, and the name."""

    def work(conn: Connection) -> list[str]:
        b = conn.execute(select(borrowers).where(borrowers.c.id == borrower_id)).one()
        found = [id_number, mobile, b.name, b.id_number_enc, b.id_number_hash, b.id_number_masked]
        found += [b.phone_enc, b.phone_hash, b.phone_masked]
        payouts = select(disbursements).join(loans, loans.c.id == disbursements.c.loan_id)
        for d in conn.execute(payouts.where(loans.c.borrower_id == borrower_id)):
            found += [d.account_enc, d.account_masked, d.account_hash, seeding.demo_card(borrower_id)]
        return found

    return container.db.read(work)


def _person(container: Container, n: int, name: str, **kw: object) -> seeding.Onboarded:
    return seeding.onboard(container, BorrowerKind.INDIVIDUAL, name, resident_id(n), phone(n), **kw)  # type: ignore[arg-type]


@pytest.fixture
def book(db: Database) -> Iterator[Book]:
    clock = FixedClock(datetime(2026, 1, 15, 2, tzinfo=UTC))
    # sign-in records kept 400 days: on day 365 the job itself must find the SMS of a phone it forgets
    settings = load_settings(database_url=db.url, env="demo", retention_sign_in_days=400)
    container = Container(settings, db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    ids: dict[str, str] = {}
    loan_ids: dict[str, str] = {}
    never = _person(container, 301, "从未申请")
    auth.token_by_otp(container, never.phone, auth.request_otp(container, never.phone, "10.0.0.1").demo_otp or "")
    ids["never"] = never.borrower_id
    declined = _person(container, 302, "被拒绝者")
    applied = seeding.apply(container, declined, "PH-EP", Decimal("100000.00"), 12, "shop")
    assert applied.status == "declined", applied.decision
    ids["declined"] = declined.borrower_id
    review = seeding.onboard(
        container,
        BorrowerKind.INDIVIDUAL_BUSINESS,
        "待审核小吃",
        resident_id(303),
        phone(303),
        industry=Sector.CATERING,
        staff_count=4,
        annual_revenue=Decimal("3000000"),
    )
    assert seeding.apply(container, review, "PH-EI", Decimal("800000.00"), 24, "a second shop").status == "review"
    ids["review"] = review.borrower_id
    for role, n, name in (("paid", 304, "已还清"), ("written_off", 305, "已核销"), ("open", 306, "贷款中")):
        who = _person(container, n, name)
        ids[role] = who.borrower_id
        loan_ids[role] = seeding.book_active_loan(container, who, "PH-FLAT", Decimal("12000.00"), 12)
    quote = servicing.payoff_quote(container, loan_ids["paid"], None, FINANCE)
    payoff = servicing.RepaymentCommand(
        loan_ids["paid"], to_minor(parse_amount(quote["payoff"])), PrepaymentChoice.PAYOFF
    )
    servicing.repay(container, payoff, FINANCE, "payoff-1")
    servicing.write_off(container, loan_ids["written_off"], "court ruling: insolvent", FINANCE)
    cards = {n: resident_id(n) for n in range(301, 307)}
    serial = dict(zip(("never", "declined", "review", "paid", "written_off", "open"), range(301, 307), strict=True))
    secrets = {role: _secrets(container, ids[role], cards[serial[role]], phone(serial[role])) for role in ids}
    plain = {role: [cards[serial[role]], phone(serial[role]), seeding.demo_card(ids[role])] for role in ids}
    yield Book(container, clock, ids, loan_ids, secrets, plain)


def _run(book: Book, day: date) -> tuple[list[tuple[str, RetentionRule]], int]:
    book.clock.set_date(day)
    report = run_retention(book.container)
    return sorted((d.borrower_id, d.rule) for d in report.anonymised), report.held


def _assert_books_balance(db: Database) -> None:
    assert get_trial_balance(db, None).balanced
    assert unreconciled_accounts(db) == {}


def _assert_gone(book: Book, roles: list[str]) -> None:
    # every table's rows; on SQLite also the .dump, the file and its write-ahead log
    stored = _stored_text(book.container.db)
    for role in roles:
        found = [(where, s) for s in book.secrets[role] if s for where, content in stored if s.encode() in content]
        assert found == [], role
        shown = borrower_service.get(book.container, book.ids[role], ADMIN)
        assert (shown.name, shown.id_number_masked, shown.phone_masked) == (TOMBSTONE, TOMBSTONE, TOMBSTONE)
        revealed = identity_access.reveal_identity(book.container, book.ids[role], "retention test", ADMIN)
        assert (revealed["id_number"], revealed["phone"], revealed["payout_accounts"]) == (TOMBSTONE, TOMBSTONE, [])


def test_identifiers_are_anonymised_when_their_period_ends_and_not_a_day_before(book: Book) -> None:
    db = book.container.db
    money = _snapshot(db, MONEY_TABLES)
    kept = {role: _snapshot_of(book, role) for role in ("review", "open")}

    # the day before the no-loan period ends: nothing at all changes
    before = _snapshot(db)
    assert _run(book, T0 + timedelta(days=364)) == ([], 0)
    assert _snapshot(db) == before

    # on the day: the two who never borrowed; the one in review is held, the borrowers are not due
    anonymised, held = _run(book, T0 + timedelta(days=365))
    assert anonymised == sorted(
        [(book.ids["never"], RetentionRule.NO_LOAN), (book.ids["declined"], RetentionRule.NO_LOAN)]
    )
    assert held == 1
    _assert_gone(book, ["never", "declined"])
    after_first = _snapshot(db)
    assert _run(book, T0 + timedelta(days=365)) == ([], 1)  # idempotent: a second run changes nothing
    assert _snapshot(db) == after_first

    # five years after the loans ended, the day before and on the day
    assert _run(book, T0 + timedelta(days=800))[0] == []  # (sweeps the old sign-in records)
    before = _snapshot(db)
    assert _run(book, add_years(T0, 5) - timedelta(days=1)) == ([], 1)
    assert _snapshot(db) == before
    anonymised, held = _run(book, add_years(T0, 5))
    expected = [(book.ids["paid"], RetentionRule.LOANS_ENDED), (book.ids["written_off"], RetentionRule.LOANS_ENDED)]
    assert anonymised == sorted(expected) and held == 2  # review, and the open loan's borrower
    _assert_gone(book, ["never", "declined", "paid", "written_off"])
    assert sum(len(book.secrets[r]) for r in ("never", "declined", "paid", "written_off")) == 44  # RELIABILITY.md

    # the money records are what they were, and the ledger balances
    assert _snapshot(db, MONEY_TABLES) == money
    _assert_books_balance(db)
    # the open loan's borrower and the one in review: untouched, and the scan does see them
    assert {role: _snapshot_of(book, role) for role in ("review", "open")} == kept
    text = _text(db)
    for role in ("review", "open"):
        assert [s for s in book.secrets[role] if s and s not in book.plain[role] and s not in text] == [], role
    log = db.read(lambda c: list(c.execute(select(retention_log))))
    assert sorted(r.rule for r in log) == ["loans_ended", "loans_ended", "no_loan", "no_loan"]

    # over HTTP: the tombstones in the displays, and the anonymised person can sign up afresh
    _http_checks(book)


def _snapshot_of(book: Book, role: str) -> list[str]:
    who = book.ids[role]

    def work(conn: Connection) -> list[str]:
        rows = [str(tuple(conn.execute(select(borrowers).where(borrowers.c.id == who)).one()))]
        payouts = select(disbursements).join(loans, loans.c.id == disbursements.c.loan_id)
        rows += [str(tuple(r)) for r in conn.execute(payouts.where(loans.c.borrower_id == who))]
        return rows

    return book.container.db.read(work)


def _http_checks(book: Book) -> None:
    with TestClient(create_app(book.container)) as client:
        officer = staff_token(client, "officer")
        shown = client.get(f"/v1/borrowers/{book.ids['paid']}", headers=officer).json()
        assert (shown["name"], shown["id_number"], shown["phone"]) == (TOMBSTONE, TOMBSTONE, TOMBSTONE)
        loan = client.get(f"/v1/loans/{book.loans['paid']}", headers=officer).json()
        assert loan["status"] == "closed" and loan["disbursements"][0]["account"] == TOMBSTONE
        open_loan = client.get(f"/v1/loans/{book.loans['open']}", headers=officer).json()
        assert open_loan["disbursements"][0]["account"] != TOMBSTONE
        decision = client.post(
            "/v1/risk/decisions",
            json={"borrower_id": book.ids["never"], "product_code": "PH-FLAT", "amount": "10000.00", "term_months": 12},
            headers=officer,
        )
        assert decision.status_code == 409, decision.text  # no decision on a tombstone
    again = _person(book.container, 301, "从未申请")  # the ID number and phone are free again
    assert again.borrower_id != book.ids["never"]


def test_the_cli_dry_run_reports_and_the_run_anonymises(book: Book) -> None:
    runner = CliRunner()
    from puhui.cli import app

    url = book.container.db.url
    before = _snapshot(book.container.db)
    dry = runner.invoke(app, ["retention", "--db", url, "--date", "2040-01-01", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    said = " ".join(dry.output.split())  # Rich wraps at the terminal's width
    assert "4 borrower(s) due (never borrowed 2, loans ended 2)" in said and "pending application 2" in said, said
    assert _snapshot(book.container.db) == before
    future = runner.invoke(app, ["retention", "--db", url, "--date", "2999-01-01"])
    assert future.exit_code == 2 and "--dry-run" in future.output
    # the periods are settings: with 30 days, the machine's today (past 2026-02-14) is past it
    env = {"PUHUI_RETENTION_NO_LOAN_DAYS": "30"}
    ran = runner.invoke(app, ["retention", "--db", url], env=env)
    assert ran.exit_code == 0, ran.output
    assert "2 borrower(s) anonymised (never borrowed 2, loans ended 0)" in " ".join(ran.output.split()), ran.output
    assert borrower_service.get(book.container, book.ids["declined"], ADMIN).name == TOMBSTONE
    assert borrower_service.get(book.container, book.ids["open"], ADMIN).name == "贷款中"
    again = runner.invoke(app, ["retention", "--db", url], env=env)
    assert "0 borrower(s) anonymised" in again.output, again.output
