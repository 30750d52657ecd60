"""After the payout: a borrower who let an installment pass sees the overdue reminder on the home
page and the overdue amount on the loan page, reads the prepayment quote, pays a little more than is due, and the
overdue is gone from the loan page and the home page. The business date moves with
operations closing days over HTTP (`POST /v1/eod`), as in production."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from tests.e2e.processes import ProcessStack
from tests.helpers import bank_card, phone, staff_token
from tests.web.conftest import open_visit, unlabelled_inputs

RUNS = {("zh", "phone"): 651, ("en", "desktop"): 652}


@pytest.fixture(scope="module")
def eod_stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ProcessStack]:
    tmp = tmp_path_factory.mktemp("portal-servicing")
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


def _overdue_loan(stack: ProcessStack, serial: int) -> str:
    """A loan paid out over HTTP, then days closed until its first installment is overdue."""
    h, loan_id = stack.signed_loan(serial)
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


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize(("lang", "viewport"), list(RUNS))
def test_an_overdue_borrower_is_reminded_then_pays(
    browser: Browser, eod_stack: ProcessStack, lang: str, viewport: str
) -> None:
    serial = RUNS[(lang, viewport)]
    loan_id = _overdue_loan(eod_stack, serial)
    visit = open_visit(browser, eod_stack.base, "servicing", lang, viewport)
    page = visit.page
    page.goto(f"/sign-in?lang={lang}")
    page.locator("#f-phone").fill(phone(serial))
    page.locator("form[action='/sign-in/code'] button[type=submit]").click()
    page.locator("#f-otp").fill(page.locator("#demo-code").inner_text())
    page.locator("form[action='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/(\?[^/]*)?$"))
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
    # then pay what is due now
    with page.expect_response(re.compile(r"/quote\?")):  # the quote's swap resets the amount field
        page.locator("input[name=prepayment][value='']").check()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#f-amount")).to_have_value(f"{due_now:.2f}")
    page.locator("#f-amount").fill(f"{due_now + 10:.2f}")  # a round sum: the rest is kept as credit
    page.locator("#repay button[type=submit]").click()
    page.wait_for_load_state()
    assert "done=repaid" in page.url, page.locator(".error, [role=alert]").all_inner_texts()
    expect(page.locator(".overdue[role=alert]")).to_have_count(0)
    payoff_after = _yuan(page.locator("#payoff [data-payoff]").inner_text())
    assert payoff_after < payoff_before - due_now + Decimal("50.00"), (payoff_before, payoff_after)
    page.goto("/")
    expect(page.locator(".reminder.overdue")).to_have_count(0)
    visit.shot("after-payment")
    assert visit.errors == []
