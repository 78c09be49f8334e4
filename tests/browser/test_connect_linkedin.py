"""The "Connect LinkedIn" button in a real browser: Chromium presses it on the Integrations
page of a live workspace, lands on the fake LinkedIn's consent page (served over HTTP on
loopback), picks a test member who administers a page, and comes back to the dashboard,
which shows the page connected. The service is a real uvicorn server whose settings point
LinkedIn's consent page, token endpoint and API at the fake."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.platforms.fakes import LiveServer
from openpost.platforms.linkedin.fake import FakeLinkedIn
from openpost.workspaces.service import add_member, create_workspace
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_socket

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "li-admin@openpost.test", "linkedin-browser-password-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeLinkedIn]]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    fake = FakeLinkedIn()
    ada = fake.add_member("Ada", "Admin")
    fake.add_member("Mo", "Member")
    fake.add_organization("Acme Analytics", admin=ada, followers=12)
    sock = _free_socket()
    host, port = sock.getsockname()
    base = f"http://{host}:{port}"
    fake.add_oauth_client(
        "li-browser", "li-browser-secret", base + "/integrations/linkedin/callback"
    )
    path = tmp_path_factory.mktemp("linkedin-browser") / "openpost.db"
    with LiveServer(fake.app) as linkedin:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{path}",
            data_dir=path.parent,
            secret_key="browser-test-secret-0123456789",
            public_base_url=base,
            linkedin_client_id="li-browser",
            linkedin_client_secret="li-browser-secret",
            linkedin_api_base_url=linkedin.url,
            linkedin_oauth_authorize_url=linkedin.url + "/oauth/v2/authorization",
            linkedin_oauth_token_url=linkedin.url + "/oauth/v2/accessToken",
        )
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = create_workspace(session, "Acme", mode="live", timezone="UTC")
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
        yield base, fake
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
        sock.close()


@pytest.fixture(scope="module")
def page(site: tuple[str, FakeLinkedIn]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    base, _ = site
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(base + "/login")
        tab.fill('input[name="email"]', EMAIL)
        tab.fill('input[name="password"]', PASSWORD)
        tab.click('form[action="/login"] button[type="submit"]')
        tab.wait_for_url(base + "/")
        yield tab
        context.close()
        browser.close()


def test_the_connect_button_goes_to_linkedin_and_back_connected(
    page: Any, site: tuple[str, FakeLinkedIn]
) -> None:
    base, fake = site
    page.goto(base + "/integrations")
    page.click("form[action='/integrations/linkedin/connect'] button[type='submit']")
    page.wait_for_selector("text=Allow as Ada Admin")
    assert "Allow as Mo Member" in page.content()
    page.click("text=Allow as Ada Admin")
    page.wait_for_url(base + "/integrations?notice=linkedin-connected")
    text = page.inner_text("main")
    assert "LinkedIn account connected with its owner's consent" in text
    assert "urn:li:organization:" in text
    assert "Acme Analytics" in text
    assert [r.params["grant_type"] for r in fake.calls("access_token")] == ["authorization_code"]
