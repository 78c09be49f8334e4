"""The "Connect Threads with the owner's consent" button in a real browser: Chromium logs
in, presses it, goes through the fake Threads consent page (served over HTTP) and comes back
to the Integrations page, first refused (the owner is not a tester of the app yet: the page
says what to do), then connected. The page's Content-Security-Policy must let the form reach
Threads, and nothing may break in the console."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.platforms.threads.fake import FakeThreads, FakeUser
from openpost.workspaces.service import add_member, create_workspace
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PORTS = range(19150, 19200)  # this helper's ports (the e2e test uses the lower half)
EMAIL, PASSWORD = "owner@threads-browser.example", "threads-browser-password"
APP_ID, APP_SECRET = "threads-browser-app", "threads-browser-secret-value"


def _socket() -> socket.socket:
    for port in PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError("no free port in 19150-19199")


def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread


@dataclass
class Site:
    base_url: str
    fake: FakeThreads
    owner: FakeUser
    outsider: FakeUser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path: Path = tmp_path_factory.mktemp("threads-browser") / "openpost.db"
    fake = FakeThreads()
    owner = fake.add_user("openpost", name="OpenPost")
    outsider = fake.add_user("outsider", tester=False)
    fake_sock, app_sock = _socket(), _socket()
    app_url = "http://{}:{}".format(*app_sock.getsockname())
    fake_url = "http://{}:{}".format(*fake_sock.getsockname())
    fake.add_app(APP_ID, APP_SECRET, app_url + "/integrations/threads/callback")
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{path}",
        data_dir=path.parent,
        secret_key="threads-browser-secret-0123456789",
        public_base_url=app_url,
        threads_api_base_url=fake_url,
        threads_oauth_authorize_url=fake_url + "/oauth/authorize",
        threads_client_id=APP_ID,
        threads_client_secret=APP_SECRET,
    )
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        workspace = create_workspace(session, "Threads browser", mode="live")
        add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
    engine.dispose()
    app = create_app(settings)
    servers = [_serve(fake.app, fake_sock), _serve(app, app_sock)]
    yield Site(app_url, fake, owner, outsider)
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
    app.state.engine.dispose()
    fake_sock.close()
    app_sock.close()


@pytest.fixture(scope="module")
def page(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(site.base_url + "/login")
        page.fill('input[name="email"]', EMAIL)
        page.fill('input[name="password"]', PASSWORD)
        page.click('form[action="/login"] button[type="submit"]')
        page.wait_for_url(site.base_url + "/")
        page.problems = problems  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


def _press_connect(page: Any, site: Site) -> None:
    page.goto(site.base_url + "/integrations")
    button = page.get_by_role("button", name="Connect Threads with the owner's consent")
    button.click()
    page.wait_for_url(f"{site.base_url}/integrations?*")


def test_a_non_tester_is_told_what_to_do_then_the_tester_connects(page: Any, site: Site) -> None:
    site.fake.set_consent("approve", site.outsider)
    _press_connect(page, site)
    assert page.url.endswith("/integrations?threads_error=threads_not_tester")
    alert = page.locator("#consent-error").inner_text()
    assert "has not accepted the app's tester invitation" in alert
    assert "Website permissions" in alert

    site.fake.set_consent("approve", site.owner)
    _press_connect(page, site)
    # Threads appends "#_" to its redirect; a browser keeps the fragment through ours.
    assert page.url == site.base_url + "/integrations?notice=threads-connected#_"
    notice = page.get_by_role("status").first.inner_text()
    assert "Threads account connected with its owner's consent" in notice
    assert "openpost" in page.content()
    assert page.problems == []  # type: ignore[attr-defined]
