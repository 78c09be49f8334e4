"""Pinterest end to end over HTTP: the app and the fake Pinterest each served by a real
uvicorn (``LiveServer``), a browser (an httpx client) pressing the dashboard's connect
button, the fake's consent page, the callback, then sweeps (what ``openpost refresh --once
--now`` runs): discovery and first readings, changed counters and a deleted Pin, a
throttled answer that pauses Pinterest until the UTC day ends, a renewal that stores the
new continuous refresh token and its expiry, and a refused renewal that leaves the
integration ``needs_refresh``. It runs on the test database (SQLite, or PostgreSQL with
``OPENPOST_TEST_DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.pinterest.fake import FakePin, FakePinterest, FakeUser
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from openpost.workspaces.service import add_member
from tests import builders
from tests.dashboard.conftest import make_user, page_csrf, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
CALLBACK = BASE + "/integrations/pinterest/callback"
CLIENT_ID, SECRET = "openpost-pinterest-app", "openpost-pinterest-secret-value"
PINS = 4


@dataclass
class World:
    fake: FakePinterest
    owner: FakeUser
    pins: list[FakePin]
    app_url: str
    settings: Settings


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def world(settings: Settings, engine: Engine, now: Clock) -> Iterator[World]:
    fake = FakePinterest()
    fake.oauth.access_lifetime = timedelta(hours=2)  # to see a renewal within the test
    owner = fake.add_user("openpost", business_name="OpenPost", followers=1200, following=80)
    pins = [
        fake.add_pin(
            owner,
            created_at=NOW - timedelta(hours=n + 1),
            impressions=100 * (n + 1),
            saves=n,
            reactions=10 + n,
            comments=n,
        )
        for n in range(PINS)
    ]
    fake.add_app(CLIENT_ID, SECRET, CALLBACK)
    fake.set_consent("approve", owner)
    with LiveServer(fake.app) as pinterest:
        configured = settings.model_copy(
            update={
                "pinterest_api_base_url": pinterest.url,
                "pinterest_oauth_authorize_url": pinterest.url + "/oauth/",
                "pinterest_client_id": CLIENT_ID,
                "pinterest_client_secret": SECRET,
                "public_base_url": BASE,
            }
        )
        app = create_app(configured)
        with LiveServer(app) as served:
            yield World(fake, owner, pins, served.url, configured)
        app.state.engine.dispose()


def _metrics(target: dict[str, Any]) -> tuple[Any, ...]:
    return (target["impressions"], target["likes"], target["comments"], target["shares"])


def test_pinterest_end_to_end(world: World, session: Session, engine: Engine, now: Clock) -> None:
    workspace = builders.make_workspace(session, mode="live")
    key = builders.make_key(session, workspace)
    make_user(session, "admin@pinterest.example", "not-a-real-hash")
    add_member(session, workspace, email="admin@pinterest.example", password="", role="admin")
    session.commit()
    api = {"Authorization": f"Bearer {key}"}

    with (
        httpx.Client(base_url=world.app_url) as browser,
        httpx.Client() as at_pinterest,
    ):
        sign_in(browser, session, "admin@pinterest.example")  # type: ignore[arg-type]
        # 1. The connect button sends the browser to Pinterest's consent page.
        pressed = browser.post(
            "/integrations/pinterest/connect",
            data={"csrf_token": page_csrf(browser, "/integrations")},  # type: ignore[arg-type]
        )
        assert pressed.status_code == 303, pressed.text
        consent_url = pressed.headers["location"]
        assert consent_url.startswith(world.settings.pinterest_oauth_authorize_url + "?")
        assert "scope=boards%3Aread%2Cpins%3Aread%2Cuser_accounts%3Aread" in consent_url
        # 2. The owner agrees; Pinterest sends the browser back to our callback.
        back = at_pinterest.get(consent_url)
        assert back.status_code == 302
        callback = back.headers["location"]
        assert callback.startswith(CALLBACK + "?")
        parts = urlsplit(callback)
        done = browser.get(f"{parts.path}?{parts.query}")
        assert done.status_code == 303, done.text
        assert "pinterest-connected" in done.headers["location"]

        session.expire_all()
        integration = session.scalars(
            select(Integration).where(Integration.workspace_id == workspace.id)
        ).one()
        assert (integration.platform, integration.external_account_id) == (
            "pinterest",
            world.owner.id,
        )
        sealer = Sealer.from_settings(world.settings)
        assert integration.credentials_encrypted is not None
        first_tokens = sealer.open(integration.credentials_encrypted)
        assert first_tokens["refresh_expires_at"] == "2026-06-15T10:00:00Z"  # 60 days
        (token_call,) = world.fake.calls("oauth_token")
        assert token_call.params["grant_type"] == "authorization_code"

        rt = Runtime.from_settings(world.settings, factory=make_sessionmaker(engine))
        try:
            # 3. A sweep discovers the Pins and reads each (one analytics call per Pin).
            first = runner.sweep(rt, now.at)
            assert (first.discoveries, first.discovered) == (1, PINS)
            assert first.requests == PINS
            ids = {}
            for n, pin in enumerate(world.pins):
                post_id = session.scalar(
                    select(PostTarget.post_id).where(PostTarget.platform_post_id == pin.id)
                )
                assert post_id is not None
                ids[pin.id] = str(post_id)
                target = _target(browser, api, ids[pin.id])
                assert _metrics(target) == (100 * (n + 1), 10 + n, n, None)
                data = target["snapshots"][0]["platform_data"]
                assert (data["saves"], data["window_days"]) == (n, 90)

            # 4. Counters change, one Pin is deleted; the next due sweep sees both.
            for pin in world.pins:
                world.fake.add_counts(pin.id, IMPRESSION=50, SAVE=2)
                world.fake.set_lifetime(pin.id, reactions=99)
            gone = world.pins[-1]
            world.fake.delete_pin(gone.id)
            now.at = NOW + timedelta(minutes=31)
            second = runner.sweep(rt, now.at)
            assert second.written == PINS - 1
            for n, pin in enumerate(world.pins[:-1]):
                target = _target(browser, api, ids[pin.id])
                assert _metrics(target) == (100 * (n + 1) + 50, 99, n, None)
                assert len(target["snapshots"]) == 2
            assert _target(browser, api, ids[gone.id])["status"] == "deleted"

            # 5. A throttled answer (429 code 8) pauses Pinterest until the UTC day ends.
            world.fake.inject("rate_limited", endpoint="pin_analytics")
            now.at = NOW + timedelta(minutes=62)
            third = runner.sweep(rt, now.at)
            assert third.outcomes["rate_limited"] >= 1
            calls = len(world.fake.requests)
            now.at = NOW + timedelta(minutes=93)
            assert runner.sweep(rt, now.at).requests == 0
            assert len(world.fake.requests) == calls  # nothing sent while paused

            # 6. Next day: the access token has expired; it is renewed and the new
            # continuous refresh token and its expiry are stored.
            now.at = datetime(2026, 4, 17, 1, 0, tzinfo=UTC)
            fourth = runner.sweep(rt, now.at)
            assert fourth.written >= 1
            session.expire_all()
            renewed = sealer.open(_sealed(session, integration.id))
            assert renewed["refresh_token"] != first_tokens["refresh_token"]
            assert renewed["refresh_expires_at"] == "2026-06-16T01:00:00Z"
            assert world.fake.calls("oauth_token")[-1].params["grant_type"] == "refresh_token"

            # 7. The owner revokes access: the token is refused, renewal is refused, and
            # the integration needs reconnecting; nothing more is read.
            world.fake.expire_access_token(renewed["access_token"])
            world.fake.revoke_refresh_token(renewed["refresh_token"])
            now.at = datetime(2026, 4, 18, 2, 0, tzinfo=UTC)
            runner.sweep(rt, now.at)
            status = browser.get(f"/v1/integrations/{integration.id}", headers=api).json()
            assert status["data"]["status"] == "needs_refresh"
            calls = len(world.fake.requests)
            now.at = datetime(2026, 4, 19, 3, 0, tzinfo=UTC)
            assert runner.sweep(rt, now.at).requests == 0
            assert len(world.fake.requests) == calls
        finally:
            rt.close()


def _target(browser: httpx.Client, headers: dict[str, str], post_id: str) -> dict[str, Any]:
    response = browser.get(f"/v1/analytics/post/{post_id}", headers=headers)
    assert response.status_code == 200, response.text
    (target,) = response.json()["data"]["targets"]
    return dict(target)


def _sealed(session: Session, integration_id: object) -> str:
    sealed = session.scalar(
        select(Integration.credentials_encrypted).where(Integration.id == integration_id)
    )
    assert sealed is not None
    return sealed
