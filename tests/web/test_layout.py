"""The layout every page shares: both languages switchable, assets served locally, no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.e2e.processes import ProcessStack
from tests.web.conftest import LANGUAGES, VIEWPORTS, open_visit


@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_portal_speaks_both_languages_and_switches(
    browser: Browser, stack: ProcessStack, lang: str, viewport: str
) -> None:
    visit = open_visit(browser, stack.base, "layout", lang, viewport)
    page = visit.page
    page.goto(f"/?lang={lang}")
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
    footer = page.locator("footer").inner_text()
    assert ("年化利率" in footer) if lang == "zh" else ("APR" in footer)
    assert page.evaluate("typeof htmx") == "object"  # vendored, served by us
    visit.shot("home")
    other = "en" if lang == "zh" else "zh"
    page.get_by_role("link", name="English" if lang == "zh" else "中文").click()
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if other == "zh" else "en")
    page.goto("/")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if other == "zh" else "en")
    assert visit.errors == []
