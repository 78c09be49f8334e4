"""End to end for Instagram (Instagram Login): the fake runs as a real HTTP server on
loopback (``LiveServer``, the app of ``python -m openpost.platforms.instagram.fake``), the
service is the app built from settings that point Instagram's hosts at it, and collection
runs through ``refresh.runner.sweep`` (``openpost refresh --once``) with the clients the
registry builds from settings: real httpx over real sockets.

The story: an admin presses "Connect Instagram with the owner's consent" on the dashboard;
the browser goes to the fake's consent page and back; the account is connected with a
sealed 60-day token. A sweep discovers six posts and reads their insights (the newest is
too young: its views are unknown, its likes come from the counters). Counters change and a
post is deleted; the next due sweep reads the new values and marks the deleted post. The
account's business-use-case window is then spent (80002): the read is ``rate_limited`` and
the account waits. Finally the token expires at Instagram: the read is refused (190/463),
the integration becomes ``needs_refresh`` and nothing more is sent.

It runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.instagram.fake import FakeAccount, FakeInstagram, FakeMedia
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from tests.builders import World
from tests.dashboard import conftest as dashboard_fixtures
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock

members = dashboard_fixtures.members  # the dashboard's member fixtures, to sign in
password_hash = dashboard_fixtures.password_hash

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
APP_ID, APP_SECRET = "1234567890", "meta-app-secret-value"
POSTS = 6


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake(now: Clock) -> FakeInstagram:
    fake = FakeInstagram()  # reads ``clock.now``: the test's clock
    fake.add_oauth_client(
        APP_ID,
        APP_SECRET,
        BASE + "/integrations/instagram/callback",
        BASE + "/integrations/instagram-facebook/callback",
    )
    return fake


@pytest.fixture
def owner(fake: FakeInstagram) -> FakeAccount:
    account = fake.add_account("openpost_ig", name="OpenPost IG", followers=300)
    fake.set_consent("approve", account)
    return account


@pytest.fixture
def media(fake: FakeInstagram, owner: FakeAccount) -> list[FakeMedia]:
    fake.insights_lag = timedelta(minutes=90)  # the newest post (1 h old) has no insights yet
    return [
        fake.add_media(
            owner,
            created_at=NOW - timedelta(hours=n + 1),
            likes=10 + n,
            comments=n,
            views=100 * (n + 1),
            shares=n % 2,
        )
        for n in range(POSTS)
    ]


@pytest.fixture
def live_settings(settings: Settings, fake: FakeInstagram) -> Iterator[Settings]:
    with LiveServer(fake.app) as server:
        yield settings.model_copy(
            update={
                "public_base_url": BASE,
                "meta_app_id": APP_ID,
                "meta_app_secret": APP_SECRET,
                "instagram_oauth_authorize_url": f"{server.url}/oauth/authorize",
                "instagram_token_base_url": server.url,
                "instagram_login_api_base_url": server.url,
                "instagram_api_base_url": server.url,
                "facebook_oauth_authorize_url": f"{server.url}/v25.0/dialog/oauth",
            }
        )


@pytest.fixture
def dashboard(
    live_settings: Settings, engine: Engine, session: Session, members: Members
) -> Iterator[TestClient]:
    app = create_app(live_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client, session, members.a["admin"])
        yield client
    app.state.engine.dispose()


@pytest.fixture
def rt(live_settings: Settings, engine: Engine) -> Iterator[Runtime]:
    made = Runtime.from_settings(live_settings, factory=make_sessionmaker(engine))
    yield made
    made.close()


def connect(dashboard: TestClient, slug: str = "instagram") -> str:
    """The dashboard's connect button, the fake's consent page over HTTP, the callback."""
    pressed = dashboard.post(
        f"/integrations/{slug}/connect",
        data={"csrf_token": page_csrf(dashboard, "/integrations")},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    with httpx.Client() as browser:  # a real request to the fake's consent page
        consented = browser.get(pressed.headers["location"])
    assert consented.status_code == 302, consented.text
    back = urlsplit(consented.headers["location"])  # ".../callback?code=…&state=…#_"
    assert f"{back.scheme}://{back.netloc}" == BASE
    done = dashboard.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def target(api: TestClient, world: World, session: Session, code: str) -> dict[str, Any]:
    session.expire_all()
    post_id = session.scalar(select(PostTarget.post_id).where(PostTarget.platform_post_id == code))
    assert post_id is not None, f"{code} was not discovered"
    response = api.get(f"/v1/analytics/post/{post_id}", headers=world.a.headers)
    assert response.status_code == 200, response.text
    [found] = response.json()["data"]["targets"]
    return dict(found)


def counters(found: dict[str, Any]) -> tuple[Any, ...]:
    return (found["impressions"], found["likes"], found["comments"], found["shares"])


def instagram(session: Session, world: World) -> Integration:
    session.expire_all()
    return session.scalars(
        select(Integration).where(
            Integration.workspace_id == world.a.workspace.id, Integration.platform == "instagram"
        )
    ).one()


def test_instagram_end_to_end(
    dashboard: TestClient,
    rt: Runtime,
    session: Session,
    world: World,
    fake: FakeInstagram,
    owner: FakeAccount,
    media: list[FakeMedia],
    live_settings: Settings,
    now: Clock,
) -> None:
    # 1. The owner consents; the account is connected with a sealed long-lived token.
    assert connect(dashboard) == "/integrations?notice=instagram-connected"
    row = instagram(session, world)
    assert (row.external_account_id, row.username, row.status) == (
        owner.id, "openpost_ig", "active",
    )  # fmt: skip
    sealed = Sealer(live_settings.effective_secret_key).open(row.credentials_encrypted or "")
    token = sealed["access_token"]
    assert fake.tokens[token].kind == "ig_long"
    assert token not in (row.credentials_encrypted or "")

    # 2. A sweep discovers the six posts and reads their insights.
    runner.sweep(rt, now.at)
    newest = target(dashboard, world, session, media[0].code)
    assert newest["platform"] == "instagram"
    # too young for insights: views and shares unknown (never 0), likes from like_count
    assert counters(newest) == (None, 10, 0, None)
    assert newest["provisional"] is True  # Meta's numbers settle for 48 hours
    for n, item in enumerate(media[1:], start=1):
        found = target(dashboard, world, session, item.code)
        assert counters(found) == (100 * (n + 1), 10 + n, n, n % 2)
        data = found["snapshots"][0]["platform_data"]
        assert data["impressions_kind"] == "views"
        assert data["reach"] == 75 * (n + 1)
    assert all("impressions" not in r.params.get("metric", "").split(",") for r in fake.requests)

    # 3. Counters change and a post is deleted; the next due sweep sees both.
    for n, item in enumerate(media):
        fake.set_counts(item, likes=500 + n, views=9000 + n)
    fake.delete_media(media[-1].id)
    now.at = NOW + timedelta(minutes=31)
    runner.sweep(rt, now.at)
    for n, item in enumerate(media):
        found = target(dashboard, world, session, item.code)
        if n == POSTS - 1:
            assert found["status"] == "deleted"
            continue
        assert found["likes"] == 500 + n
        assert found["impressions"] == 9000 + n  # the newest one's insights arrived too
        assert len(found["snapshots"]) == 2

    # 4. The account's business-use-case window is spent: the read waits (80002).
    fake.business_limit = 0
    fake.forget_windows()
    now.at = NOW + timedelta(minutes=62)
    before = len(fake.requests)
    runner.sweep(rt, now.at)
    refused = fake.requests[before:]
    assert refused
    assert all(r.status == 400 for r in refused)
    status = dashboard.get("/v1/analytics/status", headers=world.a.headers).json()["data"]
    [item] = [i for i in status["integrations"] if i["integration_id"] == str(row.id)]
    assert item["outcomes"].get("rate_limited", 0) >= 1
    assert instagram(session, world).status == "active"  # throttled is not refused
    now.at = NOW + timedelta(minutes=93)  # still inside the 24-hour wait: nothing is sent
    before = len(fake.requests)
    runner.sweep(rt, now.at)
    assert fake.requests[before:] == []

    # 5. The token expires at Instagram: the read is refused, the integration needs a new
    #    consent, and nothing more is sent to Instagram for it.
    fake.business_limit = 4800
    fake.forget_windows()
    fake.tokens[token].expires_at = now.at
    now.at = NOW + timedelta(days=1, hours=2)
    runner.sweep(rt, now.at)
    assert instagram(session, world).status == "needs_refresh"
    assert any(r.status == 400 and r.context.startswith("ig_long") for r in fake.requests)
    before = len(fake.requests)
    now.at += timedelta(hours=1)
    runner.sweep(rt, now.at)
    assert fake.requests[before:] == []


def test_instagram_through_facebook_login_end_to_end(
    dashboard: TestClient,
    rt: Runtime,
    session: Session,
    world: World,
    fake: FakeInstagram,
    owner: FakeAccount,
    media: list[FakeMedia],
    now: Clock,
) -> None:
    """The second login: the owner consents at Facebook; reads then go to the Facebook
    Login host with the linked Page's token and add the totals that include ads."""
    assert connect(dashboard, "instagram-facebook") == (
        "/integrations?notice=instagram-facebook-connected"
    )
    assert instagram(session, world).external_account_id == owner.id
    runner.sweep(rt, now.at)
    found = target(dashboard, world, session, media[1].code)
    assert counters(found) == (200, 11, 1, 1)
    data = found["snapshots"][0]["platform_data"]
    assert (data["total_likes"], data["total_views"]) == (12, 205)
    reads = [r for r in fake.requests if r.endpoint in ("media", "insights")]
    assert reads
    assert all(r.context == f"page:{owner.page_id}" for r in reads)
