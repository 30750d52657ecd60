"""A borrower's journey through the portal in a real browser, from signing in to the first
repayment: sign in with the phone code, register, consent per data scope (and connect the demo
account), see the pre-approved line, use the calculator, apply and read the decision, preview the
contract and download its PDF, sign it with a fresh code, get the payout (the bank simulator runs
as its own process; the page polls until the bank has paid), see the loan with its schedule and next
due date, get the due reminder once the business date reaches the due date, read a prepayment quote
and repay the first installment. In Chinese and English, on a phone and a desktop.

One platform + bank stack serves the module (each run has its own phone number and borrower); the
business date follows the end of day (`PUHUI_BUSINESS_DATE_SOURCE=eod`), which the test closes up
to the first due date."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack
from tests.helpers import bank_card, phone, resident_id, staff_token
from tests.web.conftest import LANGUAGES, VIEWPORTS, Visit, open_visit, unlabelled_inputs

TIMEOUT_MS = 15_000
SERIALS = {("zh", "phone"): 601, ("zh", "desktop"): 602, ("en", "phone"): 603, ("en", "desktop"): 604}
ZH = gettext_for(Language.ZH, Domain.PORTAL)  # the texts the portal shows (its catalogue over the layout's)
WORDS = {  # what the borrower reads, per language
    "zh": {"approved": ZH("Approved"), "paid_out": "已放款", "due_today": "今天到期", "repaid": "还款已入账",
           "paid": "已还"},
    "en": {"approved": "Approved", "paid_out": "Paid out", "due_today": "due today", "repaid": "payment is posted",
           "paid": "Paid"},
}  # fmt: skip


@pytest.fixture(scope="module")
def portal_stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ProcessStack]:
    """`puhui serve` + `puhui bank-sim` for the module, the business date following the end of day."""
    tmp = tmp_path_factory.mktemp("portal-journey")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    stack = ProcessStack(db, tmp, latency_ms=5, extra_env={"PUHUI_BUSINESS_DATE_SOURCE": "eod"})
    seed_demo_staff(stack.container)
    seed_demo_capital(stack.container)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        db.dispose()


class Borrower:
    """One run's borrower and the checks every page must pass."""

    def __init__(self, visit: Visit, serial: int) -> None:
        self.visit = visit
        self.page: Page = visit.page
        self.phone, self.id_number, self.card = phone(serial), resident_id(serial), bank_card(serial)

    def check(self, step: str) -> str:
        """Screenshot, no console error, every input labelled, no identifier shown unmasked; the page's text."""
        page = self.page
        page.wait_for_load_state("load")
        self.visit.shot(step)
        assert self.visit.errors == [], (step, self.visit.errors)
        assert unlabelled_inputs(page) == [], step
        text = page.locator("body").inner_text()
        for secret in (self.phone, self.id_number, self.card):
            assert secret not in text, (step, "an identifier is shown unmasked")
        assert "Traceback" not in text and "Internal Server Error" not in text, step
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (step, f"the page is {overflow}px wider than the screen")
        return text


def _money(text: str) -> str:
    return re.sub(r"[¥,\s]", "", text)


def _close_days_until(stack: ProcessStack, day: date) -> None:
    """Operations close business days, one at a time, until the business date is `day`."""
    with httpx.Client(base_url=stack.base, timeout=120) as http:
        ops = staff_token(http, "ops")
        today = date.fromisoformat(http.get("/v1/eod", headers=ops).json()["business_date"])
        while today < day:
            closed = http.post("/v1/eod", json={"business_date": today.isoformat()}, headers=ops)
            assert closed.status_code < 300, closed.text
            today = date.fromisoformat(closed.json()["next_business_date"])
        assert today == day


def _sign_in_and_register(b: Borrower, lang: str) -> None:
    page = b.page
    page.goto(f"/?lang={lang}")
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
    expect(page.locator(".product [data-apr]").first).to_contain_text("%")
    b.check("home-visitor")
    page.locator("main a[href='/sign-in']").first.click()
    page.locator("#f-phone").fill(b.phone)
    b.check("sign-in")
    page.locator("form[action='/sign-in/code'] button[type=submit]").click()
    code = page.locator("#demo-code").inner_text()
    text = b.check("sign-in-code")
    assert f"{b.phone[:3]}****{b.phone[-4:]}" in text  # the number, masked
    page.locator("#f-otp").fill(code)
    page.locator("form[action='/sign-in'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/register$"))
    text = b.check("register")
    assert f"{b.phone[:3]}****{b.phone[-4:]}" in text
    page.locator("input[name=kind][value=individual]").check()
    page.locator("#f-name").fill("赵六" if lang == "zh" else "Zhao Liu")
    page.locator("#f-id_number").fill(b.id_number)
    page.locator("#f-region").fill("330106")
    page.locator("#f-annual_revenue").fill("180000")
    page.locator("form[action='/register'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/consents\?done=registered"))
    assert page.locator(".consent-list > li").count() == 5  # one entry per scope
    b.check("consents")


def _consent_and_share(b: Borrower) -> None:
    """Each scope has its own screen with the text version; the transactions one connects the account."""
    page = b.page
    for scope in ("credit_assessment", "transactions"):
        page.locator(f".consent-list a[href='/consents/{scope}']").click()
        expect(page.locator(".consent")).to_contain_text("2026-01")  # the version of the text shown
        expect(page.locator(".consent .badge")).not_to_have_class(re.compile("approved"))
        b.check(f"consent-{scope}")
        page.locator(f"form[action='/consents/{scope}'] button[type=submit]").click()
        expect(page.locator(".consent .badge.approved")).to_be_visible()
        b.check(f"consent-{scope}-given")
        if scope == "credit_assessment":
            page.locator(".crumbs a[href='/consents']").click()
    page.locator("form[action='/consents/transactions/connect'] button").click()
    expect(page.locator(".share .notice")).to_contain_text(re.compile(r"\d+"))
    b.check("account-connected")


def _line_and_calculator(b: Borrower) -> None:
    page = b.page
    page.goto("/")
    line = page.locator("#pre-approval .line-amount")
    expect(line).to_be_visible(timeout=TIMEOUT_MS)
    assert float(_money(line.inner_text())) > 0
    expect(page.locator("#pre-approval [data-apr]")).to_contain_text("%")
    b.check("home-line")
    page.locator("#pre-approval a[href^='/calculator']").click()
    quote = page.locator("#quote")
    expect(quote.locator("[data-apr]")).to_contain_text("%")
    page.locator("#f-amount").fill("8000")
    expect(quote).to_contain_text("7,920.00")  # what is paid out after the 1 % upfront fee
    page.locator("#f-term_months").select_option("6")
    expect(quote.locator("tbody tr")).to_have_count(6)
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('#quote [data-apr], #quote [data-rate]')]
                 .map(e => [e.hasAttribute('data-apr'), parseFloat(getComputedStyle(e).fontSize)])"""
    )
    apr_size = max(s for is_apr, s in sizes if is_apr)
    assert all(s <= apr_size for is_apr, s in sizes if not is_apr)  # the APR is the most prominent rate
    b.check("calculator")


def _apply_and_decide(b: Borrower, lang: str) -> None:
    page = b.page
    page.locator("#quote a[href^='/apply']").click()
    assert page.locator("#f-amount").input_value() == "8000.00"
    page.locator("#f-purpose").fill("家电" if lang == "zh" else "a household appliance")
    b.check("apply")
    page.locator("form[action='/apply'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/applications/"))
    expect(page.locator(".decision .badge.approved")).to_have_text(WORDS[lang]["approved"])
    assert page.locator(".decision .reasons li").count() >= 1  # the reasons, in plain words
    expect(page.locator(".offer [data-apr]")).to_contain_text("%")
    b.check("decision")


def _contract_and_sign(b: Borrower) -> None:
    page = b.page
    page.locator(".offer form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]+$"))
    expect(page.locator(".contract-frame")).to_be_visible()
    expect(page.locator("[data-apr]").first).to_contain_text("%")
    b.check("contract")
    with page.expect_download() as download:
        page.locator("a[href$='contract.pdf']").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    page.locator("form[action$='/code'] button[type=submit]").click()
    code = page.locator("#sign-code #demo-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    page.locator("input[name=agree]").check()
    page.locator("#f-otp").fill(code.inner_text())
    b.check("contract-code")
    page.locator(".sign form:not([action$='/code']) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/loans/[0-9a-f-]+/payout"))
    expect(page.locator("[data-net]")).to_contain_text("7,920.00")
    b.check("payout")


def _payout(b: Borrower, lang: str) -> date:
    page = b.page
    page.locator("#f-account_number").fill(b.card)
    page.locator("form[action$='/payout'] button[type=submit]").click()
    expect(page.locator("main")).to_contain_text(f"{b.card[:6]}*********{b.card[-4:]}")  # masked card
    b.check("payout-sent")
    settled = page.locator("#loan-status[data-status=active]")  # htmx polls until the bank has paid
    expect(settled).to_be_visible(timeout=TIMEOUT_MS)
    expect(settled).to_contain_text(WORDS[lang]["paid_out"])
    b.check("paid-out")
    settled.locator("a.button").click()
    page.wait_for_url(re.compile(r"/loans/[0-9a-f-]+$"))
    expect(page.locator("table tbody tr")).to_have_count(6)  # the schedule of 6 installments
    expect(page.locator("[data-apr]").first).to_contain_text("%")
    due = date.fromisoformat(page.locator("[data-next-due] time").get_attribute("datetime") or "")
    b.check("loan")
    return due


def _remind_prepay_quote_and_repay(b: Borrower, lang: str, loan_url: str) -> None:
    page = b.page
    page.goto("/")
    reminder = page.locator(".reminder")
    expect(reminder).to_contain_text(WORDS[lang]["due_today"])
    b.check("home-reminder")
    reminder.locator("a").click()
    page.wait_for_url(re.compile(re.escape(loan_url)))
    page.locator("input[name=prepayment][value=payoff]").check()
    payoff = page.locator("#payoff [data-payoff]")
    expect(page.locator("#payoff .rate-note")).to_contain_text(payoff.inner_text())  # the payoff quote
    assert float(_money(payoff.inner_text())) > 0
    expect(page.locator("#f-amount")).to_have_value(_money(payoff.inner_text()))  # the amount follows the choice
    b.check("prepay-quote")
    page.locator("input[name=prepayment][value='']").check()
    due_now = page.locator("#payoff [data-due-now]")
    expect(due_now).to_contain_text("1,")  # the first installment (principal and interest) is due today
    expect(page.locator("#f-amount")).to_have_value(_money(due_now.inner_text()))
    page.locator("#repay button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text(WORDS[lang]["repaid"])
    expect(page.locator("#payments tbody tr")).to_have_count(1)
    expect(page.locator("table tbody tr").first.locator(".badge")).to_have_text(WORDS[lang]["paid"])
    b.check("repaid")


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_borrower_goes_from_sign_in_to_the_first_repayment(
    browser: Browser, portal_stack: ProcessStack, lang: str, viewport: str
) -> None:
    visit = open_visit(browser, portal_stack.base, "journey", lang, viewport)
    visit.page.set_default_timeout(TIMEOUT_MS)
    b = Borrower(visit, SERIALS[(lang, viewport)])
    try:
        _sign_in_and_register(b, lang)
        _consent_and_share(b)
        _line_and_calculator(b)
        _apply_and_decide(b, lang)
        _contract_and_sign(b)
        due = _payout(b, lang)
        loan_url = visit.page.url
        _close_days_until(portal_stack, due)
        _remind_prepay_quote_and_repay(b, lang, loan_url)
    finally:
        visit.page.context.close()
