"""The embedded default: one ``openpost serve`` process on SQLite collects by itself.

A test workspace connects a synthetic account through the API; with no other process
running, the embedded scheduler discovers its posts and the embedded worker stores their
first snapshots; a refresh request is then queued on huey's SQLite storage and read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from openpost.auth.service import create_key
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.workspaces.service import create_workspace

OPENPOST = str(Path(sys.executable).with_name("openpost"))


def wait_for(what: str, check: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_serve_alone_collects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'openpost.db'}")
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        workspace = create_workspace(session, "Embedded", mode="test")
        _, key = create_key(session, workspace, "e2e")
    engine.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENPOST_ENV": "test",
        "OPENPOST_DATA_DIR": str(data),
        "OPENPOST_SCHEDULER_INTERVAL_SECONDS": "0.5",
        "OPENPOST_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [OPENPOST, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
    )
    try:

        def up() -> bool:
            try:
                return api.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the server", up)
        connected = api.post("/v1/integrations", json={"platform": "bluesky", "username": "demo"})
        assert connected.status_code == 201, connected.text

        def snapshots() -> list[dict[str, object]]:
            rows: list[dict[str, object]] = api.get("/v1/analytics", params={"limit": 500}).json()[
                "data"
            ]
            return rows

        wait_for("discovery and first snapshots", lambda: len(snapshots()) > 0)
        first = snapshots()
        assert {row["platform"] for row in first} == {"bluesky"}
        assert all(row["impressions"] is None for row in first)  # Bluesky reports none

        post_id = first[0]["post_id"]
        queued = api.post("/v1/analytics/refresh", json={"post_id": post_id})
        assert queued.status_code == 202, queued.text
        assert queued.json() == {"data": {"queued": 1}}

        def refreshed() -> bool:
            rows = api.get(f"/v1/analytics/post/{post_id}").json()["data"]["targets"][0]
            return len(rows["snapshots"]) == 2

        wait_for("the queued refresh", refreshed)
        status = api.get("/v1/analytics/status").json()["data"]
        assert status["integrations"][0]["discovery"]["outcome"] == "ok"
    except BaseException:
        print((tmp_path / "serve.log").read_text(errors="replace")[-4000:])  # noqa: T201
        raise
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            api.close()
            log.close()
