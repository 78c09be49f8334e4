"""Engagement (SPEC §9.5) as a person sees it, at desktop and phone width: the reports page's
tag table and posting-time tables, the overview's top posts by engagement rate, a post's
rates. Every figure on the page is checked against what the API gives for the same posts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openpost.dashboard.engagement_display import median_text, rate_text
from tests.browser.conftest import SCREENSHOTS, Demo

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module", params=sorted(WIDTHS))
def page(request: Any, browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDTHS[request.param])
    page = context.new_page()
    page.on("pageerror", lambda error: demo.problems.append(f"page error: {error}"))
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', demo.email)
    page.fill('input[name="password"]', demo.password)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")
    page.width_name = request.param
    yield page
    context.close()


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{page.url} scrolls sideways at {page.width_name} width"


def _rate_on_page(cell: Any) -> tuple[str, str]:
    rate = cell.locator(".rate").first
    return rate.get_attribute("data-rate") or "", rate.inner_text()


def test_the_tag_report_equals_the_api(page: Any, demo: Demo) -> None:
    # Range 90: the local days from 89 days ago to today; the API's last 90 days hold the
    # same demo posts (none is published between the two starts).
    api = demo.api_json("/v1/analytics/tags?days=90")["data"]
    page.goto(demo.base_url + "/reports?range=90")
    assert page.is_visible("#tags-table")
    assert api["tags"], "the demo's posts have tags"
    assert f"{api['posts']} posts published in the range" in page.inner_text("#tag-report .hint")
    rows = api["tags"] + ([api["untagged"]] if api["untagged"] else [])
    assert page.locator("#tags-table tbody tr").count() == len(rows)
    for row in rows:
        tr = page.locator(f'#tags-table tr[data-tag="{row["tag"] or ""}"]')
        assert tr.is_visible()
        posts = tr.locator('[data-label="Posts"]').inner_text()
        assert posts.split()[0] == str(row["posts"])
        median = tr.locator('[data-label="Median engagements"]')
        assert median.inner_text() == median_text(row["median_engagements"])
        total = tr.locator('[data-label="Total engagements"]').inner_text()
        expected_total = row["total_engagements"]
        assert total == ("—" if expected_total is None else f"{expected_total:,}")
        raw, text = _rate_on_page(tr.locator('[data-label="Engagement rate"]'))
        if row["engagement_rate"] is None:
            assert text == "no views reported"
        else:
            assert float(raw) == row["engagement_rate"]
            assert text == f"{rate_text(row['engagement_rate'])} of views"
    _no_sideways_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / f"reports-{page.width_name}.png"), full_page=True)


def test_the_posting_times_equal_the_api(page: Any, demo: Demo) -> None:
    api = demo.api_json("/v1/analytics/posting-times?days=90")["data"]
    page.goto(demo.base_url + "/reports?range=90")
    hint = page.inner_text("#posting-times .hint")
    assert f"{api['posts_measured']} of {api['posts']} posts" in hint
    assert f"fewer than {api['min_posts']}" in hint
    for day in api["weekdays"]:
        tr = page.locator(f'#weekday-table tr[data-weekday="{day["weekday"]}"]')
        assert tr.get_attribute("data-posts") == str(day["posts"])
        text = tr.locator("td").inner_text()
        if day["posts"] == 0:
            assert text == "—"
        elif day["too_few"]:
            assert text == f"too few posts (n = {day['posts']})"
        else:
            assert text == f"{median_text(day['median_engagements'])} (n = {day['posts']})"
    grid = page.locator("#time-grid")
    assert grid.is_visible()
    for cell in api["cells"]:
        weekday = [d["weekday"] for d in api["weekdays"]].index(cell["weekday"])
        td = grid.locator(f'td[data-cell="{weekday}-{cell["hour"]}"]')
        assert td.get_attribute("data-posts") == str(cell["posts"])
        assert f"n={cell['posts']}" in td.inner_text()
        if cell["too_few"]:
            assert "too few" in td.inner_text()
    # the demo has about one post a weekday and hour: most cells must say so
    assert any(c["too_few"] for c in api["cells"])
    _no_sideways_scroll(page)  # the wide grid scrolls inside its own box on a phone


def test_top_posts_by_engagement_rate_equal_the_api(page: Any, demo: Demo) -> None:
    page.goto(demo.base_url + "/?range=30")
    page.click('a[data-top-key="engagement_rate"]')
    page.wait_for_url("**top=engagement_rate**")
    assert "by engagement rate (of views)" in page.inner_text("#top-posts caption")
    rows = page.locator("#top-posts tbody tr")
    assert rows.count() > 0
    seen = []
    for i in range(rows.count()):
        row = rows.nth(i)
        href = row.locator("a.post-preview").get_attribute("href")
        api = demo.api_json(f"/v1/analytics{href.replace('/posts/', '/post/')}")["data"]
        totals = api["totals"]
        cell = row.locator("[data-engagement-rates]")
        raw, text = _rate_on_page(cell)
        assert float(raw) == totals["engagement_rate"]
        assert text == f"{rate_text(totals['engagement_rate'])} of views"
        by_followers = cell.locator(".rate").nth(1)
        if totals["engagement_rate_by_followers"] is None:
            assert by_followers.inner_text() == "followers not known"
        else:  # the demo's accounts have daily account snapshots (SPEC 9.4)
            assert (
                float(by_followers.get_attribute("data-rate") or "")
                == totals["engagement_rate_by_followers"]
            )
            expected = rate_text(totals["engagement_rate_by_followers"])
            assert by_followers.inner_text() == f"{expected} of followers"
        engagements = row.locator('[data-label="Engagements"]').inner_text()
        assert engagements == f"{totals['engagements']:,}"
        seen.append(totals["engagement_rate"])
    assert seen == sorted(seen, reverse=True)
    _no_sideways_scroll(page)

    # the first of them: its page shows the same figures, per account and for all
    page.locator("#top-posts a.post-preview").first.click()
    page.wait_for_url("**/posts/**")
    post_id = page.url.rsplit("/", 1)[1].split("?")[0]
    api = demo.api_json(f"/v1/analytics/post/{post_id}")["data"]
    card = page.locator("[data-engagement-totals]")
    assert card.locator("[data-engagements]").inner_text() == f"{api['totals']['engagements']:,}"
    raw, text = _rate_on_page(card)
    assert float(raw) == api["totals"]["engagement_rate"]
    assert text.endswith("of views")
    for target in api["targets"]:
        section = page.locator(f'section.target[data-target-id="{target["target_id"]}"]')
        shown = section.locator("dd[data-engagements]").inner_text()
        assert shown == ("—" if target["engagements"] is None else f"{target['engagements']:,}")
        raw, text = _rate_on_page(section.locator("dd[data-engagement-rates]"))
        if target["engagement_rate"] is None:
            assert text == "no views reported"
        else:
            assert float(raw) == target["engagement_rate"]
    _no_sideways_scroll(page)


def test_no_page_errors(demo: Demo) -> None:
    assert not [p for p in demo.problems if "page error" in p]
