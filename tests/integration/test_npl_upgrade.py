"""An officer upgrades a non-performing loan (rule 9; domain/accrual.npl_upgrade_problems), on
SQLite and PostgreSQL, over the API: a loan left unpaid until it is 次级 is refused while it is
overdue, then while it has not paid on schedule for six months and two installments, then while
the borrower's other loan is still non-performing; once all hold, an officer's assessment moves it
to 关注, the change is kept with who and why and shows in the loan's history, the end of day keeps
the new class and the provision follows it. Only credit staff may; a thin assessment is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import loan_servicing, risk_class_changes
from puhui.bootstrap import Container
from puhui.clock import FixedClock
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.accrual import RiskClass, required_provision
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.money import from_minor, to_minor
from puhui.services import reports, seeding, servicing
from puhui.services.eod import run_eod
from tests.helpers import api_lender, phone, staff_token, uscc

OPS = Principal(SubjectKind.STAFF, "ops-1", Role.OPS)
FINANCE = Principal(SubjectKind.STAFF, "fin-1", Role.FINANCE)
ASSESSMENT = "借款人经营恢复，近六个月按期足额还款，走访确认现金流稳定，预计能够持续还款。"


@pytest.fixture
def setup(db: Database) -> Iterator[tuple[TestClient, Container, FixedClock]]:
    with api_lender(db, datetime(2026, 1, 15, 2, tzinfo=UTC)) as lender:
        yield lender


def _state(container: Container, loan_id: str):  # type: ignore[no-untyped-def]
    return container.db.read(
        lambda c: c.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).one()
    )


def _owed(container: Container, loan_id: str) -> Decimal:
    return Decimal(servicing.payoff_quote(container, loan_id, None, OPS)["due_now"])


def _walk(container: Container, clock: FixedClock, loan_id: str, until: date, pay_from: date) -> None:
    """Close each day up to `until` (not included); from `pay_from` on, pay whatever is due."""
    while (today := clock.business_date()) < until:
        owed = _owed(container, loan_id)
        if today >= pay_from and owed > 0:
            command = servicing.RepaymentCommand(loan_id, to_minor(owed))
            servicing.repay(container, command, OPS, f"pay-{loan_id}-{today}")
        run_eod(container, today)
        clock.set_date(today + timedelta(days=1))


def _ask(client: TestClient, loan_id: str, who: dict[str, str], **body: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = client.post(f"/v1/loans/{loan_id}/class-upgrade", json={"to_class": "special_mention", **body}, headers=who)
    return r.status_code, r.json()


def test_an_officer_upgrades_a_cured_npl_once_the_measures_allow_it(
    setup: tuple[TestClient, Container, FixedClock],
) -> None:
    client, container, clock = setup
    who = seeding.onboard(
        container,
        BorrowerKind.ENTERPRISE,
        "企业回升",
        uscc(41),
        phone(41),
        industry=Sector.RETAIL,
        staff_count=12,
        annual_revenue=Decimal("3000000"),
    )
    cured = seeding.book_active_loan(container, who, "PH-EI", Decimal("60000.00"), 12)
    left = seeding.book_active_loan(container, who, "PH-EI", Decimal("20000.00"), 12)
    officer, ops = staff_token(client, "officer"), staff_token(client, "ops")

    # nothing paid on either until 2026-05-20: the first installment (02-15) is 93 days overdue at the close of 05-19
    _walk(container, clock, cured, date(2026, 5, 20), pay_from=date(2026, 5, 20))
    assert RiskClass(_state(container, cured).risk_class) is RiskClass.SUBSTANDARD
    status, body = _ask(client, cured, officer, assessment=ASSESSMENT)
    assert status == 409 and "93 days past due" in body["error"]["message"], body

    # everything overdue paid on 05-20, then each installment on its due date
    _walk(container, clock, cured, date(2026, 7, 1), pay_from=date(2026, 5, 20))
    status, body = _ask(client, cured, officer, assessment=ASSESSMENT)
    message = body["error"]["message"]
    assert status == 409 and "current since 2026-05-20" in message and "6 months" in message, body
    assert "1 installment(s) paid on schedule" in message  # 06-15 only

    _walk(container, clock, cured, date(2026, 11, 19), pay_from=date(2026, 5, 20))
    status, body = _ask(client, cured, officer, assessment=ASSESSMENT)
    assert status == 409 and "current since 2026-05-20" in body["error"]["message"]  # a day short

    _walk(container, clock, cured, date(2026, 11, 20), pay_from=date(2026, 5, 20))
    status, body = _ask(client, cured, officer, assessment=ASSESSMENT)
    assert status == 409, body  # six months and five installments now, but the other loan is 可疑
    assert body["error"]["message"].endswith("the borrower still has 1 other non-performing loan(s)")
    assert RiskClass(_state(container, left).risk_class) >= RiskClass.SUBSTANDARD

    servicing.write_off(container, left, "negotiated settlement failed; uncollectable", FINANCE)
    assert _ask(client, cured, ops, assessment=ASSESSMENT)[0] == 403
    status, body = _ask(client, cured, officer, assessment="ok")
    assert status == 422 and body["error"]["fields"][0]["path"] == "assessment", body
    status, body = _ask(client, cured, officer, to_class="loss", assessment=ASSESSMENT)
    assert status == 422 and body["error"]["fields"][0]["path"] == "to_class", body
    before = _state(container, cured)
    assert RiskClass(before.risk_class) is RiskClass.SUBSTANDARD  # nothing changed by the refusals

    status, body = _ask(client, cured, officer, assessment=ASSESSMENT)
    assert status == 200, body
    assert body["risk_class"] == "special_mention" and body["risk_class_zh"] == "关注"
    assert body["ifrs9_stage"] == 1  # current again: the stage followed the days past due when it paid
    status, body = _ask(client, cured, officer, to_class="normal", assessment=ASSESSMENT)
    assert status == 409 and "nightly cure" in body["error"]["message"]  # 关注 now: not non-performing

    change = container.db.read(
        lambda c: c.execute(select(risk_class_changes).where(risk_class_changes.c.loan_id == cured)).one()
    )
    assert (change.business_date, change.from_class, change.to_class) == (
        date(2026, 11, 20),
        RiskClass.SUBSTANDARD,
        RiskClass.SPECIAL_MENTION,
    )
    assert change.reason == ASSESSMENT and change.current_since == date(2026, 5, 20)
    assert change.actor != "eod"
    events = container.db.read(lambda c: reports.loan_events(c, cured))
    shown = [(e.on, int(e.detail), e.reason) for e in events if e.kind is reports.LoanEventKind.CLASS_UPGRADED]
    assert shown == [(date(2026, 11, 20), RiskClass.SPECIAL_MENTION, ASSESSMENT)]

    # the end of day that closes 11-20 keeps 关注 (no second change that day) and provisions for it
    run_eod(container, date(2026, 11, 20))
    after = _state(container, cured)
    assert RiskClass(after.risk_class) is RiskClass.SPECIAL_MENTION
    outstanding = from_minor(int(after.due_principal_minor) + int(after.not_due_principal_minor))
    assert int(after.provision_minor) == to_minor(required_provision(outstanding, RiskClass.SPECIAL_MENTION))
    assert int(after.provision_minor) < int(before.provision_minor)
