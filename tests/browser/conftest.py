"""Browser tests: a real uvicorn server over a demo-seeded SQLite database, driven by
Playwright through Debian's Chromium.

No browser is ever downloaded (``playwright install`` cannot run here): the tests launch
``/usr/bin/chromium`` (``OPENPOST_TEST_CHROMIUM`` overrides the path). Without it they skip
locally and FAIL under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.workspaces.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from tests.browser.newcomers import seed_newcomers

CHROMIUM = os.environ.get("OPENPOST_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Every run writes its screenshots to tests/artifacts/screenshots (ignored by git);
# OPENPOST_UPDATE_SCREENSHOTS=1 writes them to docs/screenshots, the ones the README shows.
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("OPENPOST_UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "tests" / "artifacts" / "screenshots"
)


@dataclass
class Demo:
    base_url: str
    key: str
    email: str = DEMO_EMAIL
    password: str = DEMO_PASSWORD
    timezone: str = "Europe/Berlin"
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self, path: str) -> bytes:
        assert self.base_url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(  # noqa: S310 - the loopback test server, checked above
            self.base_url + path, headers={"Authorization": f"Bearer {self.key}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - same
            return bytes(response.read())

    def api_json(self, path: str) -> Any:
        return json.loads(self.api(path))


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path_factory.mktemp("browser") / "openpost.db"
    closed = _free_socket()  # bound, never listening: Bluesky "cannot be reached"
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{path}",
        data_dir=path.parent,
        secret_key="browser-test-secret-0123456789",
        bluesky_api_base_url=f"http://127.0.0.1:{closed.getsockname()[1]}",
    )
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        seeded = seed_demo(session, clock.now())
        extra = seed_newcomers(session, clock.now())
    engine.dispose()

    sock = _free_socket()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()
    yield Demo(base_url=f"http://{host}:{port}", key=seeded.key, extra=extra)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()
    sock.close()
    closed.close()


# A 1x1 PNG, served in place of the platforms' thumbnails (no outside network in tests).
THUMB = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b1a5a40000000049454e44ae426082"
)


def serve_thumbnails(context: Any) -> None:
    """Answer the browser's thumbnail requests (YouTube's and X's image hosts) locally."""
    for pattern in ("https://i.ytimg.com/**", "https://pbs.twimg.com/**"):
        context.route(
            pattern,
            lambda route: route.fulfill(status=200, content_type="image/png", body=THUMB),
        )


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
