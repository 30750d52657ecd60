"""The officer's journey in the operations console, in a real browser against `puhui serve` and the
bank simulator: an application above ¥500,000 waits for review; officer A reads the decision
(score, PD, reasons, rule trace) and changes the terms, and may not approve them (maker–checker);
a risk manager approves; the borrower accepts and signs in the app (over the API); operations send
the payout and the loan page shows it paid out with its ledger entries; the dashboard's charts
are drawn and its figures are the database's.

In Chinese and English, on a phone and a desktop viewport. One stack for the module: each run
brings its own borrower."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import loan_servicing
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.domain.servicing import LoanStatus
from puhui.money import from_minor
from puhui.web.console_support import MAKER_CHECKER
from puhui.web.console_views import LOAN_STATUS
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack
from tests.helpers import bank_card, borrower_token, phone, resident_id, share_cash_flow
from tests.web.conftest import LANGUAGES, VIEWPORTS, Visit, checked, console_sign_out, open_visit

pytestmark = pytest.mark.xdist_group("browser")
RUNS = {(lang, viewport): 700 + i for i, (lang, viewport) in enumerate((lg, v) for lg in LANGUAGES for v in VIEWPORTS)}


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ProcessStack]:
    """One platform and bank simulator for the module's runs (each run has its own borrower)."""
    tmp = tmp_path_factory.mktemp("console-journey")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    s = ProcessStack(db, tmp, latency_ms=5)
    seed_demo_staff(s.container)
    seed_demo_capital(s.container)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        db.dispose()


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code < 300, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def _application_in_review(c: httpx.Client, n: int) -> tuple[dict[str, str], str]:
    """An individual business applies for ¥800,000 on PH-EI: above ¥500,000 goes to review."""
    headers = borrower_token(c, phone(n))
    body = {
        "kind": "individual_business",
        "name": f"王记小吃{n}",
        "id_number": resident_id(n),
        "phone": phone(n),
        "region": "330106",
        "industry": "catering",
        "staff_count": 4,
        "annual_revenue": "3000000.00",
        "established_on": "2019-06-01",
    }
    borrower_id = _ok(c.post("/v1/borrowers", json=body, headers=headers))["id"]
    assert isinstance(borrower_id, str)
    share_cash_flow(c, headers, borrower_id, "individual_business")
    _ok(
        c.post(
            f"/v1/borrowers/{borrower_id}/consents",
            json={"scope": "credit_assessment", "text_version": "1"},
            headers=headers,
        )
    )
    application = {
        "borrower_id": borrower_id,
        "product_code": "PH-EI",
        "amount": "800000.00",
        "term_months": 24,
        "purpose": "a second shop",
    }
    applied = _ok(c.post("/v1/applications", json=application, headers=headers))
    assert applied["status"] == "review", applied
    return headers, str(applied["id"])


def _accept_and_sign(c: httpx.Client, headers: dict[str, str], n: int, application_id: str) -> str:
    contract = _ok(c.post(f"/v1/applications/{application_id}/accept", headers=headers))["contract_id"]
    otp = _ok(c.post("/v1/auth/otp", json={"phone": phone(n)}))["demo_otp"]
    return str(_ok(c.post(f"/v1/contracts/{contract}/sign", headers=headers, json={"otp": otp}))["loan_id"])


def _sign_in(visit: Visit, lang: str, username: str) -> None:
    page = visit.page
    page.goto(f"/console/login?lang={lang}")
    checked(visit, f"sign-in-{username}")
    page.get_by_label(gettext_for(Language(lang), Domain.CONSOLE)("Username")).fill(username)
    page.get_by_label(gettext_for(Language(lang), Domain.CONSOLE)("Password")).fill("demo")
    page.locator("form[action='/console/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/console$"))


def _portfolio_minor(db: Database) -> tuple[int, int]:
    principal = loan_servicing.c.due_principal_minor + loan_servicing.c.not_due_principal_minor
    query = select(func.count(), func.coalesce(func.sum(principal), 0)).where(
        loan_servicing.c.status == LoanStatus.ACTIVE.value
    )
    row = db.read(lambda conn: conn.execute(query).one())
    return int(row[0]), int(row[1])


def _officer_reviews(visit: Visit, lang: str, application_id: str) -> None:
    """Officer A: the queue, the decision with its trace, new terms; approving them is refused."""
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    page = visit.page
    page.goto("/console/applications")
    checked(visit, "queue")
    row = page.locator(f"tr[data-application='{application_id}']")
    expect(row).to_be_visible()
    row.get_by_role("link").click()
    page.wait_for_url(f"**/console/applications/{application_id}")
    assert re.fullmatch(r"\d{3}", page.locator("[data-field=score]").inner_text().strip())
    assert page.locator("[data-field=pd]").inner_text().strip().endswith("%")
    expect(page.locator("ul.reasons")).to_contain_text("LARGE_TICKET")
    expect(page.locator("[data-trace-step]").first).to_be_visible()
    expect(page.locator("#h-trace").locator("xpath=..")).to_contain_text("large-ticket")  # the rule that referred it
    checked(visit, "decision")

    page.get_by_label(_("Amount (yuan)"), exact=True).fill("600000.00")
    page.get_by_label(_("Term (months)"), exact=True).select_option("36")
    page.get_by_label(_("Annual interest rate (%)"), exact=True).fill("12.00")
    page.locator("#terms-note").fill("cut to the cash flow")
    page.locator(f"form[action$='{application_id}/terms'] button").click()
    page.wait_for_url(re.compile(r".*done=proposed.*"))
    expect(page.locator("ol.history")).to_contain_text("600,000.00")
    checked(visit, "terms-proposed")

    page.locator(f"form[action$='{application_id}/approve'] button").click()
    expect(page.locator("#approve-problem")).to_contain_text(_(MAKER_CHECKER))
    checked(visit, "maker-checker-refused")


def _checker_approves(visit: Visit, lang: str, application_id: str) -> None:
    page = visit.page
    page.goto(f"/console/applications/{application_id}")
    page.locator("#approve-note").fill("checked against the account movements")
    page.locator(f"form[action$='{application_id}/approve'] button").click()
    page.wait_for_url(re.compile(r".*done=approved.*"))
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("ol.history li")).to_have_count(2)
    checked(visit, "approved")


def _ops_pays_out(visit: Visit, lang: str, loan_id: str, card: str) -> None:
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    page = visit.page
    page.goto(f"/console/loans/{loan_id}")
    expect(page.locator("[data-field=status]")).to_have_text(_(LOAN_STATUS[LoanStatus.PENDING_DISBURSEMENT]))
    checked(visit, "loan-signed")
    page.get_by_label(_("Borrower's bank card number")).fill(card)
    page.locator(f"form[action$='{loan_id}/payout'] button").click()
    expect(page.locator("#payout-problem")).to_be_empty()
    page.wait_for_url(re.compile(r".*done=payout.*"))
    # the bank answers within milliseconds; the page polls and reloads itself when it has
    expect(page.locator("[data-field=status]")).to_have_text(_(LOAN_STATUS[LoanStatus.ACTIVE]), timeout=15_000)
    expect(page.locator("tr[data-payout=posted]")).to_have_count(1)
    assert date.fromisoformat(page.locator("[data-field=opened_on]").inner_text().strip())
    ledger = page.locator("#ledger tbody tr")
    assert ledger.count() >= 1
    expect(page.locator("#ledger tr[data-code=disbursement]").first).to_be_visible()
    checked(visit, "loan-paid-out")


def _dashboard_matches_the_database(visit: Visit, db: Database) -> None:
    page = visit.page
    page.goto("/console")
    page.wait_for_function("document.querySelectorAll('[data-chart][data-rendered] canvas').length >= 5")
    for chart in ("chart-dpd", "chart-classes", "chart-vintage", "chart-apr", "chart-outcomes", "chart-monthly"):
        canvas = page.locator(f"#{chart} canvas").first
        expect(canvas).to_be_attached()
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, chart
    loans, minor = _portfolio_minor(db)
    assert loans >= 1
    shown = page.locator("[data-figure=portfolio]")
    assert int(shown.get_attribute("data-minor") or "-1") == minor
    expect(shown.locator(".figure")).to_have_text(f"¥{from_minor(minor):,.2f}")
    checked(visit, "dashboard")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_queue_to_approval_to_payout(browser: Browser, console_stack: ProcessStack, lang: str, viewport: str) -> None:
    n = RUNS[(lang, viewport)]
    with httpx.Client(base_url=console_stack.base, timeout=30) as c:
        borrower, application_id = _application_in_review(c, n)
        visit = open_visit(browser, console_stack.base, "console-journey", lang, viewport)
        try:
            _sign_in(visit, lang, "officer")
            _officer_reviews(visit, lang, application_id)
            console_sign_out(visit)
            _sign_in(visit, lang, "risk")
            _checker_approves(visit, lang, application_id)
            console_sign_out(visit)
            loan_id = _accept_and_sign(c, borrower, n, application_id)
            _sign_in(visit, lang, "ops")
            _ops_pays_out(visit, lang, loan_id, bank_card(n))
            _dashboard_matches_the_database(visit, console_stack.db)
        finally:
            visit.page.context.close()
    assert visit.errors == []
