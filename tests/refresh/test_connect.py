"""Connecting a live X account by handle through the API, then discovering its posts.

The fake X runs as a real HTTP server on loopback here: the app builds its own X client
from settings, as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.x.fake import FakeAccount, FakeX, seed
from openpost.posts.models import Post
from openpost.refresh import discovery, runner
from openpost.refresh.models import PlatformState
from tests import builders
from tests.refresh.conftest import NOW, Clock, make_runtime


@pytest.fixture
def server(fake_x: FakeX) -> Iterator[LiveServer]:
    with LiveServer(fake_x.app) as live:
        yield live


@pytest.fixture
def live_settings(collect_settings: Settings, server: LiveServer) -> Settings:
    return collect_settings.model_copy(update={"x_api_base_url": server.url})


@pytest.fixture
def api(live_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(live_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    workspace = builders.make_workspace(session)
    key = builders.make_key(session, workspace)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def account(fake_x: FakeX) -> FakeAccount:
    return seed(fake_x, posts=60)


def connect(api: TestClient, headers: dict[str, str], username: str) -> Any:
    return api.post(
        "/v1/integrations", headers=headers, json={"platform": "twitter", "username": username}
    )


def test_connect_by_handle_then_discover(
    api: TestClient,
    session: Session,
    engine: Engine,
    live_settings: Settings,
    fake_x: FakeX,
    account: FakeAccount,
    headers: dict[str, str],
    now: Clock,
) -> None:
    response = connect(api, headers, "@OpenPost")
    assert response.status_code == 201, response.text
    body = response.json()["data"]
    assert body["external_account_id"] == account.id
    assert (body["username"], body["display_name"], body["synthetic"]) == (
        "openpost",
        "OpenPost",
        False,
    )
    assert connect(api, headers, "openpost").status_code == 200  # already connected

    rt = make_runtime(live_settings, engine, fake_x)
    jobs = runner.plan_discoveries(rt, clock.now())
    assert [str(job.integration_id) for job in jobs] == [body["id"]]
    result = discovery.run(rt.factory, rt.clients, rt.policy, jobs[0])
    assert result.discovered == 50
    count = session.scalar(
        select(func.count()).select_from(Post).where(Post.source == "discovered")
    )
    assert count == 50


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody_here", "X has no account @nobody_here"),
        ("suspended_acct", "X reports @suspended_acct suspended"),
        ("not a handle!", None),
    ],
)
def test_handles_x_will_not_resolve(
    api: TestClient,
    account: FakeAccount,
    headers: dict[str, str],
    now: Clock,
    username: str,
    message: str | None,
) -> None:
    response = connect(api, headers, username)
    assert response.status_code == 400, response.text
    if message is not None:
        assert response.json() == {"error": message}


def test_x_out_of_credits_is_a_503(
    api: TestClient, fake_x: FakeX, account: FakeAccount, headers: dict[str, str], now: Clock
) -> None:
    fake_x.inject("credits_depleted")
    response = connect(api, headers, "openpost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3600"
    assert "credits are depleted" in response.json()["error"]


def test_a_paused_x_is_not_asked(
    api: TestClient,
    session: Session,
    fake_x: FakeX,
    account: FakeAccount,
    headers: dict[str, str],
    now: Clock,
) -> None:
    session.add(
        PlatformState(
            key="twitter",
            paused_until=NOW + timedelta(minutes=10),
            pause_reason="x_credits_depleted",
            pause_message="X API credits are depleted",
            reads_today=0,
        )
    )
    session.commit()
    response = connect(api, headers, "openpost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "600"
    assert fake_x.calls("users_by_username") == []


def test_reconnecting_ends_needs_refresh(
    api: TestClient, session: Session, account: FakeAccount, headers: dict[str, str], now: Clock
) -> None:
    created = connect(api, headers, "openpost").json()["data"]
    integration = session.get(Integration, uuid.UUID(created["id"]))
    assert integration is not None
    integration.status = "needs_refresh"
    session.commit()
    again = connect(api, headers, "openpost")
    assert again.status_code == 200
    assert again.json()["data"]["status"] == "active"


def test_live_platform_without_client(api: TestClient, headers: dict[str, str]) -> None:
    response = api.post(
        "/v1/integrations", headers=headers, json={"platform": "linkedin", "username": "acme"}
    )
    assert response.status_code == 400  # consent-only: never by handle
    assert "owner's consent" in response.json()["error"]
