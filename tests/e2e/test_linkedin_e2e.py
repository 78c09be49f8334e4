"""LinkedIn end to end over HTTP: the fake runs as a real server on loopback (``LiveServer``,
the app of ``python -m openpost.platforms.linkedin.fake``) and the service's clients reach it
with their own httpx clients, built by the registry from settings that point the API, the
consent page and the token endpoint (a different host at LinkedIn) at it.

The story: an admin presses "Connect LinkedIn" on the dashboard; the browser goes to the
fake's consent page (which lists its test members; the admin's link approves as Ada, a page
administrator) and back to the callback, which exchanges the code at the token endpoint and
names the page through organizationAcls. The integration is the page (username: its URN).
A sweep (``refresh.runner.sweep``, what ``openpost refresh --once --now`` runs) discovers its
posts through the Posts API and reads them in one share-statistics call; counters change and
a post is deleted; the next due sweep reads the new values and marks the deleted one; a
throttled day (429 APPLICATION DAY) pauses the platform until 00:00 UTC; the status says
when the consent ends once it is near; Ada revokes the app, and the integration becomes
``needs_refresh``.

Runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.linkedin.fake import FakeLinkedIn, FakeMember, FakeOrganization
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from tests.builders import World
from tests.dashboard.conftest import Members, members, page_csrf, password_hash, sign_in
from tests.refresh.conftest import Clock

__all__ = ["members", "password_hash"]  # the dashboard's fixtures, used here

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
CLIENT_ID, SECRET = "openpost-linkedin", "openpost-linkedin-secret"
POSTS = 5


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake(now: Clock) -> FakeLinkedIn:
    fake = FakeLinkedIn()
    fake.add_oauth_client(CLIENT_ID, SECRET, BASE + "/integrations/linkedin/callback")
    return fake


@pytest.fixture
def people(fake: FakeLinkedIn) -> tuple[FakeMember, FakeOrganization]:
    ada = fake.add_member("Ada", "Admin")
    fake.add_member("Mo", "Member")
    org = fake.add_organization("Acme Analytics", admin=ada, followers=640)
    for n in range(POSTS):
        fake.add_post(
            org,
            kind="share" if n % 2 else "ugcPost",
            published_at=NOW - timedelta(hours=n + 1),
            impressions=1000 + n,
            likes=10 + n,
            comments=n,
            shares=1,
        )
    return ada, org


@pytest.fixture
def server(fake: FakeLinkedIn) -> Iterator[str]:
    with LiveServer(fake.app) as live:
        yield live.url


@pytest.fixture
def live_settings(settings: Settings, server: str) -> Settings:
    return settings.model_copy(
        update={
            "linkedin_api_base_url": server,
            "linkedin_oauth_authorize_url": server + "/oauth/v2/authorization",
            "linkedin_oauth_token_url": server + "/oauth/v2/accessToken",
            "linkedin_client_id": CLIENT_ID,
            "linkedin_client_secret": SECRET,
            "public_base_url": BASE,
        }
    )


@pytest.fixture
def browser(live_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(live_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def rt(live_settings: Settings, engine: Engine) -> Iterator[Runtime]:
    made = Runtime.from_settings(live_settings, factory=make_sessionmaker(engine))
    yield made
    made.close()


def _connect(browser: TestClient, server: str, who: str = "Ada Admin") -> str:
    """Press Connect LinkedIn, pick ``who`` on the fake's consent page, follow it back."""
    pressed = browser.post(
        "/integrations/linkedin/connect",
        data={"csrf_token": page_csrf(browser, "/integrations")},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    consent_url = pressed.headers["location"]
    query = parse_qs(urlsplit(consent_url).query)
    assert consent_url.startswith(server + "/oauth/v2/authorization?")
    assert query["scope"] == [
        "r_organization_social rw_organization_admin r_member_postAnalytics r_basicprofile"
    ]
    assert "code_challenge" not in query  # no PKCE in LinkedIn's web flow
    with httpx.Client() as linkedin_browser:  # over the socket, as a browser would
        page = linkedin_browser.get(consent_url)
        assert page.status_code == 200
        assert "Allow as Ada Admin" in page.text
        assert "Allow as Mo Member" in page.text
        item = page.text.split(f">Allow as {who}<", 1)[0]
        link = item.rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        back = linkedin_browser.get(server + link)
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(BASE + "/integrations/linkedin/callback?")
    done = browser.get(location.removeprefix(BASE), follow_redirects=False)
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def _snapshots(session: Session, urn: str) -> list[Snapshot]:
    session.expire_all()
    target = session.scalars(select(PostTarget).where(PostTarget.platform_post_id == urn)).one()
    return list(
        session.scalars(
            select(Snapshot)
            .where(Snapshot.post_target_id == target.id)
            .order_by(Snapshot.captured_at)
        )
    )


def test_linkedin_end_to_end(
    browser: TestClient,
    rt: Runtime,
    session: Session,
    world: World,
    members: Members,
    fake: FakeLinkedIn,
    people: tuple[FakeMember, FakeOrganization],
    server: str,
    now: Clock,
) -> None:
    ada, org = people
    sign_in(browser, session, members.a["admin"])

    # 1. Consent through the dashboard's button: the page is connected, tokens sealed.
    assert _connect(browser, server) == "/integrations?notice=linkedin-connected"
    session.expire_all()
    (integration,) = session.scalars(
        select(Integration).where(Integration.platform == "linkedin")
    ).all()
    assert (integration.username, integration.display_name) == (org.urn, "Acme Analytics")
    assert integration.credentials_encrypted is not None
    assert [r.endpoint for r in fake.calls("access_token")] == ["access_token"]

    # 2. A sweep discovers the page's posts and reads them in one share-statistics call.
    first = runner.sweep(rt, NOW)
    assert first.discovered == POSTS
    stats = fake.calls("share_statistics")
    assert len(stats) == 1
    assert all(r.version == "202604" for r in fake.calls() if r.path.startswith("/rest/"))
    urns = sorted(p.urn for p in fake.posts.values())
    assert [s.likes for s in _snapshots(session, urns[0])] == [
        fake.posts[urns[0]].stats["likeCount"]
    ]

    # 3. Counters change, one post is deleted: the next due sweep reads both.
    fake.set_counts(urns[0], impressions=5000, likes=77, comments=8, shares=3)
    fake.delete_post(urns[1])
    now.at = NOW + timedelta(minutes=31)
    runner.sweep(rt, now.at)
    latest = _snapshots(session, urns[0])[-1]
    assert (latest.impressions, latest.likes, latest.comments, latest.shares) == (5000, 77, 8, 3)
    session.expire_all()
    gone = session.scalars(select(PostTarget).where(PostTarget.platform_post_id == urns[1])).one()
    assert gone.status == "deleted"
    status = browser.get("/integrations")
    assert status.status_code == 200
    assert "consent ends on" not in status.text  # 365 days away

    # 4. LinkedIn's daily app limit: a 429 pauses the platform until 00:00 UTC.
    fake.set_daily_limit("share_statistics", app=0)
    now.at = NOW + timedelta(hours=2)
    runner.sweep(rt, now.at)
    session.expire_all()
    row = session.get(PlatformState, "linkedin")
    assert row is not None
    assert row.paused_until is not None
    assert row.paused_until.replace(tzinfo=UTC) == datetime(2026, 4, 17, tzinfo=UTC)
    fake.set_daily_limit("share_statistics")

    # 5. Near the consent's fixed end the status and the dashboard say so.
    # The 60-day access token has expired by then: the sweep renews it with the refresh
    # token, and the consent's end stays where the first consent put it.
    now.at = NOW + timedelta(days=340)
    renewed = runner.sweep(rt, now.at)
    assert [r.params["grant_type"] for r in fake.calls("access_token")] == [
        "authorization_code",
        "refresh_token",
    ]
    assert renewed.requests >= 1
    sign_in(browser, session, members.a["admin"])  # the first login has long expired
    page = browser.get("/integrations")
    assert "consent ends on 2027-04-16" in page.text
    api_status = browser.get("/v1/analytics/status", headers=world.a.headers)
    assert api_status.status_code == 200, api_status.text
    (item,) = [i for i in api_status.json()["data"]["integrations"] if i["platform"] == "linkedin"]
    assert (item["consent_ends_at"], item["consent_ending"]) == ("2027-04-16T10:00:00Z", True)

    # 6. Ada revokes the app: the next read is refused, the refresh too: needs_refresh.
    fake.revoke(ada)
    now.at = NOW + timedelta(days=340, hours=1)
    runner.sweep(rt, now.at)
    session.expire_all()
    assert session.get(Integration, integration.id).status == "needs_refresh"  # type: ignore[union-attr]


def test_a_members_own_posts_are_read_one_metric_per_call_within_the_members_day(
    browser: TestClient,
    live_settings: Settings,
    engine: Engine,
    session: Session,
    world: World,
    members: Members,
    fake: FakeLinkedIn,
    people: tuple[FakeMember, FakeOrganization],
    server: str,
    now: Clock,
) -> None:
    mo = next(m for m in fake.members.values() if m.first_name == "Mo")
    mine = [
        fake.add_post(mo, published_at=NOW - timedelta(hours=n + 2), impressions=300 + n, likes=n)
        for n in range(3)
    ]
    sign_in(browser, session, members.a["admin"])
    assert _connect(browser, server, "Mo Member") == "/integrations?notice=linkedin-connected"
    session.expire_all()
    (integration,) = session.scalars(
        select(Integration).where(Integration.platform == "linkedin")
    ).all()
    assert (integration.username, integration.display_name) == (mo.urn, "Mo Member")
    for post in mine:  # a member's posts cannot be listed: registered by URL
        made = browser.post(
            "/v1/posts",
            headers=world.a.headers,
            json={
                "content": "mine",
                "targets": [
                    {
                        "integration_id": str(integration.id),
                        "post_url": f"https://www.linkedin.com/feed/update/{post.urn}/",
                    }
                ],
            },
        )
        assert made.status_code == 201, made.text
    # The member may make 8 metric calls a day: two posts of four metrics, not three.
    tight = live_settings.model_copy(update={"linkedin_daily_member_calls": 8})
    rt = Runtime.from_settings(tight, factory=make_sessionmaker(engine))
    try:
        summary = runner.sweep(rt, NOW)
    finally:
        rt.close()
    calls = fake.calls("member_analytics")
    assert len(calls) == 8
    assert {r.params["queryType"] for r in calls} == {
        "IMPRESSION",
        "REACTION",
        "COMMENT",
        "RESHARE",
    }
    assert fake.calls("posts") == []  # no discovery call for a member
    assert summary.over_budget == {"linkedin": 1}
    read = [p for p in mine if _snapshots(session, p.urn)]
    assert len(read) == 2
    assert _snapshots(session, read[0].urn)[0].impressions == read[0].member_counts["IMPRESSION"]
