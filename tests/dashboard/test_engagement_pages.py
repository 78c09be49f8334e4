"""The dashboard's engagement figures (SPEC §9.5) equal the API's, each rate with its
denominator named: the reports page (tags, posting times), top posts by engagement, a post."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from tests import builders
from tests.builders import World
from tests.dashboard.conftest import Members, sign_in


def _seed(session: Session, world: World) -> None:
    tenant = world.a
    now = clock.now()
    sky = builders.make_integration(session, tenant.workspace, platform="bluesky")
    for i, (tags, likes) in enumerate([(["launch"], 30), (["launch", "tips"], 8), ([], 0)]):
        published = now - timedelta(days=2, hours=i)
        _, (x_target, sky_target) = builders.make_post(
            session, tenant.workspace, [tenant.integration, sky], published_at=published, tags=tags
        )
        builders.add_snapshot(
            session, x_target, published + timedelta(hours=24), impressions=1000, likes=likes,
            comments=2, shares=0,
        )  # fmt: skip
        builders.add_snapshot(
            session, sky_target, published + timedelta(hours=26), impressions=None, likes=5,
            comments=None, shares=1,
        )  # fmt: skip
    session.commit()


def test_reports_page_shows_the_apis_tag_figures(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    _seed(session, world)
    api = client.get("/v1/analytics/tags", params={"days": 7}, headers=world.a.headers).json()[
        "data"
    ]
    sign_in(client, session, members.a["viewer"])
    page = client.get("/reports", params={"range": "7"})
    assert page.status_code == 200
    html = page.text
    assert api["posts"] == 4  # with the world's own (untagged) post
    for row in api["tags"]:
        match = re.search(rf'<tr data-tag="{row["tag"]}">(.*?)</tr>', html, re.S)
        assert match, row["tag"]
        cells = match.group(1)
        assert f'data-posts="{row["posts"]}"' in cells
        assert f'data-total="{row["total_engagements"]}"' in cells
        assert f'data-median="{row["median_engagements"]}"' in cells
        assert f'data-rate="{row["engagement_rate"]!r}"' in cells
        assert "of views" in cells
    launch = next(r for r in api["tags"] if r["tag"] == "launch")
    # launch: posts 1 (30+2 on X, 5+1 on Bluesky = 38) and 2 (8+2 + 6 = 16)
    assert (launch["posts"], launch["total_engagements"], launch["median_engagements"]) == (
        2, 54, 27.0
    )  # fmt: skip
    assert launch["engagement_rate"] == round(42 / 2000, 6)  # X's 32 + 10 over 2000 views
    assert '<tr data-tag="">' in html  # the untagged post
    # posting times: three posts, each in its own hour: too few everywhere, sample sizes shown
    times = client.get(
        "/v1/analytics/posting-times", params={"days": 7}, headers=world.a.headers
    ).json()["data"]
    assert times["posts_measured"] == 3
    assert all(c["too_few"] and c["posts"] == 1 for c in times["cells"])
    assert html.count("too few posts") >= 1
    assert "n = 1" in html


def test_top_posts_by_engagement_rate_and_a_post_page(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    _seed(session, world)
    sign_in(client, session, members.a["viewer"])
    page = client.get("/", params={"range": "7", "top": "engagement_rate"})
    assert page.status_code == 200
    assert "Top 4 posts by engagement rate (of views)" in page.text
    rates = [float(r) for r in re.findall(r'data-rate="([0-9.e-]+)">[^<]* of views', page.text)]
    assert rates == sorted(rates, reverse=True)
    assert len(rates) == 4  # the world's own post and the three here
    assert rates[0] == round(13 / 150, 6)  # 12 likes + 1 comment
    assert "followers not known" in page.text  # the posts seeded here: no account snapshot
    assert client.get("/", params={"top": "nope"}).status_code == 400
    by_count = client.get("/", params={"range": "7", "top": "engagements"}).text
    counts = [
        int(c)
        for c in re.findall(r'<td data-label="Engagements" data-engagements="(\d+)"', by_count)
    ]
    assert counts == sorted(counts, reverse=True)

    post_id = world.a.post.id
    api = client.get(f"/v1/analytics/post/{post_id}", headers=world.a.headers).json()["data"]
    html = client.get(f"/posts/{post_id}").text
    totals = api["totals"]
    assert f'data-engagements="{totals["engagements"]}"' in html
    rate = totals["engagement_rate"]
    assert rate == round(13 / 150, 6)
    assert f'data-rate="{rate!r}">8.67% of views' in html
    # the world's account was read before the post's reading: 500 followers (builders)
    by_followers = totals["engagement_rate_by_followers"]
    assert by_followers == round(13 / 500, 6)
    assert f'data-rate="{by_followers!r}">2.60% of followers' in html
