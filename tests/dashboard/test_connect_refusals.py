"""Connect refusals that are not "try again later", through the API and the dashboard form:

- a Mastodon instance the URL guard refuses (loopback, private, link-local addresses, a
  non-standard port) is a 400 with ``{"error"}`` (a form error on the dashboard), never a
  503: the refusal lasts until the user types another instance;
- a YouTube handle that names no channel is a 400, and the ``channels.list`` call that
  found nothing is counted against the shared daily quota, as Google charges it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh.models import PlatformState
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import NOW, Clock


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def youtube(now: Clock) -> FakeYouTube:
    fake = FakeYouTube()
    fake.add_channel("openpost", title="OpenPost")
    return fake


@pytest.fixture
def live(settings: Settings, engine: Engine, youtube: FakeYouTube) -> Iterator[TestClient]:
    """The app as an operator runs it: the URL guard on (no private addresses allowed, no
    base-URL override for Mastodon) and YouTube pointed at its fake."""
    with LiveServer(youtube.app) as server:
        configured = settings.model_copy(
            update={
                "mastodon_api_base_url": "",
                "mastodon_allow_private_addresses": False,
                "youtube_api_base_url": f"{server.url}/youtube/v3",
                "youtube_api_key": DEFAULT_API_KEY,
            }
        )
        app = create_app(configured)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
        app.state.engine.dispose()


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


def connected(session: Session, world: World, platform: str) -> list[Integration]:
    session.expire_all()
    return list(
        session.scalars(
            select(Integration).where(
                Integration.platform == platform,
                Integration.workspace_id.in_([world.a.workspace.id, world.b.workspace.id]),
            )
        )
    )


REFUSED = {
    "loopback": "@alice@127.0.0.1",
    "private": "alice@10.1.2.3",
    "link-local": "alice@169.254.169.254",
    "ipv6 loopback": "alice@[::1]",
    "non-standard port": "alice@mastodon.example:8443",
}


@pytest.mark.parametrize("handle", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_mastodon_instance_is_a_400_not_a_503(
    live: TestClient,
    session: Session,
    world: World,
    members: Members,
    now: Clock,
    handle: str,
) -> None:
    api = live.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": "mastodon", "username": handle},
    )
    assert api.status_code == 400, api.text
    assert "Retry-After" not in api.headers
    (message,) = api.json().values()
    assert message.startswith("refused: ")
    assert list(api.json()) == ["error"]

    sign_in(live, session, members.a["admin"])
    form = post_form(live, "mastodon", handle)
    assert form.status_code == 400
    text = form.text
    assert '<p class="notice error" role="alert" id="connect-error">' in text
    assert "refused: " in text
    assert "Try again" not in text
    assert connected(session, world, "mastodon") == []


def test_a_youtube_lookup_that_finds_nothing_is_charged_to_the_quota(
    live: TestClient,
    session: Session,
    world: World,
    members: Members,
    youtube: FakeYouTube,
    now: Clock,
) -> None:
    api = live.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": "youtube", "username": "@nobody"},
    )
    assert api.status_code == 400, api.text
    assert "YouTube has no channel" in api.json()["error"]
    sign_in(live, session, members.a["admin"])
    assert post_form(live, "youtube", "@nobody").status_code == 400
    # An idempotent request holds the request's transaction open while it looks up.
    keyed = live.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}", "Idempotency-Key": "look-1"},
        json={"platform": "youtube", "username": "@nobody"},
    )
    assert keyed.status_code == 400

    # Google charged the three lookups that found nothing; the shared count says so too.
    assert [(r.endpoint, r.cost) for r in youtube.requests] == [("channels.list", 1)] * 3
    session.expire_all()
    state = session.get(PlatformState, "youtube")
    assert state is not None
    assert state.reads_today == youtube.quota_used == 3
    assert connected(session, world, "youtube") == []

    # A lookup that finds the channel is counted once, with the connection.
    found = live.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": "youtube", "username": "@openpost"},
    )
    assert found.status_code == 201, found.text
    session.expire_all()
    state = session.get(PlatformState, "youtube")
    assert state is not None
    assert state.reads_today == youtube.quota_used == 4


def test_a_handle_refused_before_any_call_costs_nothing(
    live: TestClient, session: Session, world: World, youtube: FakeYouTube, now: Clock
) -> None:
    api = live.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {world.b.key}"},
        json={"platform": "youtube", "username": "@no"},  # too short for a YouTube handle
    )
    assert api.status_code == 400, api.text
    assert youtube.requests == []
    session.expire_all()
    state = session.get(PlatformState, "youtube")
    assert state is None or state.reads_today == 0
