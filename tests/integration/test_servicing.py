"""Servicing through the use cases and the set-based end of day, on SQLite and PostgreSQL:
accruals without drift, billing, late payment with penalty, prepayment with a new schedule,
restructuring, payoff and write-off; after every day each loan's servicing state equals its
ledger accounts and the trial balance balances."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from puhui.adapters.db import ledger_repository
from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import installments, loan_servicing, risk_class_changes
from puhui.bootstrap import Container, prepare, seed_demo_capital
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.accrual import CURE_REASON, RiskClass, class_floor, cure_upgrade
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.ledger import AccountCode, AccountKey, AccountType
from puhui.domain.postings import loan_account
from puhui.domain.servicing import PrepaymentChoice, accrued_target
from puhui.money import to_minor
from puhui.services import reports, seeding, servicing
from puhui.services.accounting import get_trial_balance
from puhui.services.borrowers import Conflict
from puhui.services.eod import run_eod
from tests.helpers import phone, resident_id, uscc

START = date(2026, 1, 15)
OPS = Principal(SubjectKind.STAFF, "ops-1", Role.OPS)
FINANCE = Principal(SubjectKind.STAFF, "fin-1", Role.FINANCE)
OFFICER = Principal(SubjectKind.STAFF, "off-1", Role.OFFICER)


@pytest.fixture
def book(db: Database) -> Iterator[tuple[Container, FixedClock]]:
    clock = FixedClock(datetime(2026, 1, 15, 2, tzinfo=UTC))
    container = Container(load_settings(database_url=db.url, env="demo"), db, clock)
    prepare(container)
    seed_demo_capital(container)
    yield container, clock


def _enterprise(container: Container, serial: int) -> seeding.Onboarded:
    return seeding.onboard(
        container,
        BorrowerKind.ENTERPRISE,
        f"企业{serial}",
        uscc(serial),
        phone(serial),
        industry=Sector.RETAIL,
        staff_count=12,
        annual_revenue=Decimal("3000000"),
    )


def _state(container: Container, loan_id: str):  # type: ignore[no-untyped-def]
    return container.db.read(
        lambda c: c.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).one()
    )


def _balance(container: Container, code: AccountCode, loan_id: str) -> int:
    bal = container.db.read(lambda c: ledger_repository.load_balance(c, loan_account(code, loan_id)))
    return bal.balance_minor(AccountType.ASSET)


def _assert_books_agree(container: Container, loan_ids: list[str]) -> None:
    for loan_id in loan_ids:
        s = _state(container, loan_id)
        principal = int(s.due_principal_minor) + int(s.not_due_principal_minor)
        assert _balance(container, AccountCode.PRINCIPAL_RECEIVABLE, loan_id) == principal
        assert _balance(container, AccountCode.INTEREST_RECEIVABLE, loan_id) == int(s.due_interest_minor)
        assert _balance(container, AccountCode.FEE_RECEIVABLE, loan_id) == int(s.due_fee_minor)
        assert _balance(container, AccountCode.PENALTY_RECEIVABLE, loan_id) == int(s.penalty_minor)
        if s.next_due_date is not None and s.status == "active":
            expected = accrued_target(int(s.period_interest_minor), s.period_start, int(s.period_days), s.last_eod_date)
            assert int(s.accrued_in_period_minor) == expected
    assert get_trial_balance(container.db).balanced
    # interest earned but not yet billed: the loans' sub-ledger equals its control account
    accrued = container.db.read(
        lambda c: sum(int(r[0]) for r in c.execute(select(loan_servicing.c.accrued_in_period_minor)))
    )
    book = container.db.read(lambda c: ledger_repository.load_balance(c, AccountKey(AccountCode.ACCRUED_INTEREST)))
    assert book.debits_minor - book.credits_minor == accrued
    provisions = container.db.read(
        lambda c: sum(int(r[0]) for r in c.execute(select(loan_servicing.c.provision_minor)))
    )
    held = container.db.read(lambda c: ledger_repository.load_balance(c, AccountKey(AccountCode.PROVISIONS)))
    assert held.credits_minor - held.debits_minor == provisions


def _close_days(container: Container, clock: FixedClock, days: int) -> None:
    for _ in range(days):
        today = clock.business_date()
        run_eod(container, today)
        clock.set_date(today + timedelta(days=1))


def _pay(container: Container, loan_id: str, amount: Decimal, key: str, **kw: object) -> dict[str, object]:
    command = servicing.RepaymentCommand(loan_id, to_minor(amount), **kw)  # type: ignore[arg-type]
    return servicing.repay(container, command, OPS, key).body


def test_a_year_of_servicing_keeps_the_books_in_agreement(book: tuple[Container, FixedClock]) -> None:
    container, clock = book
    on_time = seeding.book_active_loan(container, _enterprise(container, 1), "PH-EI", Decimal("120000.00"), 12)
    late = seeding.book_active_loan(container, _enterprise(container, 2), "PH-EP", Decimal("240000.00"), 12)
    loans = [on_time, late]
    total_interest_paid = 0
    for day in range(400):
        today = clock.business_date()
        for loan_id, pay_late in ((on_time, False), (late, True)):
            s = _state(container, loan_id)
            if s.status != "active":
                continue
            owed = Decimal(servicing.payoff_quote(container, loan_id, None, OPS)["due_now"])
            if owed and (not pay_late or s.dpd >= 20):
                body = _pay(container, loan_id, owed, f"{loan_id}-{today}")
                if loan_id == on_time:
                    total_interest_paid += to_minor(Decimal(body["allocation"]["interest"]))  # type: ignore[index]
        _close_days(container, clock, 1)
        if day % 30 == 0:
            _assert_books_agree(container, loans)
    _assert_books_agree(container, loans)
    s_on_time, s_late = _state(container, on_time), _state(container, late)
    assert s_on_time.status == "closed" and s_on_time.max_dpd == 0
    schedule_interest = container.db.read(
        lambda c: sum(
            int(r[0]) for r in c.execute(select(installments.c.interest_minor).where(installments.c.loan_id == on_time))
        )
    )
    assert total_interest_paid == schedule_interest  # accrued daily, billed and paid: to the fen
    assert s_late.status == "closed" and s_late.max_dpd >= 20
    assert int(s_late.penalty_posted_minor) > 0
    assert s_late.risk_class >= 2  # once overdue, at least 关注 until an upgrade is recorded


def test_eod_is_idempotent_and_catches_up_in_order(book: tuple[Container, FixedClock]) -> None:
    container, clock = book
    loan_id = seeding.book_active_loan(container, _enterprise(container, 3), "PH-EI", Decimal("50000.00"), 6)
    run_eod(container, START)
    clock.set_date(START + timedelta(days=40))
    result = run_eod(container, START + timedelta(days=40))
    days = [s.business_date for s in result.ran]
    assert days == [(START + timedelta(days=n)).isoformat() for n in range(1, 41)]  # every missed day, in order
    state = _state(container, loan_id)
    again = run_eod(container, START + timedelta(days=40))
    assert again.already_done and again.ran == []
    assert _state(container, loan_id) == state
    assert state.dpd == 40 - 31 and state.risk_class == 2  # first installment due 2026-02-15, unpaid
    _assert_books_agree(container, [loan_id])


def test_prepayment_shortens_the_term_or_lowers_the_installment(book: tuple[Container, FixedClock]) -> None:
    container, clock = book
    shorter = seeding.book_active_loan(container, _enterprise(container, 4), "PH-EI", Decimal("120000.00"), 12)
    smaller = seeding.book_active_loan(container, _enterprise(container, 5), "PH-EI", Decimal("120000.00"), 12)
    _close_days(container, clock, 45)
    for loan_id in (shorter, smaller):
        s = _state(container, loan_id)
        owed = int(s.due_principal_minor) + int(s.due_interest_minor)
        _pay(container, loan_id, Decimal(owed) / 100, f"due-{loan_id}")
    a = _pay(container, shorter, Decimal("50000.00"), "pre-1", prepayment=PrepaymentChoice.SHORTER_TERM)
    b = _pay(container, smaller, Decimal("50000.00"), "pre-2", prepayment=PrepaymentChoice.SMALLER_INSTALLMENTS)
    assert a["kind"] == "prepayment_shorter_term" and a["schedule_version"] == 2
    assert b["kind"] == "prepayment_smaller_installments"
    rows_a = servicing_rows(container, shorter, 2)
    rows_b = servicing_rows(container, smaller, 2)
    assert len(rows_b) == 11 and len(rows_a) < 11
    assert rows_a[0][1] >= rows_b[0][1]  # shorter term keeps a larger installment
    _close_days(container, clock, 40)
    _assert_books_agree(container, [shorter, smaller])


def test_an_overdue_flat_rate_loan_pays_the_quote_or_prepays_for_a_shorter_term(
    book: tuple[Container, FixedClock],
) -> None:
    """The quote's "due now" is what a payment that day is charged (the day's penalty interest
    included): paying exactly it clears the overdue. A flat-rate loan can prepay for a shorter
    term: the overdue is paid first (allocation order), the rest shortens the schedule."""
    container, clock = book
    exact, shorter = (
        seeding.book_active_loan(container, _individual(container, n), "PH-FLAT", Decimal("12000.00"), 12)
        for n in (8, 9)
    )
    _close_days(container, clock, 35)  # the first installment (due 2026-02-15) is days overdue
    assert _state(container, exact).dpd > 0 and _state(container, shorter).dpd > 0
    quote = servicing.payoff_quote(container, exact, None, OPS)
    paid = _pay(container, exact, Decimal(quote["due_now"]), "exact")
    assert paid["allocation"]["penalty"] == quote["penalty"]  # type: ignore[index]
    assert paid["outstanding"]["due_now"] == "0.00"  # type: ignore[index]
    assert _state(container, exact).dpd == 0 and _state(container, exact).overdue_since is None

    quote = servicing.payoff_quote(container, shorter, None, OPS)
    before = servicing_rows(container, shorter, 1)
    amount = Decimal(quote["due_now"]) + 1000
    paid = _pay(container, shorter, amount, "shorter", prepayment=PrepaymentChoice.SHORTER_TERM)
    assert paid["kind"] == "prepayment_shorter_term" and paid["schedule_version"] == 2
    allocation = paid["allocation"]
    assert allocation["penalty"] == quote["penalty"] and allocation["credit"] == "0.00"  # type: ignore[index]
    assert Decimal(allocation["principal"]) > Decimal(quote["principal"])  # type: ignore[index]
    assert _state(container, shorter).dpd == 0
    after = servicing_rows(container, shorter, 2)
    assert len(after) < len(before) - 1  # fewer installments left than the 11 not yet due
    assert after[0][1] <= before[1][1]  # and none larger than the one it replaces
    _close_days(container, clock, 40)
    _assert_books_agree(container, [exact, shorter])


def _individual(container: Container, serial: int) -> seeding.Onboarded:
    return seeding.onboard(
        container, BorrowerKind.INDIVIDUAL, "赵六", resident_id(serial), phone(serial), annual_revenue=Decimal("180000")
    )


def servicing_rows(container: Container, loan_id: str, version: int) -> list[tuple[int, int]]:
    return container.db.read(
        lambda c: [
            (int(r.seq), int(r.principal_minor) + int(r.interest_minor))
            for r in c.execute(
                select(installments)
                .where(installments.c.loan_id == loan_id, installments.c.version == version, installments.c.seq > 0)
                .order_by(installments.c.seq)
            )
        ]
    )


def test_payoff_closes_and_a_closed_loan_refuses_money(book: tuple[Container, FixedClock]) -> None:
    container, clock = book
    loan_id = seeding.book_active_loan(container, _enterprise(container, 6), "PH-IO", Decimal("100000.00"), 6)
    _close_days(container, clock, 10)
    quote = servicing.payoff_quote(container, loan_id, None, OPS)
    assert Decimal(quote["accrued_interest"]) > 0 and Decimal(quote["principal_not_due"]) == Decimal("100000.00")
    with pytest.raises(Exception, match="payoff needs"):
        _pay(container, loan_id, Decimal("1000.00"), "short", prepayment=PrepaymentChoice.PAYOFF)
    paid = _pay(container, loan_id, Decimal(quote["payoff"]) + 5, "payoff", prepayment=PrepaymentChoice.PAYOFF)
    assert paid["loan_status"] == "closed" and paid["allocation"]["credit"] == "5.00"  # type: ignore[index]
    replay = _pay(container, loan_id, Decimal(quote["payoff"]) + 5, "payoff", prepayment=PrepaymentChoice.PAYOFF)
    assert replay == paid
    with pytest.raises(Conflict) as refused:
        _pay(container, loan_id, Decimal("10.00"), "after-close")
    assert refused.value.field == "amount"
    _close_days(container, clock, 5)
    _assert_books_agree(container, [loan_id])


def test_restructure_then_write_off_then_recovery(book: tuple[Container, FixedClock]) -> None:
    container, clock = book
    loan_id = seeding.book_active_loan(container, _enterprise(container, 7), "PH-EI", Decimal("60000.00"), 6)
    _close_days(container, clock, 70)
    before = _state(container, loan_id)
    assert before.dpd > 30
    view = servicing.restructure(container, loan_id, 12, "cash-flow shock after a flood; term extended", OFFICER)
    assert view["schedule_version"] == 2 and view["risk_class"] == "special_mention"
    after = _state(container, loan_id)
    assert int(after.due_principal_minor) == 0
    assert int(after.not_due_principal_minor) == int(before.due_principal_minor) + int(before.not_due_principal_minor)
    _close_days(container, clock, 200)
    _assert_books_agree(container, [loan_id])
    with pytest.raises(Exception, match="finance"):
        servicing.write_off(container, loan_id, "uncollectable", OPS)
    written = servicing.write_off(container, loan_id, "court ruling: borrower insolvent", FINANCE)
    assert written["status"] == "written_off"
    _close_days(container, clock, 2)
    recovered = _pay(container, loan_id, Decimal("1000.00"), "recovery-1")
    assert recovered["kind"] == "recovery"
    _assert_books_agree(container, [loan_id])


def test_a_cured_loan_is_upgraded_after_the_observation_period_with_the_reason_recorded(
    book: tuple[Container, FixedClock],
) -> None:
    """关注 -> 正常 by the end of day (domain/accrual.cure_upgrade): a loan paid ten days late once,
    then on time, is upgraded the day its observation period ends, the reason and the day it was
    brought current recorded; one late again starts its observation again; a restructured loan
    never is (its own observation period). The nightly SQL agrees with the domain's rule."""
    container, clock = book
    once, twice, restructured = (
        seeding.book_active_loan(container, _enterprise(container, n), "PH-EI", Decimal("120000.00"), 12)
        for n in (11, 12, 13)
    )
    late = {once: {1: 10}, twice: {1: 10, 3: 5}, restructured: {1: 99}}  # installment -> days late
    paid = {loan_id: 0 for loan_id in late}
    upgraded_on: dict[str, date] = {}
    for _ in range(200):
        today = clock.business_date()
        for loan_id, lags in late.items():
            s = _state(container, loan_id)
            owed = Decimal(servicing.payoff_quote(container, loan_id, None, OPS)["due_now"])
            n = paid[loan_id] + 1
            on_time = s.next_due_date == today or int(s.dpd) > 0
            if owed > 0 and (int(s.dpd) >= lags[n] if n in lags else on_time):
                _pay(container, loan_id, owed, f"pay-{loan_id}-{today}")
                paid[loan_id] += 1
        if today == date(2026, 3, 27):  # 40 days overdue: the term is extended, then it pays on time
            servicing.restructure(container, restructured, 12, "cash-flow shock; term extended", OFFICER)
            late[restructured] = {}
        before = {loan_id: _state(container, loan_id) for loan_id in late}
        run_eod(container, today)
        for loan_id, was in before.items():
            now = _state(container, loan_id)
            since = _paid_since(container, loan_id, now.current_since, today)
            expected, reason = cure_upgrade(
                RiskClass(max(int(was.risk_class), int(class_floor(int(now.dpd))))),
                int(now.dpd),
                now.current_since,
                since,
                today,
                restructured=loan_id == restructured and today >= date(2026, 3, 27),
            )
            assert int(now.risk_class) == int(expected), (loan_id, today)  # the SQL does what the domain says
            if reason and loan_id not in upgraded_on:
                upgraded_on[loan_id] = today
        clock.set_date(today + timedelta(days=1))

    # the first installment (due 2026-02-15) paid when ten days overdue, on 02-26; then 3/15 and
    # 4/15 on time: two months and two installments after it was brought current
    assert upgraded_on[once] == date(2026, 4, 26)
    # late again on the installment of 2026-04-15 (paid 04-21): observed again from there
    assert upgraded_on[twice] == date(2026, 6, 21)
    assert restructured not in upgraded_on and _state(container, restructured).risk_class == RiskClass.SPECIAL_MENTION
    changes = container.db.read(
        lambda c: {r.loan_id: r for r in c.execute(select(risk_class_changes).order_by(risk_class_changes.c.loan_id))}
    )
    assert set(changes) == {once, twice}
    assert changes[once].business_date == date(2026, 4, 26) and changes[once].current_since == date(2026, 2, 26)
    assert changes[twice].current_since == date(2026, 4, 21)
    assert (changes[once].from_class, changes[once].to_class) == (RiskClass.SPECIAL_MENTION, RiskClass.NORMAL)
    assert changes[once].reason == CURE_REASON and changes[once].actor == "eod"
    events = container.db.read(lambda c: reports.loan_events(c, once))  # the console's loan history shows it
    upgrade = [e for e in events if e.kind is reports.LoanEventKind.CLASS_UPGRADED]
    assert [(e.on, int(e.detail), e.reason) for e in upgrade] == [(date(2026, 4, 26), RiskClass.NORMAL, CURE_REASON)]
    _assert_books_agree(container, list(late))


def _paid_since(container: Container, loan_id: str, since: date | None, today: date) -> int:
    if since is None:
        return 0
    return int(
        container.db.read(
            lambda c: c.execute(
                select(func.count()).where(
                    installments.c.loan_id == loan_id,
                    installments.c.status == "paid",
                    installments.c.due_date > since,
                    installments.c.due_date <= today,
                )
            ).scalar_one()
        )
    )
