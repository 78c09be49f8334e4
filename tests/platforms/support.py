"""What the platform tests share: the moment they are frozen at, a clock a test can move, and
a fake run as its own server process (``python -m openpost.platforms.<name>.fake``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


class Clock:
    """A clock standing at ``now`` until a test sets it elsewhere."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fake_server(name: str, *args: str) -> Iterator[str]:
    """Run ``openpost.platforms.<name>.fake`` with ``args`` on a free loopback port and
    yield its base URL once it answers (any status: a 404 at ``/`` means it is up)."""
    port = free_port()
    command = [sys.executable, "-m", f"openpost.platforms.{name}.fake", "--port", str(port)]
    process = subprocess.Popen(  # noqa: S603 - our own module on a loopback port
        [*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=2)
                break
            except httpx.ConnectError:
                assert process.poll() is None, "the fake server exited"
                assert time.monotonic() < deadline, "the fake server did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
