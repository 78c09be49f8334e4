"""End to end for Threads over real HTTP: the app and the fake Threads API each served by
uvicorn on a loopback port (of this helper's range), a browser (an httpx client with the
dashboard's cookie), and ``openpost refresh --once --now …`` run as its own process.

The story:
1. an admin presses "Connect Threads with the owner's consent"; a first owner who is not a
   tester of the app yet is refused by Threads (1349245) and the page says what to do; the
   tester's consent connects the account with a sealed long-lived token;
2. the first sweep discovers the account's threads (not the repost) and reads each one's
   insights (one call per post), provisional inside Threads' 48 hours;
3. counters change and a post is deleted: the next due sweep reads the new values and
   marks the deleted post;
4. Threads throttles the next read: the batch is ``rate_limited`` and the owner's
   credential waits for the regain time Threads gave;
5. the owner removes the app in Threads (the token is refused, 190): the integration
   becomes ``needs_refresh`` and later sweeps send Threads nothing.

It runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.timefmt import format_time
from openpost.dashboard.sessions import start_session
from openpost.integrations.models import Integration
from openpost.platforms.threads.fake import FakeMedia, FakeThreads, FakeUser
from openpost.posts.models import PostTarget
from openpost.workspaces.models import User
from openpost.workspaces.service import add_member
from tests import builders

PORTS = range(19100, 19200)  # this helper's loopback ports
OPENPOST = str(Path(sys.executable).with_name("openpost"))
APP_ID, APP_SECRET = "threads-e2e-app", "threads-e2e-secret-value"
POSTS = 5


def _socket() -> socket.socket:
    for port in PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError("no free port in 19100-19199")


class Served:
    """An ASGI app served by uvicorn on a socket bound beforehand (so its URL is known
    before the app is built)."""

    def __init__(self) -> None:
        self.sock = _socket()
        host, port = self.sock.getsockname()
        self.url = f"http://{host}:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning")
        self._server = server = uvicorn.Server(config)
        self._thread = thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()


@dataclass
class Stack:
    fake: FakeThreads
    owner: FakeUser
    outsider: FakeUser
    media: list[FakeMedia]
    settings: Settings
    app_url: str
    fake_url: str
    env: dict[str, str]


@pytest.fixture
def stack(settings: Settings, engine: Engine) -> Iterator[Stack]:
    fake = FakeThreads()
    owner = fake.add_user("openpost", name="OpenPost", followers=77)
    outsider = fake.add_user("outsider", tester=False)
    now = datetime.now(UTC)
    media = [
        fake.add_media(
            owner,
            created_at=now - timedelta(hours=n + 1),
            views=1000 * (n + 1),
            likes=10 + n,
            replies=2 + n,
            reposts=3,
            quotes=1,
            shares=4,
        )
        for n in range(POSTS)
    ]
    fake.add_media(owner, created_at=now - timedelta(minutes=30), media_type="REPOST_FACADE")
    fake_server, app_server = Served(), Served()
    fake.add_app(APP_ID, APP_SECRET, app_server.url + "/integrations/threads/callback")
    fake_server.start(fake.app)
    live = settings.model_copy(
        update={
            "threads_api_base_url": fake_server.url,
            "threads_oauth_authorize_url": fake_server.url + "/oauth/authorize",
            "threads_client_id": APP_ID,
            "threads_client_secret": APP_SECRET,
            "public_base_url": app_server.url,
        }
    )
    app = create_app(live)
    app_server.start(app)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENPOST_")},
        "OPENPOST_ENV": "test",
        "OPENPOST_DATABASE_URL": live.database_url,
        "OPENPOST_DATA_DIR": str(live.data_dir),
        "OPENPOST_SECRET_KEY": live.secret_key,
        "OPENPOST_THREADS_API_BASE_URL": fake_server.url,
        "OPENPOST_THREADS_CLIENT_ID": APP_ID,
        "OPENPOST_THREADS_CLIENT_SECRET": APP_SECRET,
        "OPENPOST_PUBLIC_BASE_URL": app_server.url,
        "OPENPOST_LOG_LEVEL": "WARNING",
    }
    try:
        yield Stack(fake, owner, outsider, media, live, app_server.url, fake_server.url, env)
    finally:
        app_server.stop()
        fake_server.stop()
        app.state.engine.dispose()


def sweep(stack: Stack, at: datetime) -> dict[str, Any]:
    """``openpost refresh --once --now <at> --json`` in its own process."""
    done = subprocess.run(  # noqa: S603 - our own CLI
        [OPENPOST, "refresh", "--once", "--now", format_time(at), "--json"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def browser_for(session: Session, stack: Stack) -> tuple[httpx.Client, uuid.UUID, str]:
    """A live workspace with an admin signed in, and an API key for reading it back."""
    workspace = builders.make_workspace(session, mode="live")
    key = builders.make_key(session, workspace)
    session.add(User(email="admin@threads.example", password_hash="unused"))
    session.flush()
    add_member(session, workspace, email="admin@threads.example", password="", role="admin")
    user = session.scalars(select(User).where(User.email == "admin@threads.example")).one()
    token = start_session(session, user, workspace.id, timedelta(hours=2))
    session.commit()
    browser = httpx.Client(base_url=stack.app_url, timeout=30)
    browser.cookies.set("openpost_session", token)
    return browser, workspace.id, key


def csrf(browser: httpx.Client) -> str:
    page = browser.get("/integrations")
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def consent_round_trip(browser: httpx.Client, stack: Stack) -> str:
    """Connect button → Threads' consent page → callback: where the dashboard lands."""
    pressed = browser.post(
        "/integrations/threads/connect", data={"csrf_token": csrf(browser)}, follow_redirects=False
    )
    assert pressed.status_code == 303, pressed.text
    consent_url = pressed.headers["location"]
    assert consent_url.startswith(stack.fake_url + "/oauth/authorize?")
    at_threads = httpx.get(consent_url, follow_redirects=False, timeout=30)
    assert at_threads.status_code == 302
    back = at_threads.headers["location"].split("#", 1)[0]  # Threads' "#_" stays in the browser
    assert back.startswith(stack.app_url + "/integrations/threads/callback?")
    landed = browser.get(urlsplit(back).path + "?" + urlsplit(back).query, follow_redirects=False)
    assert landed.status_code == 303, landed.text
    return str(landed.headers["location"])


def api(stack: Stack, key: str, path: str) -> Any:
    response = httpx.get(
        stack.app_url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def target_of(stack: Stack, key: str, session: Session, shortcode: str) -> dict[str, Any]:
    session.expire_all()
    post_id = session.scalar(
        select(PostTarget.post_id).where(PostTarget.platform_post_id == shortcode)
    )
    assert post_id is not None, f"{shortcode} was not discovered"
    (target,) = api(stack, key, f"/v1/analytics/post/{post_id}")["targets"]
    return dict(target)


def counters(target: dict[str, Any]) -> tuple[Any, ...]:
    return (target["impressions"], target["likes"], target["comments"], target["shares"])


def test_threads_end_to_end(stack: Stack, session: Session) -> None:
    browser, workspace_id, key = browser_for(session, stack)
    fake = stack.fake

    # 1. Not a tester yet: Threads refuses, the page says what to do, nothing is connected.
    fake.set_consent("approve", stack.outsider)
    landed = consent_round_trip(browser, stack)
    assert landed == "/integrations?threads_error=threads_not_tester"
    page = browser.get(landed).text.replace("&#39;", "'")
    assert "has not accepted the app's tester invitation" in page
    fake.set_consent("approve", stack.owner)
    assert consent_round_trip(browser, stack) == "/integrations?notice=threads-connected"
    session.expire_all()
    integration = session.scalars(
        select(Integration).where(
            Integration.workspace_id == workspace_id, Integration.platform == "threads"
        )
    ).one()
    assert integration.external_account_id == stack.owner.id
    assert integration.status == "active"
    integration_id = str(integration.id)

    # 2. The first sweep discovers the threads (not the repost) and reads their insights.
    t0 = datetime.now(UTC) + timedelta(minutes=1)
    first = sweep(stack, t0)
    assert (first["discoveries"], first["discovered_posts"]) == (1, POSTS)
    insights = fake.calls("insights")
    assert len(insights) == POSTS  # one call per post, no batch endpoint
    for n, media in enumerate(stack.media):
        target = target_of(stack, key, session, media.shortcode)
        assert target["platform"] == "threads"
        assert counters(target) == (1000 * (n + 1), 10 + n, 2 + n, 3 + 1)
        snapshot = target["snapshots"][0]
        assert snapshot["platform_data"]["impressions_kind"] == "views"
        assert snapshot["platform_data"]["shares"] == 4  # sends off Threads, kept apart
        assert snapshot["provisional"] is True  # inside Threads' 48 hours

    # 3. Counters change and a post is deleted; the next due sweep sees both.
    for n, media in enumerate(stack.media):
        fake.set_metrics(media.id, views=5000 + n, likes=90 + n, quotes=6)
    gone = stack.media[-1]
    fake.delete_media(gone.id)
    listings = len(fake.calls("threads"))
    second = sweep(stack, t0 + timedelta(minutes=31))
    # A new process: one listing finds the media ids of the stored shortcodes (the deleted
    # one is not among them), then one insights call per remaining post.
    assert len(fake.calls("threads")) == listings + 1
    assert second["requests"] == 1 + (POSTS - 1)
    for n, media in enumerate(stack.media):
        target = target_of(stack, key, session, media.shortcode)
        if media is gone:
            assert target["status"] == "deleted"
            assert len(target["snapshots"]) == 1  # the last good snapshot stays
            continue
        assert counters(target) == (5000 + n, 90 + n, 2 + n, 3 + 6)
        assert len(target["snapshots"]) == 2

    # 4. Throttled: the app-user pair's 24-hour window is spent (code 17, with the minutes
    #    to regain in the usage header); the owner's credential waits that long.
    fake.set_rate_limit(0)
    throttled = sweep(stack, t0 + timedelta(minutes=62))
    assert throttled["requests"] == 1  # the listing is throttled: nothing more is asked
    status = api(stack, key, "/v1/analytics/status")
    (row,) = [i for i in status["integrations"] if i["integration_id"] == integration_id]
    assert row["outcomes"]["rate_limited"] == POSTS - 1
    assert row["last_error"]["code"] == "threads_rate_limited"
    calls = len(fake.requests)
    held = sweep(stack, t0 + timedelta(minutes=64))  # still inside the pause
    assert held["requests"] == 0
    assert len(fake.requests) == calls

    # 5. A day later the window is back, but the owner removed the app in Threads: the
    #    token is refused (190), the integration needs reconnecting, and Threads is not
    #    called again.
    fake.set_rate_limit(1000)
    for token in list(fake.tokens):
        fake.revoke(token)
    sweep(stack, t0 + timedelta(hours=25))
    refused = [r for r in fake.requests[calls:] if r.status != 200]
    assert refused
    assert all(r.context == "anonymous" for r in refused)  # a token Threads no longer knows
    integration_row = api(stack, key, f"/v1/integrations/{integration_id}")
    assert integration_row["status"] == "needs_refresh"
    calls = len(fake.requests)
    sweep(stack, t0 + timedelta(hours=26))
    assert len(fake.requests) == calls
    browser.close()
