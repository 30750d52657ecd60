"""A credit officer upgrades a cured non-performing loan in the console, in a real browser against
`puhui serve`: the history behind it is made through the use cases (a loan left unpaid until it was
次级, then everything overdue paid and each installment on its due date for more than six months,
every business day closed). Operations staff see the conditions but no form; the officer sees
each condition met, records an assessment and moves the loan to 关注; the page then shows the new
class and the change, with the assessment and the officer's name, in the loan's history.

Chinese on a phone, English on a desktop; one stack for the module, one loan per run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import loan_servicing
from puhui.bootstrap import Container, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.accrual import RiskClass, UpgradeCondition
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.money import to_minor
from puhui.services import seeding, servicing
from puhui.services.eod import run_eod
from puhui.web.console_views import RISK_CLASS
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack
from tests.helpers import phone, uscc
from tests.web.conftest import checked, console_sign_in, console_sign_out, open_visit

pytestmark = pytest.mark.xdist_group("browser")
RUNS = {"zh": ("phone", 0), "en": ("desktop", 1)}  # language -> viewport, the run's loan
HISTORY_DAYS = 330
OPS = Principal(SubjectKind.STAFF, "ops-history", Role.OPS)
ASSESSMENTS = {
    "zh": "经走访核实，借款人经营已恢复，近七个月按期足额还款，预计能够持续还款。",
    "en": "Visited the shop: takings recovered, seven months paid in full on time; expected to keep paying.",
}


@pytest.fixture(scope="module")
def upgrade_stack(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[ProcessStack, list[str]]]:
    """Loans paid out HISTORY_DAYS ago, left unpaid until 次级, then paid on time; every day up to
    yesterday closed, so the server's business date is today."""
    tmp = tmp_path_factory.mktemp("console-class-upgrade")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    s = ProcessStack(db, tmp, latency_ms=5)
    seed_demo_staff(s.container)
    seed_demo_capital(s.container)
    today = s.container.clock.business_date()
    first = today - timedelta(days=HISTORY_DAYS)
    clock = FixedClock(datetime(first.year, first.month, first.day, 2, tzinfo=UTC))
    work = Container(s.container.settings, db, clock)
    loans = []
    for n in range(len(RUNS)):
        who = seeding.onboard(
            work,
            BorrowerKind.ENTERPRISE,
            f"回升商贸{n}",
            uscc(880 + n),
            phone(880 + n),
            industry=Sector.RETAIL,
            staff_count=12,
            annual_revenue=Decimal("3000000"),
        )
        loans.append(seeding.book_active_loan(work, who, "PH-EI", Decimal("60000.00"), 12))
    paying: set[str] = set()
    while (day := clock.business_date()) < today:
        for loan_id in loans:
            state = db.read(
                lambda c, i=loan_id: c.execute(select(loan_servicing).where(loan_servicing.c.loan_id == i)).one()
            )
            if RiskClass(int(state.risk_class)).is_npl:
                paying.add(loan_id)
            owed = Decimal(servicing.payoff_quote(work, loan_id, None, OPS)["due_now"])
            if loan_id in paying and owed > 0:
                servicing.repay(work, servicing.RepaymentCommand(loan_id, to_minor(owed)), OPS, f"h-{loan_id}-{day}")
        run_eod(work, day)
        clock.set_date(day + timedelta(days=1))
    assert paying == set(loans)
    s.start()
    try:
        yield s, loans
    finally:
        s.stop()
        db.dispose()


def _risk_class(db: Database, loan_id: str) -> RiskClass:
    query = select(loan_servicing.c.risk_class).where(loan_servicing.c.loan_id == loan_id)
    return RiskClass(int(db.read(lambda c: c.execute(query).scalar_one())))


@pytest.mark.parametrize("lang", list(RUNS))
def test_an_officer_upgrades_a_cured_npl_in_the_console(
    browser: Browser, upgrade_stack: tuple[ProcessStack, list[str]], lang: str
) -> None:
    stack, loans = upgrade_stack
    viewport, index = RUNS[lang]
    loan_id = loans[index]
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    visit = open_visit(browser, stack.base, "console-class-upgrade", lang, viewport)
    page = visit.page
    try:
        console_sign_in(visit, lang, "ops")
        page.goto(f"/console/loans/{loan_id}")
        conditions = page.locator("[data-field=upgrade-conditions] li")
        expect(conditions).to_have_count(len(UpgradeCondition))
        expect(page.locator("[data-field=upgrade-conditions] li[data-met=yes]")).to_have_count(len(UpgradeCondition))
        expect(page.locator(f"form[action$='{loan_id}/class-upgrade']")).to_have_count(0)
        expect(page.locator("#h-upgrade").locator("xpath=..")).to_contain_text(
            _("Credit officers and risk staff record upgrades.")
        )
        checked(visit, "ops-sees-the-conditions")
        console_sign_out(visit)

        console_sign_in(visit, lang, "officer")
        page.goto(f"/console/loans/{loan_id}")
        expect(page.locator("#h-position").locator("xpath=..")).to_contain_text(_(RISK_CLASS[RiskClass.SUBSTANDARD]))
        page.get_by_label(_("New class")).select_option("special_mention")
        page.get_by_label(_("Your assessment")).fill(ASSESSMENTS[lang])
        checked(visit, "officer-records-the-assessment")
        page.locator(f"form[action$='{loan_id}/class-upgrade'] button").click()
        page.wait_for_url(re.compile(r".*done=class_upgraded.*"))
        expect(page.locator("p.notice")).to_be_visible()
        expect(page.locator("#h-position").locator("xpath=..")).to_contain_text(
            _(RISK_CLASS[RiskClass.SPECIAL_MENTION])
        )
        expect(page.locator("#h-upgrade")).to_have_count(0)  # performing now: nothing left to upgrade
        history = page.locator("ol.history")
        expect(history).to_contain_text(ASSESSMENTS[lang])
        expect(history).to_contain_text("officer")
        checked(visit, "upgraded")
    finally:
        page.context.close()
    state = stack.db.read(lambda c: c.execute(select(loan_servicing).where(loan_servicing.c.loan_id == loan_id)).one())
    assert RiskClass(int(state.risk_class)) is RiskClass.SPECIAL_MENTION
