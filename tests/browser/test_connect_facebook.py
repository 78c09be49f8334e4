"""Connecting Facebook Pages in a real browser: the integrations page's connect button, the
fake Facebook Login dialog (pick a test user, tick Pages), and back to the dashboard with the
ticked Pages connected. The app and the fake each run as a uvicorn server on loopback."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.dashboard.sessions import start_session
from openpost.platforms.facebook.fake import DEFAULT_APP_ID, DEFAULT_APP_SECRET, FakeFacebook
from openpost.platforms.fakes import LiveServer
from openpost.workspaces.service import add_member
from tests import builders
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import make_user

pytestmark = pytest.mark.browser


@dataclass
class Served:
    app_url: str
    cookie: str
    fake: FakeFacebook
    ticked: str
    unticked: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    fake = FakeFacebook()
    owner = fake.add_user("Pat Owner")
    ticked = fake.add_page(owner, "Corner Bakery").name
    unticked = fake.add_page(owner, "Bakery Events").name
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    fake.oauth.redirect_uris.add(app_url + "/integrations/facebook/callback")
    with LiveServer(fake.app) as graph:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{tmp_path / 'openpost.db'}",
            data_dir=tmp_path,
            secret_key="browser-test-secret-0123456789",
            public_base_url=app_url,
            meta_app_id=DEFAULT_APP_ID,
            meta_app_secret=DEFAULT_APP_SECRET,
            facebook_api_base_url=graph.url,
            facebook_oauth_authorize_url=f"{graph.url}/v25.0/dialog/oauth",
        )
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = builders.make_workspace(session, mode="live")
            user = make_user(session, "pat@bakery.example", "not-a-real-hash")
            add_member(session, workspace, email=user.email, password="", role="owner")
            cookie = start_session(session, user, workspace.id, timedelta(hours=1))
        engine.dispose()
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the app did not start"
            assert thread.is_alive(), "the app stopped"
            time.sleep(0.02)
        try:
            yield Served(app_url, cookie, fake, ticked, unticked)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.state.engine.dispose()
            sock.close()


def test_the_connect_button_connects_the_pages_ticked_at_facebook(served: Served) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_cookies(
            [{"name": "openpost_session", "value": served.cookie, "url": served.app_url}]
        )
        page: Any = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(served.app_url + "/integrations")
        page.click("#facebook-consent button[type=submit]")
        page.wait_for_selector("text=Continue as a test user")  # the fake's Facebook dialog
        page.check("input[name=user]")
        page.uncheck(f"label:has-text('{served.unticked}') input")
        page.click("button:has-text('Continue')")
        # Facebook appends ``#_=_`` to its redirect; the browser keeps that fragment across the
        # callback's own redirect, as it does with the real Facebook.
        landed = re.escape(served.app_url) + r"/integrations\?notice=facebook-connected(#_=_)?"
        page.wait_for_url(re.compile(landed))
        body = page.inner_text("body")
        browser.close()
    assert "Facebook account connected with its owner's consent" in body
    assert served.ticked in body
    assert served.unticked not in body
    assert problems == []
