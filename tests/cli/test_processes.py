"""``serve``, ``worker`` and ``demo`` as real processes: what a person at a shell sees."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

OPENPOST = str(Path(sys.executable).with_name("openpost"))


def _env(data: Path, **settings: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "OPENPOST_ENV": "test",
        "OPENPOST_DATA_DIR": str(data),
        "OPENPOST_LOG_LEVEL": "WARNING",
        **settings,
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [OPENPOST, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (["serve", "--no-worker"], "OPENPOST_QUEUE_URL", "sqlite:///{data}/queue.db"),
        (["serve"], "OPENPOST_QUEUE_URL", "sqlite:///{data}/queue.db"),
        (["worker"], "OPENPOST_QUEUE_URL", "sqlite:///{data}/queue.db"),
        (["serve", "--no-worker"], "OPENPOST_API_RATE_LIMIT", "lots"),
        (["worker"], "OPENPOST_API_RATE_LIMIT", "lots"),
        (["demo"], "OPENPOST_DATABASE_URL", "mongodb://db/openpost"),
    ],
)
def test_a_bad_setting_stops_the_process_at_start(
    tmp_path: Path, busy_port: int, command: list[str], variable: str, value: str
) -> None:
    env = _env(tmp_path, **{variable: value.format(data=tmp_path), "OPENPOST_PORT": str(busy_port)})
    done = _run(command, env)
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {variable}: ")
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_serve_on_a_busy_port_says_so_and_what_to_do(tmp_path: Path, busy_port: int) -> None:
    done = _run(["serve", "--port", str(busy_port)], _env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: port {busy_port} on 127.0.0.1 is already in use (another `openpost serve`?); "
        "stop that process, or choose another port with --port or OPENPOST_PORT"
    )
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_production(tmp_path: Path) -> None:
    env = _env(tmp_path, OPENPOST_ENV="production", OPENPOST_SECRET_KEY="s" * 32)
    done = _run(["demo"], env)
    assert done.returncode == 1
    assert "does not run with OPENPOST_ENV=production" in done.stderr
    assert "demo@openpost.local" in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def _wait_until_up(base: str, server: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server stopped"
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not come up")


def _stop(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def test_demo_serve_links_its_port_refuses_a_second_run_and_serves(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, OPENPOST_PORT=str(port))
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [OPENPOST, "demo", "--serve", "--json"], env=env, stdout=subprocess.PIPE, stderr=log,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        payload = json.loads(server.stdout.readline())
        assert payload["dashboard_url"] == f"{base}/"
        assert payload["api_url"] == f"{base}/v1"
        _wait_until_up(base, server)
        auth = {"Authorization": f"Bearer {payload['key']}"}
        assert (
            httpx.get(f"{base}/v1/analytics", params={"limit": 1}, headers=auth).status_code == 200
        )

        keys = ["key", "list", "--workspace", payload["workspace_id"], "--json"]
        before = json.loads(_run(keys, env).stdout)["data"]
        again = _run(["demo", "--serve"], env)
        assert again.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in again.stderr
        assert again.stdout == ""
        assert json.loads(_run(keys, env).stdout)["data"] == before  # no new key
    finally:
        _stop(server)
        log.close()
        if server.stdout is not None:
            server.stdout.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text()

    # The same database behind `serve --no-worker`: refreshes are queued, not a 500.
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [OPENPOST, "serve", "--no-worker"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        _wait_until_up(base, server)
        integrations = httpx.get(f"{base}/v1/integrations", headers=auth).json()["data"]
        queued = httpx.post(
            f"{base}/v1/analytics/refresh",
            json={"integration_id": integrations[0]["id"]},
            headers=auth,
        )
        assert queued.status_code == 202, queued.text
    finally:
        _stop(server)


@pytest.mark.parametrize("command", [["worker"], ["serve", "--no-worker"], ["serve"]])
def test_an_unreachable_redis_queue_stops_the_start_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    env = _env(
        tmp_path,
        OPENPOST_QUEUE_URL="redis://:hunter2@127.0.0.1:1/0",
        OPENPOST_PORT=str(_free_port()),
    )
    assert _run(["db", "upgrade"], env).returncode == 0
    done = _run(command, env)
    assert done.returncode == 1, done
    assert done.stderr.strip().splitlines() == [
        "error: cannot reach Redis at redis://:***@127.0.0.1:1/0 (OPENPOST_QUEUE_URL): "
        "Error 111 connecting to 127.0.0.1:1. Connection refused."
    ]
    assert "hunter2" not in done.stdout + done.stderr
