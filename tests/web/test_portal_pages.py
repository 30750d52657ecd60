"""Portal pages beyond the happy path: every message the portal shows has its Chinese text; errors
say what to do (never a traceback, the status a 4xx), empty states, pages that need signing in,
another borrower's loan, and signing in with the keyboard alone."""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import Environment
from playwright.sync_api import Browser, expect

from puhui.adapters.db.database import Database
from puhui.domain.access import CONSENT_PURPOSES
from puhui.web.i18n import Domain, Language, missing
from tests.e2e.processes import ProcessStack
from tests.helpers import phone, resident_id
from tests.web.conftest import LANGUAGES, open_visit, unlabelled_inputs

WEB = Path(__file__).resolve().parents[2] / "src" / "puhui" / "web"


def portal_messages() -> set[str]:
    """Every constant message of the portal: `_()` in its templates, `_()`/`N_()` in its modules,
    and the consent purposes it shows."""
    found = set(CONSENT_PURPOSES.values())
    env = Environment(extensions=["jinja2.ext.i18n"])
    for template in (WEB / "templates" / "portal").glob("*.html"):
        for _line, _func, message in env.extract_translations(template.read_text(), gettext_functions=("_",)):
            if isinstance(message, str):
                found.add(message)
    for module in [*WEB.glob("portal*.py"), WEB / "reasons.py"]:  # and the domain's reasons it shows
        for node in ast.walk(ast.parse(module.read_text())):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
            if called and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_every_portal_message_has_its_chinese_text() -> None:
    messages = portal_messages()
    assert len(messages) > 200
    assert missing(Language.ZH, sorted(messages), Domain.PORTAL) == []


@pytest.fixture(scope="module")
def pages_stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ProcessStack]:
    tmp = tmp_path_factory.mktemp("portal-pages")
    shutil.copy(sqlite_template, tmp / "puhui.db")
    db = Database(f"sqlite:///{tmp / 'puhui.db'}")
    stack = ProcessStack(db, tmp, latency_ms=5)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        db.dispose()


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_errors_say_what_to_do_and_empty_states_are_explained(
    browser: Browser, pages_stack: ProcessStack, lang: str
) -> None:
    serial = 701 if lang == "zh" else 702
    mobile, id_number = phone(serial), resident_id(serial)
    visit = open_visit(browser, pages_stack.base, "pages", lang, "phone")
    page = visit.page
    page.set_default_timeout(10_000)
    zh = lang == "zh"
    try:
        page.goto(f"/loans?lang={lang}")  # signing in comes first
        page.wait_for_url(re.compile(r"/sign-in$"))

        # the keyboard alone: type the number, Enter; a wrong code is refused with what to do
        page.locator("#f-phone").press_sequentially(mobile)
        page.keyboard.press("Enter")
        expect(page.locator("#demo-code")).to_be_visible()
        page.locator("#f-otp").fill("000000" if page.locator("#demo-code").inner_text() != "000000" else "111111")
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sign-in")) as answer:
            page.keyboard.press("Enter")
        assert answer.value.status == 401
        expect(page.locator("#f-otp-error")).to_contain_text("新的验证码" if zh else "Ask for a new code")
        assert page.locator("#f-otp").get_attribute("aria-invalid") == "true"
        visit.shot("wrong-code")
        assert unlabelled_inputs(page) == []

        page.locator("form.inline button").click()  # a new code, then in
        page.locator("#f-otp").fill(page.locator("#demo-code").inner_text())
        page.locator("#f-otp").press("Enter")
        page.wait_for_url(re.compile(r"/register$"))

        # registration: the page's own checks, next to each field
        page.locator("#f-id_number").fill("12345")
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/register")) as answer:
            page.locator("form[action='/register'] button[type=submit]").click()
        assert answer.value.status == 422
        expect(page.locator("#f-name-error")).not_to_be_empty()
        expect(page.locator("#f-region-error")).not_to_be_empty()
        visit.shot("register-errors")
        page.locator("#f-name").fill("钱七")
        page.locator("#f-region").fill("330106")
        page.locator("form[action='/register'] button[type=submit]").click()
        # the service's check of the number, in the page's language, then what to do
        reason = "居民身份证号码：须为 18 位" if zh else "Resident ID number: must have 18 characters"
        expect(page.locator("#f-id_number-error")).to_contain_text(reason)
        page.locator("#f-id_number").fill(id_number)
        page.locator("form[action='/register'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/consents"))

        # no consent yet: the home page says how to see a line; no loans yet: what to do
        page.goto("/")
        expect(page.locator("#pre-approval a[href='/consents/credit_assessment']")).to_be_visible()
        page.goto("/loans")
        expect(page.locator(".empty")).to_contain_text("还没有贷款" if zh else "no loans yet")
        expect(page.locator("main a[href='/apply']")).to_be_visible()
        visit.shot("no-loans")

        # another borrower's loan (or none): a page that explains, with a 404, never a traceback
        answer = page.goto("/loans/00000000-0000-0000-0000-000000000000")
        assert answer is not None and answer.status == 404
        text = page.locator("main").inner_text()
        assert ("找不到该页面" if zh else "could not find that page") in text
        assert "Traceback" not in text
        visit.shot("not-found")

        for shown in (page.locator("body").inner_text(),):
            assert mobile not in shown and id_number not in shown
        # the browser logs each 4xx answer to the console; nothing else may be there
        assert all(re.search(r"status of 4\d\d", e) for e in visit.errors), visit.errors
    finally:
        page.context.close()
