"""After the payout: a borrower who let an installment pass sees the overdue reminder on the home
page and the overdue amount on the loan page, reads the prepayment quote, pays exactly what the page
says is due (today's penalty interest included), and the overdue is gone from the loan page and the
home page. Another prepays a thousand yuan beyond what is due for a shorter term on the overdue
(flat-rate) loan: the overdue is paid first, the rest shortens the schedule. A loan that repays its
principal at the end offers no shorter term, and a posted one is refused beside the choices, in the
borrower's language. The business date moves with operations closing days over HTTP
(`POST /v1/eod`), as in production."""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack
from tests.helpers import bank_card, phone, staff_token
from tests.web.conftest import open_visit, unlabelled_inputs

RUNS = {("zh", "phone"): 651, ("en", "desktop"): 652}
PREPAY_RUNS = {("zh", "phone"): 653, ("en", "desktop"): 654}
REVOLVING = {"zh": 655, "en": 656}


@pytest.fixture(scope="module")
def eod_stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ProcessStack]:
    tmp = tmp_path_factory.mktemp("portal-servicing")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    # the module's borrowers all sign up from this one address within a minute or so
    env = {"PUHUI_BUSINESS_DATE_SOURCE": "eod", "PUHUI_OTP_PER_IP_PER_MINUTE": "60"}
    stack = ProcessStack(db, tmp, latency_ms=5, extra_env=env)
    seed_demo_staff(stack.container)
    seed_demo_capital(stack.container)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        db.dispose()


def _paid_out(
    stack: ProcessStack, serial: int, product: str = "PH-FLAT", amount: str = "12000.00", term: int = 12
) -> tuple[dict[str, str], str]:
    """A loan signed and paid out over HTTP: the borrower's headers and the loan."""
    h, loan_id = stack.signed_loan(serial, product, amount, term)
    with httpx.Client(base_url=stack.base, timeout=30) as http:
        sent = http.post(
            f"/v1/loans/{loan_id}/disbursements",
            headers={**h, "Idempotency-Key": f"payout-{serial}"},
            json={"account_number": bank_card(serial)},
        )
        assert sent.status_code == 202, sent.text
        deadline = time.monotonic() + 30
        while http.get(f"/v1/loans/{loan_id}", headers=h).json()["status"] != "active":
            assert time.monotonic() < deadline, "the payout never settled"
            time.sleep(0.1)
    return h, loan_id


@pytest.fixture(scope="module")
def loans(eod_stack: ProcessStack) -> dict[int, tuple[dict[str, str], str]]:
    """Every loan of the module, paid out on the first business day: the account movements a
    borrower shares end on the system's date, so an application made after weeks of closed
    days would be declined as stale."""
    made = {serial: _paid_out(eod_stack, serial) for serial in (*RUNS.values(), *PREPAY_RUNS.values())}
    made.update({serial: _paid_out(eod_stack, serial, "PH-REV", "12000.00", 12) for serial in REVOLVING.values()})
    return made


def _overdue_loan(stack: ProcessStack, loan: tuple[dict[str, str], str]) -> str:
    """Days closed until the loan's first installment is overdue (loans paid out together fall
    overdue together)."""
    h, loan_id = loan
    with httpx.Client(base_url=stack.base, timeout=30) as http:
        ops = staff_token(http, "ops")
        for _ in range(62):  # a month and a day past the first due date at most
            if int(http.get(f"/v1/loans/{loan_id}", headers=h).json().get("days_past_due") or 0) > 0:
                return loan_id
            today = http.get("/v1/eod", headers=ops).json()["business_date"]
            closed = http.post("/v1/eod", json={"business_date": today}, headers=ops)
            assert closed.status_code == 200, closed.text
    pytest.fail("the first installment never fell overdue")


def _yuan(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.]", "", text))


def _sign_in(page: Page, lang: str, serial: int) -> None:
    page.goto(f"/sign-in?lang={lang}")
    page.locator("#f-phone").fill(phone(serial))
    page.locator("form[action='/sign-in/code'] button[type=submit]").click()
    page.locator("#f-otp").fill(page.locator("#demo-code").inner_text())
    page.locator("form[action='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/(\?[^/]*)?$"))


def _choose(page: Page, value: str) -> None:
    """Pick a way to pay and wait for its quote: the quote's out-of-band swap resets the amount field."""
    with page.expect_response(re.compile(r"/quote\?")):
        page.locator(f"input[name=prepayment][value='{value}']").check()
    page.wait_for_load_state("networkidle")


def _upcoming(page: Page) -> list[Decimal]:
    """The payments of the installments not yet due, in the schedule's order."""
    rows = page.locator("table:has(caption) tbody tr:has(.badge.scheduled)")
    return [_yuan(rows.nth(i).locator("td").nth(5).inner_text()) for i in range(rows.count())]


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize(("lang", "viewport"), list(RUNS))
def test_an_overdue_borrower_is_reminded_then_pays(
    browser: Browser, eod_stack: ProcessStack, loans: dict[int, tuple[dict[str, str], str]], lang: str, viewport: str
) -> None:
    serial = RUNS[(lang, viewport)]
    loan_id = _overdue_loan(eod_stack, loans[serial])
    visit = open_visit(browser, eod_stack.base, "servicing", lang, viewport)
    page = visit.page
    _sign_in(page, lang, serial)
    reminder = page.locator(".reminder.overdue")
    expect(reminder).to_be_visible()
    assert ("逾期" in reminder.inner_text()) if lang == "zh" else ("overdue" in reminder.inner_text())
    visit.shot("home-overdue")

    page.goto(f"/loans/{loan_id}")
    alert = page.locator(".overdue[role=alert]")
    expect(alert).to_be_visible()
    due_now = _yuan(page.locator("#payoff [data-due-now]").inner_text())
    payoff_before = _yuan(page.locator("#payoff [data-payoff]").inner_text())
    assert due_now > 0 and due_now in {_yuan(t) for t in re.findall(r"¥[0-9,.]+", alert.inner_text())}
    assert unlabelled_inputs(page) == []
    visit.shot("loan-overdue")

    # the prepayment quote for the choice (the figures a prepayment would be made from)
    with page.expect_response(re.compile(r"/quote\?")):
        page.locator("input[name=prepayment][value=shorter_term]").check()
    expect(page.locator("#payoff")).to_contain_text("提前还款" if lang == "zh" else "Prepayment quote")
    visit.shot("prepay-quote")
    # then pay what is due now: exactly the figure shown (today's penalty interest is in it)
    _choose(page, "")
    expect(page.locator("#f-amount")).to_have_value(f"{due_now:.2f}")
    page.locator("#repay button[type=submit]").click()
    page.wait_for_load_state()
    assert "done=repaid" in page.url, page.locator(".error, [role=alert]").all_inner_texts()
    expect(page.locator(".overdue[role=alert]")).to_have_count(0)
    payoff_after = _yuan(page.locator("#payoff [data-payoff]").inner_text())
    assert payoff_after < payoff_before - due_now + Decimal("50.00"), (payoff_before, payoff_after)
    assert _yuan(page.locator("#payoff [data-due-now]").inner_text()) == 0
    page.goto("/")
    expect(page.locator(".reminder.overdue")).to_have_count(0)
    visit.shot("after-payment")
    assert visit.errors == []


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize(("lang", "viewport"), list(PREPAY_RUNS))
def test_an_overdue_borrower_prepays_for_a_shorter_term(
    browser: Browser, eod_stack: ProcessStack, loans: dict[int, tuple[dict[str, str], str]], lang: str, viewport: str
) -> None:
    serial = PREPAY_RUNS[(lang, viewport)]
    loan_id = _overdue_loan(eod_stack, loans[serial])
    visit = open_visit(browser, eod_stack.base, "prepay", lang, viewport)
    page = visit.page
    _sign_in(page, lang, serial)
    page.goto(f"/loans/{loan_id}")
    expect(page.locator(".overdue[role=alert]")).to_be_visible()
    upcoming_before = _upcoming(page)
    payoff_before = _yuan(page.locator("#payoff [data-payoff]").inner_text())

    _choose(page, "shorter_term")
    expect(page.locator("#payoff")).to_contain_text("提前还款" if lang == "zh" else "Prepayment quote")
    due_now = _yuan(page.locator("#payoff [data-due-now]").inner_text())
    assert due_now > 0
    page.locator("#f-amount").fill(f"{due_now + 1000:.2f}")
    visit.shot("prepay-shorter")
    page.locator("#repay button[type=submit]").click()
    page.wait_for_load_state()
    assert "done=repaid" in page.url, page.locator(".error, [role=alert]").all_inner_texts()
    visit.shot("prepaid-shorter")

    expect(page.locator(".overdue[role=alert]")).to_have_count(0)  # the overdue was paid first
    latest = page.locator("#payments tbody tr").last  # payments are listed oldest first
    expect(latest).to_contain_text(gettext_for(Language(lang), Domain.PORTAL)("Prepayment, shorter term"))
    assert _yuan(latest.locator("td").nth(2).inner_text()) == due_now + 1000
    upcoming_after = _upcoming(page)
    assert 0 < len(upcoming_after) < len(upcoming_before), (upcoming_before, upcoming_after)
    assert upcoming_after[0] <= upcoming_before[0]  # the installment is kept (or a little less), not raised
    payoff_after = _yuan(page.locator("#payoff [data-payoff]").inner_text())
    assert payoff_after < payoff_before - 1000, (payoff_before, payoff_after)
    assert visit.errors == []


@pytest.mark.parametrize("lang", list(REVOLVING))
def test_a_loan_repaid_at_the_end_offers_no_shorter_term_and_says_why(
    eod_stack: ProcessStack, loans: dict[int, tuple[dict[str, str], str]], lang: str
) -> None:
    """A revolving line is repaid like an interest-only loan (principal at the end): its page
    offers smaller installments and payoff but no shorter term, and a posted shorter term (a
    stale page, a hand-made form) is refused beside the choices, in the page's language."""
    serial = REVOLVING[lang]
    _h, loan_id = loans[serial]
    _ = gettext_for(Language(lang), Domain.PORTAL)
    with httpx.Client(base_url=eod_stack.base, timeout=30, cookies={"puhui_lang": lang}) as web:
        otp = web.post("/v1/auth/otp", json={"phone": phone(serial)}).json()["demo_otp"]
        signed = web.post("/sign-in", data={"phone": phone(serial), "otp": otp})
        assert signed.status_code == 303, signed.text
        page = web.get(f"/loans/{loan_id}?lang={lang}")
        assert page.status_code == 200
        assert 'value="smaller_installments"' in page.text and 'value="shorter_term"' not in page.text
        assert _("Prepay and keep the installment: finish sooner") not in page.text
        refused = web.post(
            f"/loans/{loan_id}?lang={lang}",
            data={"key": "stale-form", "prepayment": "shorter_term", "amount": "2000.00"},
        )
    assert refused.status_code == 422
    beside = re.search(r'<p class="field-error" id="f-prepayment-error" role="alert">([^<]+)</p>', refused.text)
    assert beside is not None, refused.text
    assert _(
        "a shorter term is not offered on this loan (its principal is repaid at the end); "
        "prepay for smaller installments instead"
    ) in html.unescape(beside.group(1))
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", beside.group(1)) and not re.search(r"[a-z]{4,}", beside.group(1))
