"""The Instagram connect button in a real browser: a uvicorn server of the app (settings
pointing Instagram's hosts at the fake, itself served over HTTP), Chromium signs in as a
live workspace's owner, presses "Connect Instagram with the owner's consent", goes through
the fake's consent page (the page's CSP must let the form reach it) and comes back to the
integrations page with the account connected. The Facebook Login card is offered beside it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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
from openpost.platforms.instagram.fake import FakeAccount, FakeInstagram
from openpost.workspaces.service import add_member, create_workspace
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_socket

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "owner@instagram.test", "instagram-owner-password-1"
APP_ID, APP_SECRET = "1234567890", "meta-app-secret-value"


@dataclass
class Served:
    base_url: str
    fake: FakeInstagram
    owner: FakeAccount
    database: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    fake = FakeInstagram()
    owner = fake.add_account("openpost_ig", name="OpenPost IG")
    fake.set_consent("approve", owner)
    sock = _free_socket()
    host, port = sock.getsockname()
    base_url = f"http://{host}:{port}"
    fake.add_oauth_client(
        APP_ID,
        APP_SECRET,
        base_url + "/integrations/instagram/callback",
        base_url + "/integrations/instagram-facebook/callback",
    )
    path = tmp_path_factory.mktemp("browser-instagram") / "openpost.db"
    with LiveServer(fake.app) as graph:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{path}",
            data_dir=path.parent,
            secret_key="browser-test-secret-0123456789",
            public_base_url=base_url,
            meta_app_id=APP_ID,
            meta_app_secret=APP_SECRET,
            instagram_oauth_authorize_url=f"{graph.url}/oauth/authorize",
            facebook_oauth_authorize_url=f"{graph.url}/v25.0/dialog/oauth",
            instagram_token_base_url=graph.url,
            instagram_login_api_base_url=graph.url,
            instagram_api_base_url=graph.url,
        )
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = create_workspace(session, "Instagram shop", mode="live", timezone="UTC")
            add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
        engine.dispose()
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield Served(base_url, fake, owner, path)
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
        sock.close()


def test_the_connect_button_goes_through_instagram_and_back(served: Served) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda m: problems.append(m.text) if m.type == "error" else None,
        )
        page.goto(served.base_url + "/login")
        page.fill('input[name="email"]', EMAIL)
        page.fill('input[name="password"]', PASSWORD)
        page.click('form[action="/login"] button[type="submit"]')
        page.wait_for_url(served.base_url + "/")
        page.goto(served.base_url + "/integrations")
        assert "Connect Instagram (Facebook Login) with the owner's consent" in page.inner_text(
            "#instagram-facebook-consent"
        )
        page.click('form[action="/integrations/instagram/connect"] button[type="submit"]')
        page.wait_for_url(served.base_url + "/integrations?notice=instagram-connected*")
        notice = page.inner_text("p.notice[role=status]")
        assert "Instagram account connected with its owner's consent" in notice
        assert "openpost_ig" in page.inner_text("main")
        browser.close()
    assert [r.endpoint for r in served.fake.requests] == [
        "authorize",
        "token",
        "long_lived",
        "node",
    ]
    engine = make_engine(f"sqlite:///{served.database}")
    with make_sessionmaker(engine)() as session:
        row = session.scalars(select(Integration).where(Integration.platform == "instagram")).one()
        assert (row.external_account_id, row.status) == (served.owner.id, "active")
    engine.dispose()
    assert problems == []
