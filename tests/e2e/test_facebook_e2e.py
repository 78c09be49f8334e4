"""Facebook Pages end to end over HTTP: the app and the fake Graph API each run as a real
uvicorn server on loopback (``LiveServer``); a signed-in owner presses "Connect Facebook with
the owner's consent" on the integrations page, the browser goes through the fake's Facebook
Login dialog and back to the callback, and one integration per granted Page appears with
its Page token sealed. Then ``refresh.runner.sweep`` (what ``openpost refresh --once`` runs)
discovers the Pages' posts and reads them in Graph batches; counters change, a post is
deleted, the Page is throttled (80001), and finally the owner changes password (190/460):
the integration needs a refresh and nothing more is sent for it.

It runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.dashboard.sessions import start_session
from openpost.integrations.models import Integration
from openpost.platforms.facebook.fake import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    FakeFacebook,
    FakePage,
    FakePost,
    FakeUser,
)
from openpost.platforms.fakes import LiveServer
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from openpost.workspaces.models import Workspace
from openpost.workspaces.service import add_member
from tests import builders
from tests.dashboard.conftest import csrf_of, make_user
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"  # the public base URL (the browser strips it)
CALLBACK = BASE + "/integrations/facebook/callback"


@dataclass
class Story:
    fake: FakeFacebook
    owner: FakeUser
    bakery: FakePage
    events: FakePage
    posts: list[FakePost]


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def story(now: Clock) -> Story:
    fake = FakeFacebook()  # reads the same clock as the service
    owner = fake.add_user("Pat Owner")
    bakery = fake.add_page(owner, "Corner Bakery", username="cornerbakery", followers=1520)
    events = fake.add_page(owner, "Bakery Events", followers=88)
    fake.add_page(owner, "Ads Only", tasks=("ADVERTISE",))  # no ANALYZE: never connected
    fake.oauth.redirect_uris.add(CALLBACK)
    fake.oauth.consenting = owner
    posts = [
        fake.add_post(
            bakery,
            created_at=NOW - timedelta(hours=n + 1),
            message=f"post {n}",
            reel=n == 1,
            likes=10 + n,
            comments=n,
            shares=n % 2,
            views=100 * (n + 1),
            reach=50 + n,
            reactions={"love": 2},
        )
        for n in range(4)
    ]
    posts.append(fake.add_post(events, created_at=NOW - timedelta(hours=2), likes=3, views=9))
    return Story(fake, owner, bakery, events, posts)


@pytest.fixture
def graph(story: Story) -> Iterator[str]:
    with LiveServer(story.fake.app) as server:
        yield server.url


@pytest.fixture
def live_settings(settings: Settings, graph: str) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": BASE,
            "meta_app_id": DEFAULT_APP_ID,
            "meta_app_secret": DEFAULT_APP_SECRET,
            "facebook_api_base_url": graph,
            "facebook_oauth_authorize_url": f"{graph}/v25.0/dialog/oauth",
        }
    )


@pytest.fixture
def app_url(live_settings: Settings, engine: Engine) -> Iterator[str]:
    app = create_app(live_settings)
    with LiveServer(app) as server:
        yield server.url
    app.state.engine.dispose()


@pytest.fixture
def rt(live_settings: Settings, engine: Engine) -> Iterator[Runtime]:
    made = Runtime.from_settings(live_settings, factory=make_sessionmaker(engine))
    yield made
    made.close()


@dataclass
class Owner:
    workspace: Workspace
    key: str
    cookie: str


@pytest.fixture
def owner(session: Session) -> Owner:
    workspace = builders.make_workspace(session, mode="live")
    key = builders.make_key(session, workspace)
    user = make_user(session, "pat@bakery.example", "not-a-real-hash")
    add_member(session, workspace, email=user.email, password="", role="owner")
    cookie = start_session(session, user, workspace.id, timedelta(hours=1))
    session.commit()
    return Owner(workspace, key, cookie)


def _connect(app_url: str, graph: str, owner: Owner) -> str:
    """The connect button, Facebook's dialog and the callback; where the dashboard lands."""
    with httpx.Client(base_url=app_url, cookies={"openpost_session": owner.cookie}) as browser:
        page = browser.get("/integrations")
        assert page.status_code == 200, page.text
        assert 'action="/integrations/facebook/connect"' in page.text
        pressed = browser.post(
            "/integrations/facebook/connect", data={"csrf_token": csrf_of(page.text)}
        )
        assert pressed.status_code == 303, pressed.text
        consent_url = pressed.headers["location"]
        assert consent_url.startswith(f"{graph}/v25.0/dialog/oauth?")
        query = parse_qs(urlsplit(consent_url).query)
        assert query["scope"] == ["pages_show_list,pages_read_engagement,read_insights"]
        assert query["redirect_uri"] == [CALLBACK]
        assert "code_challenge" not in query
        at_facebook = httpx.get(consent_url)
        assert at_facebook.status_code == 302, at_facebook.text
        back = at_facebook.headers["location"]
        assert back.startswith(CALLBACK + "?")
        landed = browser.get(back.removeprefix(BASE).split("#", 1)[0])
        assert landed.status_code == 303, landed.text
        return str(landed.headers["location"])


def _api(app_url: str, owner: Owner, path: str) -> Any:
    response = httpx.get(app_url + path, headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _target(app_url: str, owner: Owner, session: Session, platform_post_id: str) -> Any:
    session.expire_all()
    post_id = session.scalar(
        select(PostTarget.post_id).where(PostTarget.platform_post_id == platform_post_id)
    )
    assert post_id is not None, f"{platform_post_id} was not discovered"
    (target,) = _api(app_url, owner, f"/v1/analytics/post/{post_id}")["targets"]
    return target


def _counters(target: dict[str, Any]) -> tuple[Any, ...]:
    return (target["impressions"], target["likes"], target["comments"], target["shares"])


def test_facebook_pages_end_to_end(
    app_url: str,
    graph: str,
    rt: Runtime,
    session: Session,
    story: Story,
    owner: Owner,
    live_settings: Settings,
    now: Clock,
) -> None:
    fake = story.fake
    # 1. Consent through the dashboard: one integration per granted Page it may analyse.
    assert _connect(app_url, graph, owner) == "/integrations?notice=facebook-connected"
    session.expire_all()
    integrations = {
        i.external_account_id: i
        for i in session.scalars(
            select(Integration).where(Integration.workspace_id == owner.workspace.id)
        )
    }
    assert set(integrations) == {story.bakery.id, story.events.id}  # not the ads-only Page
    bakery = integrations[story.bakery.id]
    assert (bakery.platform, bakery.username, bakery.display_name, bakery.status) == (
        "facebook",
        "cornerbakery",
        "Corner Bakery",
        "active",
    )
    sealed = bakery.credentials_encrypted
    assert sealed is not None
    credentials = Sealer(live_settings.effective_secret_key).open(sealed)
    assert credentials["kind"] == "facebook_page"
    assert credentials["access_token"] not in sealed
    assert fake.tokens[credentials["access_token"]].page_id == story.bakery.id  # a Page token
    assert credentials["expires_at"] is None
    assert credentials["refresh_token"] is None

    # 2. A sweep discovers both Pages' posts and reads them (one Graph batch per Page).
    first = runner.sweep(rt, now.at)
    assert first.discovered == 5
    assert first.requests == 2
    reel_id = story.posts[1].video_id
    for n, post in enumerate(story.posts[:4]):
        target = _target(app_url, owner, session, reel_id if n == 1 else post.id)
        assert target["platform"] == "facebook"
        shares = None if n == 1 else n % 2  # a reel's video has no shares field
        assert _counters(target) == (100 * (n + 1), 10 + n + 2, n, shares)
        data = target["snapshots"][0]["platform_data"]
        assert data["impressions_kind"] == ("plays" if n == 1 else "views")
        assert data["reach"] == 50 + n
        if n != 1:
            assert data["reactions_by_type"] == {"like": 10 + n, "love": 2}
        assert target["provisional"] is True  # Meta's insights settle for 48 hours
    batches = fake.calls("batch")
    assert len(batches) == 2
    assert sorted(r.operations for r in batches) == [2, 8]

    # 3. Counters change, a post is deleted; the next due sweep reads the new values.
    for post in story.posts:
        post.reactions["like"] += 100
        post.views += 1000
    fake.delete_post(story.posts[3].id)
    now.at = NOW + timedelta(minutes=31)
    second = runner.sweep(rt, now.at)
    assert second.requests == 2
    assert second.written == 4
    assert _counters(_target(app_url, owner, session, story.posts[0].id)) == (1100, 112, 0, 0)
    assert _target(app_url, owner, session, reel_id)["impressions"] == 1200
    gone = _target(app_url, owner, session, story.posts[3].id)
    assert gone["status"] == "deleted"
    assert len(gone["snapshots"]) == 1

    # 4. The Page is throttled (80001, regain in 30 minutes): nothing is written for it.
    fake.inject("page_throttled", endpoint="batch", times=2)
    now.at = NOW + timedelta(minutes=62)
    third = runner.sweep(rt, now.at)
    assert third.written == 0
    status = _api(app_url, owner, "/v1/analytics/status")
    by_id = {item["integration_id"]: item for item in status["integrations"]}
    assert by_id[str(bakery.id)]["outcomes"]["rate_limited"] >= 1
    fake.clear_faults()

    # 5. The owner changes password: every token of theirs is refused (190/460).
    fake.kill_tokens(story.owner, subcode=460)
    now.at = NOW + timedelta(hours=3)
    runner.sweep(rt, now.at)
    for integration_id in (bakery.id, integrations[story.events.id].id):
        found = _api(app_url, owner, f"/v1/integrations/{integration_id}")
        assert found["status"] == "needs_refresh"
    sent = len(fake.requests)
    now.at = NOW + timedelta(hours=5)
    assert runner.sweep(rt, now.at).requests == 0
    assert len(fake.requests) == sent  # nothing more is called until reconnected
