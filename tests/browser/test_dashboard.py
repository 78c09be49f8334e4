"""The dashboard in a real browser over the demo workspace (see conftest.py)."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import SCREENSHOTS, Demo, serve_thumbnails

pytestmark = pytest.mark.browser

METRICS = ("impressions", "likes", "comments", "shares")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _watch(page: Any, problems: list[str]) -> None:
    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error} ({page.url})"))


def _log_in(page: Any, demo: Demo, email: str, password: str) -> None:
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")


@pytest.fixture(scope="module")
def owner(browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    serve_thumbnails(context)
    page = context.new_page()
    _watch(page, demo.problems)
    _log_in(page, demo, demo.email, demo.password)
    yield page
    context.close()


def _number(text: str) -> int | None:
    text = text.strip()
    return None if text == "—" else int(text.replace(",", ""))


def _total(page: Any, metric: str) -> int | None:
    return _number(page.inner_text(f'.total[data-metric="{metric}"] [data-total]'))


def _period(demo: Demo, days: int) -> tuple[datetime, datetime, list[date]]:
    """The range filter's window, worked out here independently of the dashboard's code."""
    zone = ZoneInfo(demo.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return midnight(dates[0]), midnight(today + timedelta(days=1)), dates


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_page_renders_with_demo_data(owner: Any, browser: Any, demo: Demo) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = owner
    page.goto(demo.base_url + "/")
    assert (_total(page, "impressions") or 0) > 0
    # One small chart per platform that reports impressions (Bluesky and Mastodon do not).
    chart = json.loads(page.inner_text("#overview-data"))
    impressions = chart["values"]["impressions"]
    reporting = [p for p in chart["platforms"] if any(v is not None for v in impressions[p])]
    assert page.locator("#overview-chart canvas").count() == len(reporting) > 1
    assert page.locator('[data-table-metric="impressions"] tbody tr').count() == 30
    page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
    page.click("#overview-tables summary")  # the day-by-day tables, folded by default
    page.click('[data-chart-metric="likes"]')
    assert page.get_attribute("#overview-chart", "data-metric") == "likes"
    assert page.is_visible('[data-table-metric="likes"]')
    assert not page.is_visible('[data-table-metric="impressions"]')

    page.goto(demo.base_url + "/posts")
    assert page.locator("#posts-table tbody tr").count() > 5
    page.click('#posts-table thead a:has-text("Impressions")')
    page.wait_for_url(re.compile(r"sort=impressions"))
    values = [
        _number(t.split()[0])
        for t in page.locator('#posts-table td[data-metric="impressions"]').all_inner_texts()
    ]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True)
    assert values[: len(present)] == present  # not reported comes last
    page.screenshot(path=SCREENSHOTS / "posts.png", full_page=True)

    page.click("#posts-table tbody tr:first-child th a")
    page.wait_for_url(re.compile(r"/posts/[0-9a-f-]{36}$"))
    post_path = page.url.removeprefix(demo.base_url)
    assert page.locator('.chart[data-chart="cumulative"] canvas').count() >= 1
    assert page.locator('.chart[data-chart="change"] canvas').count() >= 1
    page.screenshot(path=SCREENSHOTS / "post.png", full_page=True)

    page.goto(demo.base_url + "/integrations")
    assert page.locator("#integrations-table tbody tr").count() == 7
    assert "not found" in page.inner_text("#integrations-table")  # the deleted Bluesky post
    page.screenshot(path=SCREENSHOTS / "integrations.png", full_page=True)

    page.goto(demo.base_url + "/settings")
    assert demo.email in page.inner_text("#members-table")
    page.screenshot(path=SCREENSHOTS / "settings.png", full_page=True)

    anonymous = browser.new_context(viewport=DESKTOP)
    login_page = anonymous.new_page()
    _watch(login_page, demo.problems)
    login_page.goto(demo.base_url + "/")
    assert login_page.url.startswith(demo.base_url + "/login")
    login_page.screenshot(path=SCREENSHOTS / "login.png")
    anonymous.close()

    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state())
    serve_thumbnails(phone)
    small = phone.new_page()
    _watch(small, demo.problems)
    for path in ("/", "/posts", post_path, "/integrations", "/settings"):
        small.goto(demo.base_url + path)
        overflow = small.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways at phone width"
    small.goto(demo.base_url + "/")
    small.screenshot(path=SCREENSHOTS / "overview-phone.png", full_page=True)
    phone.close()
    assert demo.problems == []


def test_filters_change_the_numbers_and_the_url(owner: Any, demo: Demo) -> None:
    page = owner
    page.goto(demo.base_url + "/")
    thirty = {metric: _total(page, metric) for metric in METRICS}
    page.select_option('select[name="range"]', "7")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url(re.compile(r"range=7"))
    seven = {metric: _total(page, metric) for metric in METRICS}
    assert seven != thirty
    assert page.locator('[data-table-metric="likes"] tbody tr').count() == 7
    page.select_option('select[name="platform"]', "bluesky")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url(re.compile(r"range=7.*platform=bluesky|platform=bluesky.*range=7"))
    assert _total(page, "impressions") is None  # Bluesky reports no impressions: "—"
    assert page.inner_text('.total[data-metric="impressions"] [data-total]') == "—"
    assert _total(page, "likes") is not None
    assert demo.problems == []


def _api_snapshots(demo: Demo, days: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"days": days, "limit": 500, **({"cursor": cursor} if cursor else {})}
        body = demo.api_json("/v1/analytics?" + urlencode(query))
        rows.extend(body["data"])
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def _apportion(
    a: datetime, b: datetime, bounds: list[datetime]
) -> list[tuple[int | None, float, float]]:
    """The parts of ``(a, b]`` by day: ``(day index or None outside, start, end)`` in
    seconds from ``a``; a point (``a >= b``) is one part at ``b``."""
    if b <= a:
        inside = [i for i in range(len(bounds) - 1) if bounds[i] <= b < bounds[i + 1]]
        return [(inside[0] if inside else None, 0.0, 0.0)]
    edges = sorted({a, b, *(x for x in bounds if a < x < b)})
    parts = []
    for left, right in itertools.pairwise(edges):
        day = next((i for i in range(len(bounds) - 1) if bounds[i] <= left < bounds[i + 1]), None)
        parts.append((day, (left - a).total_seconds(), (right - a).total_seconds()))
    return parts


def _shares(change: int, parts: list[tuple[int | None, float, float]]) -> dict[int, int]:
    """docs/dashboard.md's rounding: each part gets floor(change * end / T) minus
    floor(change * start / T), T the interval's length (seconds are exact here)."""
    total = parts[-1][2]
    out: dict[int, int] = {}
    for day, left, right in parts:
        if day is None:
            continue
        if total == 0:
            out[day] = out.get(day, 0) + change
            continue
        share = int(change * int(right) // int(total)) - int(change * int(left) // int(total))
        out[day] = out.get(day, 0) + share
    return out


def _dst_week(demo: Demo) -> list[date] | None:
    """Seven local days around the latest daylight-saving change of the demo's 90 days."""
    zone = ZoneInfo(demo.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    for back in range(4, 85):
        day = today - timedelta(days=back)
        noon = [datetime.combine(day + timedelta(days=i), time(12), tzinfo=zone) for i in (0, 1)]
        if noon[0].utcoffset() != noon[1].utcoffset():
            return [day + timedelta(days=i) for i in range(-3, 4)]
    return None


def test_the_charts_numbers_equal_the_apis(owner: Any, demo: Demo) -> None:
    """Around a daylight-saving change when the demo's 90 days hold one (they do from
    April to February), else the last 7 days."""
    page = owner
    zone = ZoneInfo(demo.timezone)
    week = _dst_week(demo)
    if week is None:
        page.goto(demo.base_url + "/?range=7")
        start, end, dates = _period(demo, 7)
    else:
        query = {"range": "custom", "since": week[0].isoformat(), "until": week[-1].isoformat()}
        page.goto(demo.base_url + "/?" + urlencode(query))

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

        start, end, dates = midnight(week[0]), midnight(week[-1] + timedelta(days=1)), week
        assert (end - start) != timedelta(days=7)  # one day had 23 or 25 hours
    chart = json.loads(page.inner_text("#overview-data"))
    assert chart["days"] == [d.isoformat() for d in dates]

    # The chart is every post's growth in the range (SPEC §9.3): each reading's change
    # spread over the time since the reading before it (a first reading: since the
    # target's published_at), worked out here from the API's rows alone.
    posts = demo.api_json("/v1/posts?limit=200")["data"]
    published_of: dict[str, datetime] = {}
    platform_of: dict[str, str] = {}
    cohort_posts = set()
    for post in posts:
        for target in post["post_targets"]:
            published = _parse(target["published_at"] or post["published_at"])
            published_of[target["id"]] = published
            platform_of[target["id"]] = target["integrations"]["platform"]
            if start <= published < end:
                cohort_posts.add(post["id"])
    assert cohort_posts
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _api_snapshots(demo, 365):
        history[row["post_target_id"]].append(row)
    bounds = [
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        for day in [*dates, dates[-1] + timedelta(days=1)]
    ]
    expected: dict[str, dict[str, list[int | None]]] = {
        m: {p: [None] * len(dates) for p in chart["platforms"]} for m in METRICS
    }
    estimated = [False] * len(dates)
    for target_id, rows in history.items():
        rows.sort(key=lambda r: (r["captured_at"], r["id"]))
        for i, row in enumerate(rows):
            b = _parse(row["captured_at"])
            a = _parse(rows[i - 1]["captured_at"]) if i else published_of[target_id]
            pieces = _apportion(a, b, bounds)
            for metric in METRICS:
                now = row[metric]
                before = rows[i - 1][metric] if i else 0
                if now is None or before is None:
                    continue
                slot = expected[metric][platform_of[target_id]]
                for day, share in _shares(now - before, pieces).items():
                    slot[day] = (slot[day] or 0) + share
                    if len(pieces) > 1:
                        estimated[day] = True
    assert chart["values"] == expected
    assert chart["estimated"] == estimated
    growth = {
        m: sum(v for v in chart["totals"][m] if v is not None)
        if any(v is not None for v in chart["totals"][m])
        else None
        for m in METRICS
    }
    assert chart["range_growth"] == growth

    # The totals cards: the API's per-post totals, summed over the same posts.
    sums: dict[str, int | None] = dict.fromkeys(METRICS)
    for post_id in cohort_posts:
        totals = demo.api_json(f"/v1/analytics/post/{post_id}?days=1")["data"]["totals"]
        for metric in METRICS:
            if totals[metric] is not None:
                sums[metric] = (sums[metric] or 0) + totals[metric]
    assert {metric: _total(page, metric) for metric in METRICS} == sums

    # A post's charts: exactly the API's snapshots for the same days.
    page.goto(demo.base_url + "/posts?sort=impressions")
    page.click("#posts-table tbody tr:first-child th a")
    page.wait_for_url(re.compile(r"/posts/[0-9a-f-]{36}$"))
    post_id = page.url.rsplit("/", 1)[1]
    embedded = json.loads(page.inner_text("#post-data"))
    api = demo.api_json(f"/v1/analytics/post/{post_id}?days=90")["data"]
    for target, charted in zip(api["targets"], embedded["targets"], strict=True):
        oldest_first = list(reversed(target["snapshots"]))
        assert charted["times"] == [s["captured_at"] for s in oldest_first]
        for metric in METRICS:
            assert charted["values"][metric] == [s[metric] for s in oldest_first]
    assert demo.problems == []


def test_export_csv_downloads_the_apis_bytes(owner: Any, demo: Demo) -> None:
    page = owner
    integrations = demo.api_json("/v1/integrations")["data"]
    twitter = next(i for i in integrations if i["platform"] == "twitter")
    start, end, _ = _period(demo, 7)
    for path, view, extra in (
        (f"/?range=7&integration={twitter['id']}", "snapshots", {"integration_id": twitter["id"]}),
        ("/posts?range=7", "latest", {}),
    ):
        page.goto(demo.base_url + path)
        with page.expect_download() as info:
            page.click("a.export")
        downloaded = Path(info.value.path()).read_bytes()
        query = {"since": _z(start), "until": _z(end), "view": view, **extra}
        assert downloaded == demo.api("/v1/analytics/export?" + urlencode(query))
        assert downloaded.count(b"\r\n") > 1
    assert demo.problems == []


def test_a_viewer_cannot_reach_admin_pages_or_forms(owner: Any, browser: Any, demo: Demo) -> None:
    owner.goto(demo.base_url + "/settings")
    owner.fill('form[action="/settings/members"] input[name="email"]', "viewer@demo.example")
    owner.select_option('form[action="/settings/members"] select[name="role"]', "viewer")
    owner.fill('form[action="/settings/members"] input[name="password"]', "viewer-password-1")
    owner.click('form[action="/settings/members"] button[type="submit"]')
    assert "viewer@demo.example is now viewer" in owner.inner_text("main")

    context = browser.new_context(viewport=DESKTOP)
    serve_thumbnails(context)
    page = context.new_page()
    problems: list[str] = []
    _watch(page, problems)
    _log_in(page, demo, "viewer@demo.example", "viewer-password-1")
    assert page.locator('nav a[href="/settings"]').count() == 0
    response = page.goto(demo.base_url + "/settings")
    assert response is not None
    assert response.status == 403
    page.goto(demo.base_url + "/integrations")
    assert page.locator('form[action$="/disconnect"]').count() == 0
    assert page.locator('form[action="/integrations/connect"]').count() == 0
    page.goto(demo.base_url + "/posts")
    page.click("#posts-table tbody tr:first-child th a")
    page.wait_for_url(re.compile(r"/posts/[0-9a-f-]{36}$"))
    assert page.locator('form[action$="/refresh"]').count() == 0

    # The server refuses the forms themselves, not just the buttons.
    token = page.get_attribute('form[action="/logout"] input[name="csrf_token"]', "value")
    refresh = page.url + "/refresh"
    for url, form in (
        (demo.base_url + "/settings/keys", {"name": "sneaky", "csrf_token": token}),
        (refresh, {"csrf_token": token}),
        (demo.base_url + "/integrations/connect", {"platform": "x", "csrf_token": token}),
    ):
        assert page.request.post(url, form=form, max_redirects=0).status == 403
    context.close()
    # The one expected console error is the browser reporting the 403 page itself.
    assert [p for p in problems if "status of 403" not in p] == []
    assert demo.problems == []
