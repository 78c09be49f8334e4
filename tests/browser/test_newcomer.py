"""What a newcomer sees at first sight (issue 10), at desktop (1280) and phone (390) width.

Each test measures the rendered page: words are checked with DOM ranges (a word broken
across lines has client rects on two lines), tables by where their cells are drawn, chart
axes by the labels the chart drew (recorded on the chart's element by dashboard.js).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from openpost.platforms.specs import spec_for
from tests.browser.conftest import SCREENSHOTS, Demo, serve_thumbnails
from tests.browser.newcomers import ADMIN_EMAIL, BIG_EMAIL, NEW_EMAIL, PASSWORD

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}

# Every word (letters, digits and the joiners of e-mails and handles) whose characters are
# drawn on more than one line: a word broken inside itself.
BROKEN_WORDS = """
() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const word = /[A-Za-z0-9@._'\u2019]{2,}/g;
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, .visually-hidden, thead, .skip")) continue;
    const text = node.textContent;
    let match;
    while ((match = word.exec(text))) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set();
      for (const rect of range.getClientRects()) {
        if (rect.width > 0 && rect.height > 0) tops.add(Math.round(rect.top));
      }
      if (tops.size < 2) continue;
      // A single token wider than its whole box may break (rather than overflow); any
      // word that would have fit on a line of its box must not.
      let width = 0;
      for (const rect of range.getClientRects()) width += rect.width;
      let box = parent;
      while (box && getComputedStyle(box).display.startsWith("inline")) box = box.parentElement;
      if (box && width < box.clientWidth) broken.push(match[0]);
    }
  }
  return broken;
}
"""

# Boxes that scroll sideways (content wider than the box): a hidden column.
SIDE_SCROLLERS = """
() => [...document.querySelectorAll("main *")].filter((el) => {
  const style = getComputedStyle(el);
  const scrolls = ["auto", "scroll"].includes(style.overflowX);
  return scrolls && el.scrollWidth > el.clientWidth + 1 && el.offsetParent !== null;
}).map((el) => el.className || el.tagName)
"""


def _watch(page: Any, problems: list[str]) -> None:
    def on_console(message: Any) -> None:
        if message.type == "error" and "status of 503" not in message.text:
            problems.append(f"console: {message.text} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error} ({page.url})"))


def _context(browser: Any, demo: Demo, viewport: dict[str, int], email: str, password: str) -> Any:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    serve_thumbnails(context)  # thumbnails come from the platform's host
    page = context.new_page()
    _watch(page, demo.problems)
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")
    return context


@pytest.fixture(scope="module", params=list(WIDTHS), ids=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def demo_page(browser: Any, demo: Demo, width: str) -> Iterator[Any]:
    context = _context(browser, demo, WIDTHS[width], demo.email, demo.password)
    yield context.pages[0]
    context.close()


@pytest.fixture(scope="module")
def big_page(browser: Any, demo: Demo, width: str) -> Iterator[Any]:
    context = _context(browser, demo, WIDTHS[width], BIG_EMAIL, PASSWORD)
    yield context.pages[0]
    context.close()


@pytest.fixture(scope="module")
def new_page(browser: Any, demo: Demo, width: str) -> Iterator[Any]:
    context = _context(browser, demo, WIDTHS[width], NEW_EMAIL, PASSWORD)
    yield context.pages[0]
    context.close()


def _first_post_path(page: Any, demo: Demo, query: str = "?sort=impressions") -> str:
    page.goto(demo.base_url + "/posts" + query)
    return str(page.get_attribute("#posts-table tbody tr:first-child a.post-preview", "href"))


def _pages(page: Any, demo: Demo) -> list[str]:
    post = _first_post_path(page, demo)
    return ["/", "/?range=7", "/posts", post, "/integrations", "/settings", "/help/platforms"]


def test_no_word_is_broken_and_nothing_scrolls_sideways(
    demo_page: Any, new_page: Any, big_page: Any, demo: Demo, width: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for who, page in (("demo", demo_page), ("new", new_page), ("big", big_page)):
        for path in _pages(page, demo) if who != "new" else ["/", "/integrations", "/settings"]:
            page.goto(demo.base_url + path)
            if page.locator("#overview-tables").count():
                page.click("#overview-tables summary")  # the day tables too
            assert page.evaluate(BROKEN_WORDS) == [], f"{who} {path} at {width}"
            assert page.evaluate(SIDE_SCROLLERS) == [], f"{who} {path} at {width}"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{who} {path} scrolls sideways at {width}"
            shown = re.sub(r"/posts/[0-9a-f-]{36}", "/post", path)
            name = re.sub(r"[^a-z0-9]+", "-", f"{who}{shown}".lower()).strip("-")
            page.screenshot(path=SCREENSHOTS / f"newcomer-{name}-{width}.png", full_page=True)
    assert demo.problems == []


def test_words_wrap_between_words_by_style(demo_page: Any, demo: Demo, width: str) -> None:
    """No rule lets a word break anywhere: word-break stays normal and overflow-wrap at
    most breaks a single token wider than its whole box."""
    demo_page.goto(demo.base_url + "/posts")
    styles = demo_page.evaluate(
        """() => [...document.querySelectorAll("main, main *")].map((el) => {
          const s = getComputedStyle(el);
          return [s.wordBreak, s.overflowWrap];
        })"""
    )
    assert {word_break for word_break, _ in styles} <= {"normal"}
    assert {wrap for _, wrap in styles} <= {"normal", "break-word"}


def test_phone_tables_show_every_metric_as_labelled_cards(
    demo_page: Any, big_page: Any, demo: Demo, width: str
) -> None:
    page = demo_page
    for path in ("/posts", _first_post_path(page, demo), "/"):
        page.goto(demo.base_url + path)
        cells = page.evaluate(
            """() => [...document.querySelectorAll("table.stackable td[data-metric]")]
              .filter((td) => td.closest("[hidden]") === null).map((td) => {
                const r = td.getBoundingClientRect();
                const label = getComputedStyle(td, "::before").content;
                return {left: r.left, right: r.right, width: r.width, label,
                        metric: td.dataset.metric, text: td.innerText};
              })"""
        )
        assert cells, path
        for cell in cells:
            assert cell["width"] > 0, (path, cell)
            assert cell["left"] >= 0, (path, cell)
            assert cell["right"] <= WIDTHS[width]["width"], (path, cell)
            if width == "phone":  # each value carries its column's name
                assert cell["label"].strip('"') == cell["metric"].capitalize(), (path, cell)
        if width == "phone":
            assert (
                page.evaluate(
                    "getComputedStyle(document.querySelector('table.stackable thead')).position"
                )
                == "absolute"
            )  # headers are kept for screen readers, the cards label themselves
    assert demo.problems == []


def _labels(page: Any, selector: str, attribute: str) -> list[list[str]]:
    return [
        str(value).split("|")
        for value in page.eval_on_selector_all(
            selector, f"(els) => els.map((el) => el.getAttribute('{attribute}'))"
        )
        if value
    ]


def test_axes_use_compact_labels_and_days_are_dates(big_page: Any, demo: Demo, width: str) -> None:
    page = big_page
    page.goto(demo.base_url + "/?range=7")
    page.wait_for_selector("#overview-chart canvas")
    y_axes = _labels(page, "#overview-chart .chart", "data-y-labels")
    assert y_axes
    flat = [label for axis in y_axes for label in axis]
    assert all(re.fullmatch(r"-?\d+(\.\d)?[kMB]?", label) for label in flat), flat
    assert any(label.endswith("M") for label in flat), flat  # YouTube passes a million
    assert max(len(label) for label in flat) <= 4
    x_axes = _labels(page, "#overview-chart .chart", "data-x-labels")
    for axis in x_axes:
        assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", label) for label in axis), axis
        assert not any("am" in label or "pm" in label for label in axis)
    if width == "desktop":
        assert max(len(axis) for axis in x_axes) == 7  # one label per day of the week
    # The labels fit their axis: drawn with the chart's font, none is wider than the room
    # uPlot gave the axis (the canvas left of the plot area).
    widest, room = page.evaluate(
        """() => {
          const fig = document.querySelector("#overview-chart .chart[data-y-labels]");
          const ctx = document.createElement("canvas").getContext("2d");
          ctx.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
          const widest = Math.max(...fig.dataset.yLabels.split("|")
            .map((l) => ctx.measureText(l).width));
          const over = fig.querySelector(".u-over").getBoundingClientRect();
          const box = fig.querySelector(".u-wrap").getBoundingClientRect();
          return [widest, over.left - box.left];
        }"""
    )
    assert widest + 6 <= room

    page.goto(demo.base_url + f"/posts/{demo.extra['video_post']}")
    page.wait_for_selector('.chart[data-chart="cumulative"] canvas')
    post_axes = _labels(page, ".chart[data-chart]", "data-y2-labels")
    assert any(label.endswith("M") for axis in post_axes for label in axis), post_axes
    assert demo.problems == []


def test_one_chart_per_platform_or_all_together(big_page: Any, demo: Demo) -> None:
    page = big_page
    page.goto(demo.base_url + "/")
    chart = page.locator("#overview-chart")
    chart.locator("canvas").first.wait_for()
    assert chart.get_attribute("data-layout") == "split"
    platforms = chart.locator(".chart[data-platform]")
    assert sorted(platforms.evaluate_all("(els) => els.map((e) => e.dataset.platform)")) == [
        "youtube"
    ]  # impressions: Bluesky reports none, and says so instead of drawing a flat line
    assert "Bluesky does not report impressions" in chart.inner_text()
    page.click('[data-chart-metric="likes"]')
    assert chart.locator(".chart[data-platform]").count() == 2  # each on its own scale
    page.click('[data-chart-layout="together"]')
    assert chart.get_attribute("data-layout") == "together"
    assert chart.locator("canvas").count() == 1
    assert page.get_attribute('[data-chart-layout="together"]', "aria-pressed") == "true"
    assert demo.problems == []


def test_a_platform_without_impressions_opens_on_a_metric_it_reports(
    demo_page: Any, demo: Demo
) -> None:
    page = demo_page
    page.goto(demo.base_url + "/?platform=bluesky")
    page.locator("#overview-chart canvas").first.wait_for()
    assert page.get_attribute("#overview-chart", "data-metric") == "likes"
    assert page.get_attribute('[data-chart-metric="likes"]', "aria-pressed") == "true"
    assert page.locator('[data-chart-metric="impressions"][data-unreported]').count() == 1
    assert "by likes" in page.inner_text("#top-posts caption")
    ranked = page.locator('#top-posts td[data-metric="likes"] .num').all_inner_texts()
    assert ranked
    assert "—" not in ranked
    assert page.locator('#top-h ~ .tabs a:has-text("impressions")').count() == 0
    assert demo.problems == []


def test_a_new_live_workspace_says_how_to_connect(new_page: Any, demo: Demo, width: str) -> None:
    page = new_page
    page.goto(demo.base_url + "/")
    assert page.is_visible("#no-accounts")
    assert page.locator("canvas").count() == 0
    assert "—" not in page.inner_text("main")
    page.click("#no-accounts a.button")
    page.wait_for_url(re.compile(r"/integrations"))
    options = page.eval_on_selector_all(
        'form[action="/integrations/connect"] select[name="platform"] option',
        "(els) => els.map((e) => [e.value, e.textContent])",
    )
    # Only what this server can read by handle (no X bearer token, no YouTube key here).
    assert options == [["bluesky", "Bluesky"], ["mastodon", "Mastodon"]]
    listed = page.locator("#platforms-unavailable li")
    assert listed.count() == 8
    x_row = page.inner_text('#platforms-unavailable li[data-platform="twitter"]')
    assert "needs the operator's app credentials" in x_row
    assert "OPENPOST_X_BEARER_TOKEN" in x_row
    threads = page.inner_text('#platforms-unavailable li[data-platform="threads"]')
    assert "owner's consent" in threads
    # "Not available" is a warning, not a success.
    notice = page.locator("#x-consent-unavailable")
    success = page.evaluate(
        "(() => { const p = document.createElement('p'); p.className = 'notice';"
        " document.body.append(p); const c = getComputedStyle(p).backgroundColor;"
        " p.remove(); return c; })()"
    )
    assert notice.evaluate("(el) => getComputedStyle(el).backgroundColor") != success
    page.click('#platforms-unavailable a[href="/help/platforms"]')
    page.wait_for_url(re.compile(r"/help/platforms"))
    assert page.locator("#platform-setup tbody tr").count() == 10
    assert "ready" in page.inner_text('#platform-setup tr[data-platform="bluesky"]')
    assert demo.problems == []


def test_a_failed_connect_is_shown_where_the_eye_is(new_page: Any, demo: Demo) -> None:
    page = new_page
    page.goto(demo.base_url + "/integrations")
    page.select_option('form[action="/integrations/connect"] select[name="platform"]', "bluesky")
    page.fill('form[action="/integrations/connect"] input[name="username"]', "someone.bsky.social")
    page.click('form[action="/integrations/connect"] button[type="submit"]')
    page.wait_for_selector("#connect-error")
    message = page.inner_text("#connect-error")
    assert "Bluesky cannot look up accounts right now" in message
    box = page.evaluate(
        "(() => { const r = document.getElementById('connect-error').getBoundingClientRect();"
        " return [r.top, r.bottom, window.innerHeight]; })()"
    )
    assert box[0] >= 0, box  # visible without scrolling
    assert box[1] <= box[2], box
    value = page.input_value('form[action="/integrations/connect"] input[name="username"]')
    assert value == "someone.bsky.social"
    assert demo.problems == []


def test_the_last_owner_is_not_offered_demotion_or_removal(
    new_page: Any, browser: Any, demo: Demo
) -> None:
    page = new_page
    page.goto(demo.base_url + "/settings")
    rows = page.locator("#members-table tbody tr")
    own = rows.filter(has_text=NEW_EMAIL)
    assert own.locator("select").count() == 0
    assert own.locator('form[action$="/remove"]').count() == 0
    assert "The only owner" in own.inner_text()
    other = rows.filter(has_text=ADMIN_EMAIL)
    assert other.locator('form[action$="/remove"]').count() == 1
    # Forced anyway, the server refuses with the reason (the rule in workspaces.service).
    member_id = own.get_attribute("data-member-id")
    token = page.get_attribute('form[action="/logout"] input[name="csrf_token"]', "value")
    response = page.request.post(
        f"{demo.base_url}/settings/members/{member_id}/remove",
        form={"csrf_token": str(token)},
        max_redirects=0,
    )
    assert response.status == 400
    assert "the last owner cannot be removed" in response.text()
    assert demo.problems == []


def test_a_change_that_cannot_be_computed_is_not_a_dash(demo_page: Any, demo: Demo) -> None:
    page = demo_page
    for path in ("/", "/posts", _first_post_path(page, demo, "?platform=bluesky")):
        page.goto(demo.base_url + path)
        dashes = page.evaluate(
            """() => [...document.querySelectorAll("main *")]
              .filter((el) => el.children.length === 0 && el.textContent.trim() === "\u2014")
              .map((el) => el.getAttribute("title"))"""
        )
        # Every "—" on the page is a value the platform does not report.
        assert set(dashes) <= {"not reported by the platform"}, (path, dashes)
        assert page.locator(".delta:has-text('\u2014')").count() == 0
    # The oldest reading shown has no change to show: it says so in words.
    first = page.locator("table.readings tbody tr:last-child .delta.new").first
    assert first.inner_text() == "first shown"
    assert demo.problems == []


def test_a_post_with_one_reading_says_first_reading(big_page: Any, demo: Demo) -> None:
    page = big_page
    page.goto(demo.base_url + "/posts?q=Short+note+1")
    likes = page.locator('#posts-table td[data-metric="likes"]')
    assert likes.count() == 1
    assert likes.locator(".num").inner_text() == "121"
    assert likes.locator(".delta.new").inner_text() == "first reading"  # not "+121"
    page.goto(demo.base_url + "/posts?q=Launch+video+1")
    views = page.locator('#posts-table td[data-metric="impressions"] .delta')
    assert views.inner_text().startswith("+")  # two readings: a real change
    assert demo.problems == []


def test_platforms_read_as_labels_with_badges(big_page: Any, demo: Demo) -> None:
    page = big_page
    page.goto(demo.base_url + f"/posts/{demo.extra['video_post']}")
    links = page.locator("a").all_inner_texts()
    assert "Open on YouTube" in links
    assert not [text for text in links if text.startswith("Open on") and text.islower()]
    fill = page.get_attribute('.badge.platform[data-platform="youtube"] svg rect', "fill")
    assert fill == spec_for("youtube").colour
    page.goto(demo.base_url + "/posts")
    assert "twitter" not in page.inner_text("main").lower().split()
    assert demo.problems == []


def test_post_previews_show_text_and_thumbnail(big_page: Any, demo: Demo) -> None:
    page = big_page
    page.goto(demo.base_url + "/posts")
    row = page.locator("#posts-table tbody tr", has_text="Launch video 1")
    thumb = row.locator("img.thumb")
    assert thumb.get_attribute("src") == (
        f"https://i.ytimg.com/vi/{demo.extra['video_id']}/mqdefault.jpg"
    )
    assert thumb.evaluate("(img) => img.complete && img.naturalWidth > 0")
    assert row.locator(".post-text").inner_text().startswith("Launch video 1")
    text_only = page.locator("#posts-table tbody tr", has_text="Short note 1")
    assert text_only.locator("img").count() == 0
    page.goto(demo.base_url + f"/posts/{demo.extra['video_post']}")
    assert page.locator(".post-head img.thumb.large").is_visible()
    assert demo.problems == []


def test_a_thumbnail_that_does_not_load_leaves_the_text(
    browser: Any, demo: Demo, width: str
) -> None:
    context = browser.new_context(viewport=WIDTHS[width])
    context.route("https://i.ytimg.com/**", lambda route: route.fulfill(status=404, body=b""))
    page = context.new_page()
    page.goto(demo.base_url + "/login")
    page.fill('input[name="email"]', BIG_EMAIL)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(demo.base_url + "/")
    page.goto(demo.base_url + "/posts")
    row = page.locator("#posts-table tbody tr", has_text="Launch video 1")
    row.locator("img.thumb").wait_for(state="hidden")
    assert row.locator(".post-text").is_visible()
    context.close()


def test_export_honours_the_platform_filter_and_the_search(
    demo_page: Any, demo: Demo, width: str
) -> None:
    if width != "desktop":
        pytest.skip("one width is enough for a download's bytes")
    page = demo_page
    page.goto(demo.base_url + "/posts?range=7&platform=bluesky&q=the")
    assert "only Bluesky accounts" in page.inner_text("[data-export-note]")
    with page.expect_download() as info:
        page.click("a.export")
    downloaded = Path(info.value.path()).read_bytes()
    href = str(page.get_attribute("a.export", "href"))
    assert "platform=bluesky" in href
    assert "q=the" in href
    rows = downloaded.decode().splitlines()[1:]
    assert rows
    assert all(",bluesky," in row for row in rows)
    chart = page.evaluate("document.querySelector('.period time').getAttribute('datetime')")
    assert chart  # the page's period is the export's since/until
    from tests.browser.test_dashboard import _period, _z

    start, end, _ = _period(demo, 7)
    query = {"since": _z(start), "until": _z(end), "view": "latest", "platform": "bluesky",
             "search": "the"}  # fmt: skip
    assert downloaded == demo.api("/v1/analytics/export?" + urlencode(query))
    assert demo.problems == []


def test_api_docs_load_with_no_outside_host(browser: Any, demo: Demo, width: str) -> None:
    context = browser.new_context(viewport=WIDTHS[width])
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.goto(demo.base_url + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".opblock-summary-path", has_text="/v1/analytics/export").count() >= 1
    page.screenshot(path=SCREENSHOTS / f"api-docs-{width}.png", full_page=False)
    context.close()
    assert outside == []
