"""The Pinterest connect button in a real browser: Chromium signs in to a uvicorn-served
dashboard, presses "Connect Pinterest with the owner's consent", picks a test user on the
fake Pinterest's consent page (served by its own uvicorn), and lands back on the
integrations page with the account connected."""

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
from openpost.platforms.pinterest.fake import FakePinterest
from openpost.workspaces.service import add_member, create_workspace
from tests.browser.conftest import CHROMIUM, _free_socket

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "pinner@example.com", "correct horse battery staple"
CLIENT_ID, SECRET = "browser-pinterest-app", "browser-pinterest-secret"


@dataclass
class Served:
    base_url: str
    fake: FakePinterest
    database: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    path = tmp_path_factory.mktemp("pinterest-browser") / "openpost.db"
    sock = _free_socket()
    host, port = sock.getsockname()
    base_url = f"http://{host}:{port}"
    fake = FakePinterest()
    fake.add_user("openpost", business_name="OpenPost", followers=12)
    fake.add_user("second_shop", business_name="Second Shop")
    fake.add_app(CLIENT_ID, SECRET, base_url + "/integrations/pinterest/callback")
    with LiveServer(fake.app) as pinterest:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{path}",
            data_dir=path.parent,
            secret_key="browser-test-secret-0123456789",
            public_base_url=base_url,
            pinterest_client_id=CLIENT_ID,
            pinterest_client_secret=SECRET,
            pinterest_api_base_url=pinterest.url,
            pinterest_oauth_authorize_url=pinterest.url + "/oauth/",
        )
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = create_workspace(session, "Pins", mode="live")
            add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
        engine.dispose()
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert thread.is_alive(), "the server stopped"
            time.sleep(0.02)
        yield Served(base_url, fake, path)
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
        sock.close()


def test_the_connect_button_goes_through_pinterests_consent(served: Served) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser: Any = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        problems: list[str] = []
        page.on(  # the dashboard's own pages (the fake serves no favicon)
            "console",
            lambda message: (
                problems.append(message.text)
                if str(message.location.get("url", "")).startswith(served.base_url)
                else None
            ),
        )
        page.goto(served.base_url + "/login")
        page.fill('input[name="email"]', EMAIL)
        page.fill('input[name="password"]', PASSWORD)
        page.click('form[action="/login"] button[type="submit"]')
        page.wait_for_url(served.base_url + "/")
        page.goto(served.base_url + "/integrations")
        page.click('form[action="/integrations/pinterest/connect"] button[type="submit"]')
        page.wait_for_selector("text=Give access as second_shop")  # the fake's test users
        page.click("text=Give access as second_shop")
        page.wait_for_url(served.base_url + "/integrations*")
        assert "Pinterest account connected with its owner's consent" in page.content()
        assert problems == []
        browser.close()

    engine = make_engine(f"sqlite:///{served.database}")
    with make_sessionmaker(engine)() as session:
        (integration,) = session.scalars(select(Integration)).all()
        assert (integration.platform, integration.username) == ("pinterest", "second_shop")
        assert integration.credentials_encrypted  # sealed tokens, never plain
    engine.dispose()
