"""End to end for TikTok over HTTP: the app and the fake TikTok each run as a real uvicorn
server on loopback (``LiveServer``), the browser and the API client are httpx clients, and
collection runs through ``refresh.runner.sweep`` (what ``openpost refresh --once`` does)
with the clients the registry builds from settings (real HTTP to the fake).

The story: an owner of a live workspace presses "Connect TikTok with the owner's consent" on
the integrations page; the fake's consent page (a sandbox app whose target user is
@openpost) turns away a user it did not invite, then sends @openpost back with a code; the
callback exchanges it with the PKCE verifier and stores the sealed tokens. A sweep discovers
the videos (plays as impressions); counters change and a video is deleted; the next due
sweep reads the new values in one ``video/query`` request and marks the deleted video; a
throttled answer (429 ``rate_limit_exceeded``) writes nothing and blames no one; after the
two-hour access token is due the next sweep renews it (the refresh token rotates) and reads;
then the owner removes the app at TikTok (every token revoked): the read is refused, the
renewal is refused (``invalid_grant``), and the integration becomes ``needs_refresh`` with
no further calls.

It runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import re
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
from openpost.platforms.fakes import LiveServer
from openpost.platforms.tiktok.fake import FakeTikTok, FakeUser, FakeVideo
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from openpost.workspaces.models import User
from openpost.workspaces.service import add_member
from tests import builders
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"  # the public base URL registered at TikTok
CALLBACK = BASE + "/integrations/tiktok/callback"
KEY, SECRET = "e2e-tiktok-key", "e2e-tiktok-secret"
POSTS = 6
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    fake: FakeTikTok
    owner: FakeUser
    videos: list[FakeVideo]
    fake_url: str
    app_url: str
    settings: Settings


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)  # the app, the runner and the fake all read it
    yield source
    clock.set_clock(None)


@pytest.fixture
def world(now: Clock, settings: Settings, engine: Engine) -> Iterator[World]:
    fake = FakeTikTok()
    owner = fake.add_user("openpost", display_name="OpenPost", followers=900)
    fake.add_user("not_invited")
    videos = [
        fake.add_video(
            owner,
            created_at=NOW - timedelta(hours=n + 1),
            views=1000 * (n + 1),
            likes=50 + n,
            comments=5 + n,
            shares=2 + n,
        )
        for n in range(POSTS)
    ]
    fake.add_oauth_client(KEY, SECRET, CALLBACK, sandbox=True, target_users=(owner,))
    with LiveServer(fake.app) as tiktok:
        live = settings.model_copy(
            update={
                "public_base_url": BASE,
                "tiktok_client_id": KEY,
                "tiktok_client_secret": SECRET,
                "tiktok_api_base_url": tiktok.url,
                "tiktok_oauth_authorize_url": tiktok.url + "/v2/auth/authorize/",
            }
        )
        app = create_app(live)
        with LiveServer(app) as served:
            yield World(fake, owner, videos, tiktok.url, served.url, live)
        app.state.engine.dispose()


@pytest.fixture
def rt(world: World, engine: Engine) -> Iterator[Runtime]:
    made = Runtime.from_settings(world.settings, factory=make_sessionmaker(engine))
    yield made
    made.close()


@dataclass
class People:
    browser: httpx.Client
    api: httpx.Client
    workspace_id: str


@pytest.fixture
def people(world: World, session: Session) -> Iterator[People]:
    workspace = builders.make_workspace(session, mode="live")
    user = User(email="owner@tiktok.example", password_hash="unused: signed in directly")
    session.add(user)
    session.flush()
    add_member(session, workspace, email=user.email, password="", role="owner")
    token = start_session(session, user, workspace.id, timedelta(hours=8))
    key = builders.make_key(session, workspace)
    session.commit()
    browser = httpx.Client(base_url=world.app_url, cookies={"openpost_session": token})
    api = httpx.Client(base_url=world.app_url, headers={"Authorization": f"Bearer {key}"})
    with browser, api:
        yield People(browser, api, str(workspace.id))


def connect_with_consent(world: World, people: People) -> httpx.Response:
    """Press the button, pass the fake's consent page, come back to the callback."""
    page = people.browser.get("/integrations")
    assert page.status_code == 200, page.text
    assert 'action="/integrations/tiktok/connect"' in page.text
    match = _CSRF.search(page.text)
    assert match is not None
    pressed = people.browser.post(
        "/integrations/tiktok/connect", data={"csrf_token": match.group(1)}
    )
    assert pressed.status_code == 303, pressed.text
    consent_url = pressed.headers["location"]
    assert consent_url.startswith(world.fake_url + "/v2/auth/authorize/?")
    asked = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
    assert asked["client_key"] == KEY
    assert asked["scope"] == "user.info.basic,user.info.profile,user.info.stats,video.list"
    assert asked["code_challenge_method"] == "S256"
    at_tiktok = httpx.get(consent_url)
    assert at_tiktok.status_code == 302, at_tiktok.text
    back = at_tiktok.headers["location"]
    assert back.startswith(CALLBACK + "?")
    return people.browser.get(back.removeprefix(BASE))


def sealed(session: Session, world: World, integration_id: Any) -> dict[str, Any]:
    session.expire_all()
    row = session.get(Integration, integration_id)
    assert row is not None
    assert row.credentials_encrypted is not None
    return Sealer.from_settings(world.settings).open(row.credentials_encrypted)


def target_of(session: Session, people: People, video: FakeVideo) -> dict[str, Any]:
    session.expire_all()
    post_id = session.scalar(
        select(PostTarget.post_id).where(PostTarget.platform_post_id == video.id)
    )
    assert post_id is not None, f"{video.id} was not discovered"
    response = people.api.get(f"/v1/analytics/post/{post_id}")
    assert response.status_code == 200, response.text
    (target,) = response.json()["data"]["targets"]
    return dict(target)


def counters(target: dict[str, Any]) -> tuple[Any, ...]:
    return (target["impressions"], target["likes"], target["comments"], target["shares"])


def integration_status(people: People, integration_id: Any) -> str:
    response = people.api.get(f"/v1/integrations/{integration_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["status"])


def test_tiktok_end_to_end(
    world: World, people: People, rt: Runtime, session: Session, now: Clock
) -> None:
    fake = world.fake
    # 0. A TikTok user the sandbox app did not invite cannot consent: nothing is connected.
    fake.set_consent("approve", next(u for u in fake.users.values() if u is not world.owner))
    denied = connect_with_consent(world, people)
    assert denied.headers["location"] == "/integrations?tiktok_error=denied"
    page = people.browser.get(denied.headers["location"])
    assert "The TikTok account owner did not give consent" in page.text
    session.expire_all()
    assert session.scalars(select(Integration).where(Integration.platform == "tiktok")).all() == []

    # 1. Consent through the dashboard's connect button, as the invited owner.
    fake.set_consent("approve", world.owner)
    landed = connect_with_consent(world, people)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/integrations?notice=tiktok-connected"
    session.expire_all()
    integration = session.scalars(select(Integration).where(Integration.platform == "tiktok")).one()
    assert str(integration.workspace_id) == people.workspace_id
    assert (integration.external_account_id, integration.username) == (
        world.owner.open_id,
        "openpost",
    )
    first_tokens = sealed(session, world, integration.id)
    assert first_tokens["kind"] == "tiktok_oauth2"
    assert first_tokens["expires_at"] == "2026-04-16T12:00:00Z"  # two hours
    assert first_tokens["refresh_expires_at"] == "2026-10-13T10:00:00Z"  # 180 days
    page = people.browser.get("/integrations?notice=tiktok-connected")
    assert "TikTok account connected with its owner's consent" in page.text
    assert first_tokens["access_token"] not in page.text

    # 2. A sweep discovers every video and writes its first reading (plays as impressions).
    first = runner.sweep(rt, now.at)
    assert (first.discoveries, first.discovered) == (1, POSTS)
    for n, video in enumerate(world.videos):
        target = target_of(session, people, video)
        assert target["platform"] == "tiktok"
        assert counters(target) == (1000 * (n + 1), 50 + n, 5 + n, 2 + n)
        assert target["snapshots"][0]["platform_data"]["impressions_kind"] == "plays"
        assert target["provisional"] is True  # inside TikTok's 48-hour settle time

    # 3. Counters change and a video is deleted; the next due sweep reads it in one request.
    for n, video in enumerate(world.videos):
        fake.set_counts(video.id, view_count=90_000 + n, like_count=700 + n)
    fake.delete_video(world.videos[-1].id)
    queries = len(fake.calls("video_query"))
    now.at = NOW + timedelta(minutes=31)
    second = runner.sweep(rt, now.at)
    assert second.requests == 1  # six due posts: one batch of up to 20
    assert second.written == POSTS - 1
    assert len(fake.calls("video_query")) == queries + 1
    for n, video in enumerate(world.videos):
        target = target_of(session, people, video)
        if n == POSTS - 1:
            assert target["status"] == "deleted"
            assert len(target["snapshots"]) == 1
            continue
        assert counters(target) == (90_000 + n, 700 + n, 5 + n, 2 + n)
        assert len(target["snapshots"]) == 2

    # 4. A throttled answer: nothing written, the account not blamed.
    fake.inject("rate_limited", endpoint="video_query")
    now.at = NOW + timedelta(minutes=62)
    throttled = runner.sweep(rt, now.at)
    assert throttled.written == 0
    assert fake.calls("video_query")[-1].status == 429
    assert integration_status(people, integration.id) == "active"

    # 5. Past the access token's two hours: the sweep renews it (rotating the refresh
    #    token, the new one stored) and reads with the new one.
    refreshes = fake.oauth.refreshes
    now.at = NOW + timedelta(hours=2, minutes=30)
    renewed_sweep = runner.sweep(rt, now.at)
    assert renewed_sweep.written == POSTS - 1
    assert fake.oauth.refreshes == refreshes + 1
    renewed = sealed(session, world, integration.id)
    assert renewed["refresh_token"] != first_tokens["refresh_token"]
    assert fake.oauth.refresh_tokens[first_tokens["refresh_token"]].used
    assert not fake.oauth.refresh_tokens[renewed["refresh_token"]].used
    assert fake.calls("video_query")[-1].context == f"user:{world.owner.open_id}"

    # 6. The owner removes the app at TikTok: the read and the renewal are refused, and the
    #    integration needs a new consent; nothing more is sent to TikTok.
    fake.revoke_user(world.owner.open_id)
    now.at = NOW + timedelta(hours=3, minutes=30)
    refused = runner.sweep(rt, now.at)
    assert refused.written == 0
    assert [r.status for r in fake.calls("oauth_token")][-1] == 400  # invalid_grant
    assert integration_status(people, integration.id) == "needs_refresh"
    calls = len(fake.requests)
    now.at = NOW + timedelta(hours=5)
    assert runner.sweep(rt, now.at).requests == 0
    assert len(fake.requests) == calls
