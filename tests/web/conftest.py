"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser) against
`puhui serve` and the bank simulator as real processes, in Chinese and English, on a phone-sized and
a desktop viewport. Every page's console errors fail the test; screenshots are kept as artefacts in
var/test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.web.i18n import Domain, Language, gettext_for
from tests.e2e.processes import ProcessStack

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
LANGUAGES = ("zh", "en")


def _chromium() -> str | None:
    return shutil.which("chromium") or (str(Path("/usr/bin/chromium")) if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = _chromium()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but chromium is not installed: `make sysdeps` installs it", pytrace=False)
        pytest.skip("chromium is not installed (make sysdeps)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def stack(sqlite_db: Database, tmp_path: Path) -> Iterator[ProcessStack]:
    """The platform and the bank simulator as processes, on SQLite (what `make run` serves; the
    API suites cover PostgreSQL), with the demo staff users and capital."""
    s = ProcessStack(sqlite_db, tmp_path, latency_ms=5)
    seed_demo_staff(s.container)
    seed_demo_capital(s.container)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@dataclass
class Visit:
    """One browser context (language, viewport) with its console errors and screenshots."""

    page: Page
    name: str
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, step: str) -> Path:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '_', step)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_visit(browser: Browser, base: str, name: str, lang: str, viewport: str) -> Visit:
    context = browser.new_context(
        base_url=base, viewport=VIEWPORTS[viewport], locale="zh-CN" if lang == "zh" else "en-US"
    )
    page = context.new_page()
    visit = Visit(page, f"{name}-{lang}-{viewport}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: visit.errors.append(str(exc)))
    return visit


def unlabelled_inputs(page: Page) -> list[str]:
    """Inputs, selects and textareas with no accessible label (a label element, aria-label or aria-labelledby)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                              && !e.getAttribute('aria-labelledby'))
                 .map(e => e.name || e.id || e.outerHTML.slice(0, 60))"""
        )
    )


def console_sign_in(visit: Visit, lang: str, username: str) -> None:
    """Sign a demo staff user (password "demo") in to the console, in `lang`."""
    _ = gettext_for(Language(lang), Domain.CONSOLE)
    page = visit.page
    page.goto(f"/console/login?lang={lang}")
    page.get_by_label(_("Username")).fill(username)
    page.get_by_label(_("Password")).fill("demo")
    page.locator("form[action='/console/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/console$"))


def console_sign_out(visit: Visit) -> None:
    visit.page.locator("form.sign-out button").click()
    visit.page.wait_for_url(re.compile(r".*/console/login.*"))


def checked(visit: Visit, step: str) -> None:
    """Every page of a journey: no console error, every input labelled, a screenshot."""
    visit.page.wait_for_load_state("load")
    assert visit.errors == [], (step, visit.errors)
    assert unlabelled_inputs(visit.page) == [], step
    visit.shot(step)
