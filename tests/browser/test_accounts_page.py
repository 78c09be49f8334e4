"""The Accounts page (SPEC §9.4) in a real browser over the demo workspace: linked from the
nav, each account's figures equal what ``GET /v1/analytics/accounts/{id}`` gives, a chart
of followers drawn, and no sideways scrolling at phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Demo, serve_thumbnails

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _number(text: str) -> int | None:
    text = text.strip().replace("\N{MINUS SIGN}", "-")
    return None if text == "—" else int(text.replace(",", "").replace("+", ""))


@pytest.fixture(scope="module")
def signed_in(browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    serve_thumbnails(context)
    page = context.new_page()
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', demo.email)
    page.fill('input[name="password"]', demo.password)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")
    yield page
    context.close()


def test_the_accounts_page_shows_the_apis_figures(signed_in: Any, browser: Any, demo: Demo) -> None:
    page = signed_in
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.click('nav a[href="/accounts"]')
    page.wait_for_url(demo.base_url + "/accounts")
    page.select_option('select[name="days"]', "30")
    page.click('form[action="/accounts"] button[type="submit"]')
    page.wait_for_url("**/accounts?days=30*")
    sections = page.query_selector_all("section.account")
    assert len(sections) >= 5
    for section in sections:
        integration_id = section.get_attribute("data-account-id")
        api = demo.api_json(f"/v1/analytics/accounts/{integration_id}?days=30")["data"]
        for counter in ("followers", "following", "posts"):
            card = section.query_selector(f'[data-counter="{counter}"]')
            assert card is not None
            assert _number(card.query_selector("[data-latest]").inner_text()) == api[counter]
            period = card.query_selector("[data-period]").inner_text()
            if api[counter] is not None and api["period"][counter] is not None:
                assert _number(period) == api["period"][counter], (counter, period)
        if api["followers"] is not None:
            assert section.query_selector("[data-followers-chart] polyline") is not None
    page.screenshot(path=SCREENSHOTS / "accounts.png", full_page=True)

    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state())
    small = phone.new_page()
    small.goto(demo.base_url + "/accounts")
    overflow = small.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, "/accounts scrolls sideways at phone width"
    small.click("section.account details summary")
    small.screenshot(path=SCREENSHOTS / "accounts-phone.png", full_page=True)
    phone.close()
    assert problems == []
