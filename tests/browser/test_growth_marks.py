"""Estimated days, provisional readings and the range's growth, as a person sees them.

At desktop and phone width: the overview names its two kinds of figure (every post's
growth during the range; the posts published in it), marks estimated days (SPEC §9.3) in
its table and explains the mark; a fresh post's page marks its provisional readings
(SPEC §9.2) and says when the numbers settle. Every figure is checked against the page's
embedded JSON or the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Demo, serve_thumbnails

pytestmark = pytest.mark.browser

METRICS = ("impressions", "likes", "comments", "shares")
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _watch(page: Any, problems: list[str]) -> None:
    page.on(
        "console",
        lambda m: problems.append(f"console: {m.text} ({page.url})") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error} ({page.url})"))


@pytest.fixture(scope="module", params=sorted(WIDTHS))
def page(request: Any, browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDTHS[request.param])
    serve_thumbnails(context)  # the demo's thumbnails live on platform hosts (offline here)
    page = context.new_page()
    _watch(page, demo.problems)
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', demo.email)
    page.fill('input[name="password"]', demo.password)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")
    page.width_name = request.param
    yield page
    context.close()


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return f"+{value:,}" if value > 0 else f"{value:,}".replace("-", "\u2212")


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{page.url} scrolls sideways at {page.width_name} width"


def test_overview_labels_range_growth_and_marks_estimated_days(page: Any, demo: Demo) -> None:
    page.goto(demo.base_url + "/?range=30")
    chart = json.loads(page.inner_text("#overview-data"))
    assert page.is_visible("#range-growth-h")
    assert "every post" in page.inner_text("#range-growth-h").lower()
    assert "published in the range" in page.inner_text("#totals-h").lower()
    help_text = page.inner_text(".range-growth .hint")
    assert "whenever it was published" in help_text

    # The range's growth: the sum of the chart's days, shown per metric, marked ≈.
    for metric in METRICS:
        cell = page.locator(f'.card.growth[data-metric="{metric}"] [data-range-growth]')
        assert cell.is_visible()
        value = chart["range_growth"][metric]
        days = [v for v in chart["totals"][metric] if v is not None]
        assert value == (sum(days) if days else None)
        assert cell.inner_text().replace("≈", "").strip() == _signed(value)
    assert chart["range_growth_estimated"] is True  # demo readings span midnights
    assert page.locator("[data-range-growth][data-estimated]").count() == 4

    # Estimated days: marked in the visible table exactly where the JSON says, with a legend.
    rows = page.locator('[data-table-metric="impressions"] tbody tr')
    assert rows.count() == len(chart["days"])
    marked = [rows.nth(i).get_attribute("data-estimated") == "true" for i in range(rows.count())]
    assert marked == chart["estimated"]
    assert any(marked)
    marks = page.locator('[data-table-metric="impressions"] tr[data-estimated] .estimated-mark')
    assert marks.count() == sum(marked)
    legend = page.locator(".estimated-legend")
    assert legend.is_visible()
    assert "estimated" in legend.inner_text().lower()
    # One chart per platform that reports the opening metric (the overview's default layout).
    reporting = [
        platform
        for platform, reports in chart["platform_reports"][chart["default_metric"]].items()
        if reports
    ]
    assert page.locator("#overview-chart figure[data-platform] canvas").count() == len(reporting)
    _no_sideways_scroll(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"overview-marks-{page.width_name}.png", full_page=True)
    assert demo.problems == []


def test_a_fresh_posts_page_marks_its_provisional_readings(page: Any, demo: Demo) -> None:
    # The newest post with a provisional target read more than once (charts drawn).
    posts = sorted(
        demo.api_json("/v1/posts?limit=200")["data"], key=lambda p: p["published_at"], reverse=True
    )
    for newest in posts[:10]:
        api = demo.api_json(f"/v1/analytics/post/{newest['id']}?days=90")["data"]
        if any(t["provisional"] and len(t["snapshots"]) > 1 for t in api["targets"]):
            break
    else:
        pytest.fail("no fresh demo post has provisional readings")

    page.goto(demo.base_url + f"/posts/{newest['id']}?days=90")
    embedded = {t["id"]: t for t in json.loads(page.inner_text("#post-data"))["targets"]}
    for target in api["targets"]:
        section = page.locator(f'section.target[data-target-id="{target["target_id"]}"]')
        assert section.is_visible()
        marks = [s["provisional"] for s in reversed(target["snapshots"])]
        assert embedded[target["target_id"]]["provisional"] == marks
        assert embedded[target["target_id"]]["provisional_until"] == target["provisional_until"]
        rows = section.locator("tbody tr[data-provisional]")
        assert rows.count() == sum(marks)
        badge = section.locator(".latest [data-provisional]")
        assert badge.count() == (1 if target["provisional"] else 0)
        if target["provisional"]:
            assert badge.is_visible()
            assert "provisional" in badge.inner_text()
            assert section.locator("[data-settles]").is_visible()
        if any(marks) and len(marks) > 1:
            assert section.locator(".chart canvas").count() == 2
            legend = section.locator(".provisional-legend").first
            assert legend.is_visible()
            assert "provisional" in legend.inner_text()
    _no_sideways_scroll(page)
    page.screenshot(path=SCREENSHOTS / f"post-provisional-{page.width_name}.png", full_page=True)
    assert demo.problems == []
