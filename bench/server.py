"""The service under test: a real uvicorn process on a loopback port.

``create`` is the uvicorn factory (``bench.server:create``); ``Server`` starts and stops
the process and reads its memory from ``/proc``. The process serves HTTP only, with
access logging off and the per-key rate limit raised out of the way (the benchmark makes
thousands of requests a minute with one key); everything else is the stock app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from fastapi import FastAPI

from openpost.app import create_app
from openpost.config import Settings

REPO = Path(__file__).resolve().parent.parent


def create() -> FastAPI:
    """The app, configured from ``OPENPOST_*`` environment variables like production."""
    return create_app(Settings())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``with Server(url, log_path) as server:`` → ``server.base_url``, ``server.pid``."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        env = {
            **os.environ,
            "OPENPOST_ENV": "development",
            "OPENPOST_DATABASE_URL": self.database_url,
            "OPENPOST_DATA_DIR": str(self.log_path.parent),
            "OPENPOST_API_RATE_LIMIT": "100000000/minute",
            "OPENPOST_LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.server:create",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def memory_kib(self) -> dict[str, int]:
        """``VmRSS`` and ``VmHWM`` (the resident high-water mark) of the server process."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
        return values

    def reset_peak(self) -> bool:
        """Reset ``VmHWM`` to the current RSS (Linux ``clear_refs`` 5); False if refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True
