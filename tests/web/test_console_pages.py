"""Every console page in a real browser, in Chinese and English on a phone and a desktop: it
renders without a console error, every input has a label, personal identifiers are masked, and
an empty list says so. Operations close the day and reconcile with the bank from the console; a
wrong password and a page outside one's role say what to do."""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import outbox
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.web.console_support import DONE_NOTICES, Done
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack
from tests.helpers import bank_card, phone, resident_id, staff_token
from tests.web.conftest import LANGUAGES, VIEWPORTS, Visit, console_sign_in, open_visit, unlabelled_inputs

pytestmark = pytest.mark.xdist_group("browser")
# the domain's reasons for a product over a rate cap (puhui.web.reasons), as the console words them
CAP_REASON = "an APR of {apr} % is above the {limit} % cap of rule {rule} ({description_msg})"
FEE_CAP_REASON = (
    "with the fees, a loan of {amount} over {term} months at the highest rate has an APR of {apr} % "
    "({without} % without fees): above the {limit} % cap of rule {rule}"
)
R_1_4 = "small-loan company: no new loan with a comprehensive cost above 24 %"
BORROWER = 801  # the one borrower of the module's book (phone and identity number from tests.helpers)
PAGES = (
    "/console",
    "/console/applications",
    "/console/borrowers",
    "/console/loans",
    "/console/products",
    "/console/products/PH-FLAT",
    "/console/policy",
    "/console/models",
    "/console/eod",
    "/console/reconciliation",
    "/console/alerts",
    "/console/alerts?status=resolved",
    "/console/sms",
)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[ProcessStack, str]]:
    """The platform and the bank simulator with one borrower whose loan is paid out."""
    tmp = tmp_path_factory.mktemp("console-pages")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    s = ProcessStack(db, tmp, latency_ms=5)
    seed_demo_staff(s.container)
    seed_demo_capital(s.container)
    s.start()
    try:
        _, loan_id = s.signed_loan(BORROWER)
        with httpx.Client(base_url=s.base, timeout=30) as c:
            ops = {**staff_token(c, "ops"), "Idempotency-Key": str(uuid.uuid4())}
            sent = c.post(
                f"/v1/loans/{loan_id}/disbursements", headers=ops, json={"account_number": bank_card(BORROWER)}
            )
            assert sent.status_code == 202, sent.text
        yield s, loan_id
    finally:
        s.stop()
        db.dispose()


def _checked(visit: Visit, step: str) -> str:
    visit.page.wait_for_load_state("load")
    assert visit.errors == [], (step, visit.errors)
    assert unlabelled_inputs(visit.page) == [], step
    visit.shot(step)
    html = visit.page.content()
    # personal identifiers are masked everywhere: the full phone and identity number never appear
    assert phone(BORROWER) not in html and resident_id(BORROWER) not in html, step
    return html


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_labelled_and_masked(
    browser: Browser, book: tuple[ProcessStack, str], lang: str, viewport: str
) -> None:
    stack, loan_id = book
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    visit = open_visit(browser, stack.base, "console-pages", lang, viewport)
    page = visit.page
    try:
        page.goto(f"/console/login?lang={lang}")
        page.get_by_label(_("Username")).fill("nobody")
        page.get_by_label(_("Password")).fill("wrong")
        page.locator("form[action='/console/login'] button[type=submit]").click()
        expect(page.locator("#login-problem")).to_contain_text(_("Wrong username or password."))
        _checked(visit, "wrong-password")

        console_sign_in(visit, lang, "admin")
        for path in PAGES:
            page.goto(path)
            html = _checked(visit, path.strip("/").replace("/", "-") or "dashboard")
            assert _("Puhui operations console") in html
        page.goto("/console/alerts?status=resolved")
        expect(page.locator("p.empty")).to_have_text(_("No resolved alerts yet."))  # an empty list says so

        page.goto("/console/borrowers")
        page.locator("table a").first.click()
        expect(page.locator("[data-field=id_number]")).to_contain_text("*")
        expect(page.locator("[data-field=phone]")).to_contain_text("****")
        _checked(visit, "borrower")
        page.goto(f"/console/loans/{loan_id}")
        expect(page.locator("#ledger tbody tr").first).to_be_visible()
        _checked(visit, "loan")
        page.goto("/console/sms")
        expect(page.locator("tbody tr").first).to_contain_text("****")  # the sign-in codes, phones masked
        _checked(visit, "sms")
    finally:
        page.context.close()
    assert visit.errors == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operations_close_the_day_and_reconcile(browser: Browser, book: tuple[ProcessStack, str], lang: str) -> None:
    stack, _loan = book
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    visit = open_visit(browser, stack.base, "console-ops", lang, "desktop")
    page = visit.page
    try:
        console_sign_in(visit, lang, "ops")
        page.goto("/console/eod")
        if page.locator("form[action='/console/eod']").count():
            page.locator("form[action='/console/eod'] button").click()
            expect(page.locator("p.notice").first).to_have_text(_(DONE_NOTICES[Done.DAY_CLOSED]), timeout=20_000)
        expect(page.get_by_text(_("Today is already closed."))).to_be_visible()
        expect(page.locator("tr[data-run]")).to_have_count(1)
        _checked(visit, "eod-closed")

        stuck = _payout_the_bank_never_received(stack, BORROWER + (1 if lang == "zh" else 2))
        assert _open_payouts(stack) == [stuck]
        page.goto("/console/reconciliation")
        page.get_by_role("link", name=_("Check the ledger")).click()
        expect(page.locator("[data-field=breaks]")).to_have_text(
            _("No breaks: every account equals the sum of its entries.")
        )
        page.locator("form[action='/console/reconciliation'] button").click()
        expect(page.locator("p.notice").first).to_have_text(_(DONE_NOTICES[Done.RECONCILED]))
        # what the run did, from the service's report: the one stuck payout sent to the bank again
        ran = page.locator("[data-result=reconciliation]")
        expect(ran.get_by_role("heading")).to_have_text(_("What reconciliation did"))
        figures = {"checked": "1", "resubmitted": "1", "posted": "0", "failed": "0", "still_pending": "0"}
        for name, value in {**figures, "break_count": "0"}.items():
            expect(ran.locator(f"[data-field={name}]")).to_have_text(value)
        expect(page.locator("[data-field=breaks]")).to_have_text(
            _("No breaks: every account equals the sum of its entries.")
        )
        _checked(visit, "reconciled")

        page.goto("/console/applications")  # not an operations page: the role is named, not a blank 403
        expect(page.locator("main")).to_contain_text(_("Operations"))
        expect(page.get_by_role("heading", name=_("Not for your role"))).to_be_visible()
        visit.shot("refused")
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_admin_edits_a_rate_range_and_the_portal_calculator_uses_it(
    browser: Browser, book: tuple[ProcessStack, str], lang: str
) -> None:
    stack, _loan = book
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    visit = open_visit(browser, stack.base, "console-product", lang, "desktop")
    page = visit.page
    low = "7.25" if lang == "zh" else "7.40"  # each language saves a value of its own
    try:
        console_sign_in(visit, lang, "admin")
        page.goto("/console/products")
        page.get_by_role(
            "link",
            name=_("Edit %(name)s")
            % {
                "name": "供应链周转贷（先息后本）"
                if lang == "zh"
                else "Supply-chain turnover loan (interest only, bullet)"
            },
        ).click()
        page.wait_for_url(re.compile(r".*/console/products/PH-IO$"))
        _checked(visit, "product-form")
        page.get_by_label(_("Lowest annual rate (%)")).fill("abc")
        page.get_by_label(_("Highest annual rate (%)")).fill("30.00")
        page.get_by_role("button", name=_("Save as a new version")).click()
        # the form's own reading first: the lowest rate is not a number
        expect(page.locator("#e-rate_annual_min")).to_have_text(_("must be a percentage, e.g. 12.00"))
        expect(page.get_by_label(_("Highest annual rate (%)"))).to_have_value("30.00")  # what was typed stays
        _checked(visit, "product-not-a-number")
        page.get_by_label(_("Lowest annual rate (%)")).fill(low)
        page.get_by_role("button", name=_("Save as a new version")).click()
        # then the domain's: 30 % is above the 24 % cap, said beside the highest rate, in the page's language
        expect(page.locator("#e-rate_annual_max")).to_contain_text("24 %")
        expect(page.locator("#e-rate_annual_max")).to_contain_text(_(CAP_REASON).split("{")[0])
        expect(page.locator("#e-rate_annual_max")).to_contain_text(_(R_1_4))  # the rule's own words too
        expect(page.locator("[data-field=rate_annual_max]")).to_have_class(re.compile("invalid"))
        expect(page.get_by_label(_("Lowest annual rate (%)"))).to_have_value(low)
        expect(page.locator("#e-rate_annual_min")).to_have_count(0)
        _checked(visit, "product-above-cap")
        # a rate within the cap with an upfront fee that takes a three-month loan past it: the fee is named
        page.get_by_label(_("Highest annual rate (%)")).fill("15.00")
        page.get_by_label(_("Upfront fee, share of the principal (%)")).fill("8.00")
        page.get_by_role("button", name=_("Save as a new version")).click()
        expect(page.locator("#e-fees_upfront_rate")).to_contain_text(_(FEE_CAP_REASON).split("{")[0])
        expect(page.locator("#e-fees_upfront_rate")).to_contain_text("24 %")
        expect(page.locator("[data-field=fees_upfront_rate]")).to_have_class(re.compile("invalid"))
        expect(page.locator("#e-rate_annual_max")).to_have_count(0)
        if lang == "zh":  # the reasons are Chinese: no English words beside the fields
            for shown in page.locator(".field-error").all_inner_texts():
                assert not re.search(r"[A-Za-z]{3,}", shown.replace("LPR", "")), shown
        _checked(visit, "product-fee-above-cap")
        page.get_by_label(_("Upfront fee, share of the principal (%)")).fill("0.00")
        chinese = f"按月付息、到期还本（{lang} 页面修改）。"  # the Chinese description, edited on either page
        page.get_by_label(_("Description (Chinese)")).fill(chinese)
        page.get_by_role("button", name=_("Save as a new version")).click()
        expect(page.locator("p.notice")).to_have_text(_(DONE_NOTICES[Done.PRODUCT_SAVED]))
        expect(page.get_by_label(_("Description (Chinese)"))).to_have_value(chinese)
        expect(page.get_by_label(_("Lowest annual rate (%)"))).to_have_value(low)
        expect(page.locator("#h-history ~ .table-wrap tbody tr").first).to_contain_text("rate_annual_min")
        _checked(visit, "product-saved")

        page.goto(f"/calculator?product=PH-IO&lang={lang}")  # the borrower's calculator, at the new lowest rate
        expect(page.locator("#quote [data-rate]").first).to_contain_text(low)
        if lang == "zh":  # and its description in the page's language: the Chinese one just saved
            expect(page.locator("#calculator [data-description]")).to_have_text(chinese)
        else:
            expect(page.locator("#calculator [data-description]")).to_contain_text("confirmed receivables")
        assert visit.errors == []
    finally:
        page.context.close()


def _open_payouts(stack: ProcessStack) -> list[str]:
    return stack.db.read(
        lambda c: [r.ref_id for r in c.execute(select(outbox.c.ref_id).where(outbox.c.status != "done"))]
    )


def _payout_the_bank_never_received(stack: ProcessStack, n: int) -> str:
    """A payout asked for while the bank was down: the outbox keeps it for reconciliation."""
    _h, loan_id = stack.signed_loan(n)
    stack.sim.stop()
    try:
        with httpx.Client(base_url=stack.base, timeout=30) as c:
            ops = {**staff_token(c, "ops"), "Idempotency-Key": str(uuid.uuid4())}
            sent = c.post(f"/v1/loans/{loan_id}/disbursements", headers=ops, json={"account_number": bank_card(n)})
            assert sent.status_code == 202, sent.text
            return str(sent.json()["disbursement_id"])
    finally:
        stack.sim.start()


def _console_messages() -> list[str]:
    """Every message id of the console: `_("...")` in its templates, `N_("...")`/`_("...")` in
    web/console*.py and web/reasons.py, the node and column names and the rules' descriptions of
    the policy tables."""
    web = Path(__file__).resolve().parents[2] / "src" / "puhui" / "web"
    found: list[str] = []
    for template in sorted((web / "templates" / "console").glob("*.html")):
        pattern = r"""_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)"""
        found += [ast.literal_eval(m.group(1)) for m in re.finditer(pattern, template.read_text(encoding="utf-8"))]
    for module in [*sorted(web.glob("console*.py")), web / "reasons.py"]:  # and the domain's reasons
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            marked = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("N_", "_")
            if marked and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
    for table in sorted((web.parent / "risk" / "policy").glob("*.json")):
        for n in json.loads(table.read_text(encoding="utf-8"))["nodes"]:
            content = n.get("content") or {}
            found += [n["name"], *(c["name"] for c in content.get("inputs", []) + content.get("outputs", []))]
            found += [r["_description"] for r in content.get("rules", []) if r.get("_description")]
    return sorted(set(found))


def test_the_chinese_catalogue_translates_every_console_message() -> None:
    from puhui.web.i18n import missing

    messages = _console_messages()
    assert len(messages) > 300
    assert missing(Language.ZH, messages, Domain.CONSOLE) == []


def test_the_policys_reasons_are_in_chinese_on_chinese_pages(book: tuple[ProcessStack, str]) -> None:
    """Over HTTP, as the staff's browser asks: the policy tables' rule descriptions (the reasons a
    rule fires) on the policy page and in an application's rule trace are in Chinese on Chinese
    pages, in English on English ones."""
    stack, _loan = book
    web = Path(__file__).resolve().parents[2] / "src" / "puhui" / "web"
    described = {
        r["_description"]
        for table in (web.parent / "risk" / "policy").glob("*.json")
        for n in json.loads(table.read_text(encoding="utf-8"))["nodes"]
        for r in (n.get("content") or {}).get("rules", [])
        if r.get("_description")
    }
    assert len(described) > 10
    for lang in LANGUAGES:
        _ = gettext_for(Language(lang), Domain.CONSOLE)
        with httpx.Client(base_url=stack.base, timeout=30, cookies={"puhui_lang": lang}) as c:
            signed = c.post("/console/login", data={"username": "admin", "password": "demo", "next": "/console"})
            assert signed.status_code == 303, signed.text
            policy = html.unescape(c.get("/console/policy").text)
            borrower = re.search(r'href="(/console/borrowers/[0-9a-f-]{36})"', c.get("/console/borrowers").text)
            assert borrower is not None, "the module's borrower is listed"
            application = re.search(r'href="(/console/applications/[0-9a-f-]{36})"', c.get(borrower.group(1)).text)
            assert application is not None, "the module's borrower applied"
            trace = html.unescape(c.get(application.group(1)).text)
        for text in described:  # each rule's description beside its id, in the page's language
            assert f'<span class="muted">{_(text)}</span>' in policy, text
            if lang == "zh":
                assert f'<span class="muted">{text}</span>' not in policy, text
        traced = [text for text in described if _(text) in trace]
        assert traced, "the trace names the rules that fired, with their reasons"
        if lang == "zh":
            assert not [text for text in described if f"— {text}" in trace]


def test_the_payment_order_of_a_product_reads_in_the_pages_language(book: tuple[ProcessStack, str]) -> None:
    """The products page says in which order a payment is applied with the words of the page's
    language (it showed the enum codes, in English, on Chinese pages too)."""
    stack, _loan = book
    for lang, words in (("zh", ("罚息", "费用", "利息", "本金")), ("en", ("Penalty", "Fees", "Interest", "Principal"))):
        with httpx.Client(base_url=stack.base, timeout=30, cookies={"puhui_lang": lang}) as c:
            signed = c.post("/console/login", data={"username": "admin", "password": "demo", "next": "/console"})
            assert signed.status_code == 303, signed.text
            page = html.unescape(c.get("/console/products").text)
        orders = re.findall(r"<dd>([^<]*→[^<]*)</dd>", page)
        assert orders, "every product says its payment order"
        for order in orders:
            shown = [part.strip() for part in order.split("→")]
            assert set(shown) <= set(words), (lang, order)
            assert "penalty" not in order and "principal" not in order, (lang, order)
