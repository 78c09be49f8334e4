"""The dashboard's "Connect an account" form in a live workspace, against the platform fakes.

The fakes of X, Bluesky, Mastodon and YouTube run as real HTTP servers on loopback
(``LiveServer``); the app is built from settings that point each platform's base URL at its
fake, so the form reaches the same clients ``POST /v1/integrations`` does. Each case posts
the form (session cookie + CSRF token) and checks what the editor sees and what is stored,
beside what the API answers for the same handle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.fakes import LiveServer
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeX
from openpost.platforms.x.fake import seed as seed_x
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import runner
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


@dataclass
class Fakes:
    x: FakeX
    bluesky: FakeBluesky
    mastodon: FakeMastodon
    youtube: FakeYouTube
    external: dict[str, str]  # platform -> the account's id on the platform


@pytest.fixture
def now() -> Iterator[Clock]:
    """One clock for the app, the dashboard sessions and the fakes."""
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fakes(now: Clock) -> Fakes:
    x = FakeX(app_token=DEFAULT_APP_TOKEN)
    bluesky, mastodon, youtube = FakeBluesky(), FakeMastodon(), FakeYouTube()
    account = seed_x(x, posts=3)
    actor = bluesky.add_account("openpost.bsky.social", display_name="OpenPost")
    toots = mastodon.add_account("openpost", display_name="OpenPost")
    channel = youtube.add_channel("openpost", title="OpenPost")
    for n in range(3):
        at = NOW - timedelta(hours=n + 1)
        bluesky.add_post(actor, created_at=at, likes=n, reposts=0, quotes=0, replies=0)
        mastodon.add_status(toots, created_at=at, favourites=n, reblogs=0, quotes=0, replies=0)
        youtube.add_video(channel, published_at=at, views=10, likes=1, comments=0)
    external = {
        "twitter": account.id,
        "bluesky": actor.did,
        "mastodon": toots.id,
        "youtube": channel.id,
    }
    return Fakes(x, bluesky, mastodon, youtube, external)


@pytest.fixture
def live_settings(settings: Settings, fakes: Fakes) -> Iterator[Settings]:
    with (
        LiveServer(fakes.x.app) as x,
        LiveServer(fakes.bluesky.app) as bsky,
        LiveServer(fakes.mastodon.app) as masto,
        LiveServer(fakes.youtube.app) as yt,
    ):
        yield settings.model_copy(
            update={
                "x_api_base_url": x.url,
                "x_bearer_token": DEFAULT_APP_TOKEN,
                "bluesky_api_base_url": bsky.url,
                "mastodon_api_base_url": masto.url,
                "mastodon_allow_private_addresses": True,
                "youtube_api_base_url": f"{yt.url}/youtube/v3",
                "youtube_api_key": DEFAULT_API_KEY,
            }
        )


def _client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def live(live_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    yield from _client(live_settings)


@pytest.fixture
def admin(live: TestClient, session: Session, members: Members) -> TestClient:
    """The live app with an admin of workspace A (a live workspace) signed in."""
    sign_in(live, session, members.a["admin"])
    return live


def post_form(client: TestClient, platform: str, username: str) -> Any:
    return client.post(
        "/integrations/connect",
        data={
            "platform": platform,
            "username": username,
            "csrf_token": page_csrf(client, "/integrations"),
        },
        follow_redirects=False,
    )


def stored(session: Session, world: World, platform: str) -> list[Integration]:
    session.expire_all()
    return list(
        session.scalars(
            select(Integration).where(
                Integration.workspace_id == world.a.workspace.id,
                Integration.platform == platform,
            )
        )
    )


def connected(session: Session, world: World, platform: str) -> list[Integration]:
    """Workspace A's accounts on the platform, less the X account the builders made."""
    return [i for i in stored(session, world, platform) if i.id != world.a.integration.id]


def only_the_builders(session: Session, world: World, platform: str) -> bool:
    return connected(session, world, platform) == []


HANDLES = [
    ("twitter", "@OpenPost"),
    ("bluesky", "openpost.bsky.social"),
    ("mastodon", "@openpost@mastodon.example"),
    ("youtube", "@openpost"),
]


@pytest.mark.parametrize(("platform", "handle"), HANDLES)
def test_the_form_connects_a_live_account_as_the_api_does(
    admin: TestClient,
    session: Session,
    world: World,
    fakes: Fakes,
    now: Clock,
    platform: str,
    handle: str,
) -> None:
    response = post_form(admin, platform, handle)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/integrations?notice=connected"
    (found,) = connected(session, world, platform)
    assert found.external_account_id == fakes.external[platform]
    assert (found.status, found.analytics_enabled) == ("active", True)
    page = admin.get(response.headers["location"]).text
    assert "Connected." in page
    assert f'data-integration-id="{found.id}"' in page

    # The API, for the same handle in workspace B, stores the same account.
    api = admin.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": platform, "username": handle},
    )
    assert api.status_code == 201, api.text
    body = api.json()["data"]
    assert (body["external_account_id"], body["username"], body["display_name"]) == (
        found.external_account_id,
        found.username,
        found.display_name,
    )

    # Sending the form again finds the connected account.
    again = post_form(admin, platform, handle)
    assert again.headers["location"] == "/integrations?notice=reconnected"
    assert connected(session, world, platform) == [found]


def test_a_connected_account_is_discovered_by_the_next_sweep(
    admin: TestClient,
    session: Session,
    world: World,
    engine: Engine,
    live_settings: Settings,
    now: Clock,
) -> None:
    assert post_form(admin, "bluesky", "openpost.bsky.social").status_code == 303
    rt = Runtime.from_settings(live_settings, factory=make_sessionmaker(engine))
    try:
        summary = runner.sweep(rt, now.at, workspace_id=world.a.workspace.id)
    finally:
        rt.close()
    assert summary.discovered == 3
    page = admin.get("/posts").text
    assert page.count("bluesky") >= 3


@pytest.mark.parametrize(
    ("platform", "handle", "message"),
    [
        ("twitter", "nobody_here", "X has no account @nobody_here"),
        ("twitter", "suspended_acct", "X reports @suspended_acct suspended"),
        ("bluesky", "nobody.bsky.social", None),
        ("mastodon", "@nobody@mastodon.example", None),
        ("youtube", "@nobody", None),
        ("linkedin", "acme", "not by handle"),
        ("twitter", "   ", "username must be 1 to 100 characters"),
        ("myspace", "tom", "platform must be one of"),
    ],
)
def test_a_handle_the_platform_refuses_is_a_form_error(
    admin: TestClient,
    session: Session,
    world: World,
    fakes: Fakes,
    now: Clock,
    platform: str,
    handle: str,
    message: str | None,
) -> None:
    response = post_form(admin, platform, handle)
    assert response.status_code == 400
    # The integrations page again, the reason above the form and the input kept.
    assert "<h1>Integrations</h1>" in response.text
    assert '<p class="notice error" role="alert" id="connect-error">' in response.text
    if message is not None:
        assert message in response.text
    if handle.strip():
        assert f'value="{handle}" aria-invalid="true"' in response.text
    api = admin.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": platform, "username": handle},
    )
    assert api.status_code == 400  # the API refuses the same handle
    assert only_the_builders(session, world, platform)


def test_what_the_user_typed_is_escaped_on_the_error_page(
    admin: TestClient, fakes: Fakes, now: Clock
) -> None:
    response = post_form(admin, "twitter", '"><script>alert(1)</script>')
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script" in response.text


def test_a_platform_that_cannot_answer_says_try_again_later(
    admin: TestClient, session: Session, world: World, fakes: Fakes, now: Clock
) -> None:
    fakes.bluesky.inject("server_error", times=None)
    response = post_form(admin, "bluesky", "openpost.bsky.social")
    assert response.status_code == 503
    assert "Bluesky cannot look up accounts right now" in response.text
    assert "Try again later." in response.text
    assert "Traceback" not in response.text
    assert "<h1>Integrations</h1>" in response.text
    assert only_the_builders(session, world, "bluesky")


def test_out_of_credits_says_when_to_try_again(
    admin: TestClient, session: Session, world: World, fakes: Fakes, now: Clock
) -> None:
    fakes.x.inject("credits_depleted")
    response = post_form(admin, "twitter", "openpost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3600"
    assert "X cannot look up accounts right now" in response.text
    assert "credits are depleted" in response.text
    assert "Try again in about 60 minutes." in response.text


def test_a_paused_platform_is_not_asked_and_says_until_when(
    admin: TestClient, session: Session, world: World, fakes: Fakes, now: Clock
) -> None:
    session.add(
        PlatformState(
            key="twitter",
            paused_until=NOW + timedelta(hours=3),
            pause_reason="x_usage_capped",
            pause_message="X's monthly usage cap is reached",
            reads_today=0,
        )
    )
    session.commit()
    response = post_form(admin, "twitter", "openpost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(3 * 3600)
    assert "Try again in about 3 hours." in response.text
    assert fakes.x.calls("users_by_username") == []


@pytest.mark.parametrize(
    ("platform", "handle", "unset", "named"),
    [
        ("youtube", "@openpost", "youtube_api_key", "OPENPOST_YOUTUBE_API_KEY"),
        ("twitter", "openpost", "x_bearer_token", "OPENPOST_X_BEARER_TOKEN"),
    ],
)
def test_a_platform_the_operator_has_not_configured_says_so(
    live_settings: Settings,
    engine: Engine,
    session: Session,
    world: World,
    members: Members,
    fakes: Fakes,
    now: Clock,
    platform: str,
    handle: str,
    unset: str,
    named: str,
) -> None:
    for client in _client(live_settings.model_copy(update={unset: ""})):
        sign_in(client, session, members.a["admin"])
        response = post_form(client, platform, handle)
        assert response.status_code == 503
        text = response.text
        assert "is not set up on this server" in text
        assert named in text  # the setting to set; never a secret value
        assert "trying again will not help" in text
        assert "Try again later" not in text
        assert DEFAULT_API_KEY not in text  # the configured secrets never show
        assert DEFAULT_APP_TOKEN not in text
        api = client.post(
            "/v1/integrations",
            headers={"Authorization": f"Bearer {world.b.key}"},
            json={"platform": platform, "username": handle},
        )
        assert api.status_code == 503
    assert only_the_builders(session, world, platform)


def test_only_managers_may_connect(
    live: TestClient, session: Session, members: Members, fakes: Fakes, now: Clock
) -> None:
    sign_in(live, session, members.a["editor"])
    response = post_form(live, "bluesky", "openpost.bsky.social")
    assert response.status_code == 403
    assert fakes.bluesky.calls("app.bsky.actor.getProfile") == []
