"""The TikTok connect button in a real browser: Debian's Chromium logs in to a real uvicorn
server of the app, presses "Connect TikTok with the owner's consent", lands on the fake
TikTok's consent page (a sandbox app listing its invited test users, served by uvicorn too),
picks @openpost, and comes back to the integrations page with the account connected.

The page's Content-Security-Policy must let the form's redirect reach TikTok's origin, or
Chromium stops it: this is what only a browser checks."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.platforms.fakes import LiveServer
from openpost.platforms.tiktok.fake import FakeTikTok, seed
from openpost.workspaces.service import add_member, create_workspace
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "owner@tiktok-browser.example", "tiktok-browser-pw"
KEY, SECRET = "browser-tiktok-key", "browser-tiktok-secret"


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, FakeTikTok, Any]]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    fake = FakeTikTok()
    owner = seed(fake, posts=3)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"  # known before the app is built
    fake.add_oauth_client(
        KEY, SECRET, base + "/integrations/tiktok/callback", sandbox=True, target_users=(owner,)
    )
    fake.set_consent("ask")  # the page lists the sandbox's test users
    with LiveServer(fake.app) as tiktok:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{tmp_path / 'openpost.db'}",
            data_dir=tmp_path,
            secret_key="browser-test-secret-0123456789",
            public_base_url=base,
            tiktok_client_id=KEY,
            tiktok_client_secret=SECRET,
            tiktok_api_base_url=tiktok.url,
            tiktok_oauth_authorize_url=tiktok.url + "/v2/auth/authorize/",
        )
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = create_workspace(session, "TikTok browser", mode="live")
            add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        try:
            yield base, fake, engine
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.state.engine.dispose()
            engine.dispose()
            sock.close()


def test_the_connect_button_reaches_tiktoks_consent_page_and_comes_back_connected(
    served: tuple[str, FakeTikTok, Any],
) -> None:
    from playwright.sync_api import sync_playwright

    base, fake, engine = served
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on(
                "response",
                lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.goto(base + "/login")
            page.fill('input[name="email"]', EMAIL)
            page.fill('input[name="password"]', PASSWORD)
            page.click('form[action="/login"] button[type="submit"]')
            page.wait_for_url(base + "/")
            page.goto(base + "/integrations")
            page.click('form[action="/integrations/tiktok/connect"] button[type="submit"]')
            page.wait_for_selector("a.consent-as")
            assert "/v2/auth/authorize/" in page.url
            assert page.locator("a.consent-as").all_inner_texts() == ["Authorize as @openpost"]
            page.click("a.consent-as")
            page.wait_for_url(base + "/integrations?notice=tiktok-connected")
            assert "TikTok account connected with its owner's consent" in page.content()
        finally:
            browser.close()
    assert problems == []
    with make_sessionmaker(engine)() as session:
        integration = session.scalars(
            select(Integration).where(Integration.platform == "tiktok")
        ).one()
    assert integration.username == "openpost"
    assert integration.status == "active"
    assert [r.status for r in fake.calls("oauth_token")] == [200]
