"""What the fault tests share: real servers of their own, ``openpost`` processes, data.

Each test starts what it breaks: a private ``redis-server`` or PostgreSQL cluster on a free
loopback port (the shared servers at 6379 and 5432 are never stopped). The database under
test follows the suite's pass: SQLite in a temporary folder, or, with
``OPENPOST_TEST_DATABASE_URL`` set, a throwaway database on that PostgreSQL server. A
missing binary skips the test with its name, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from openpost.analytics.models import Snapshot
from openpost.auth.service import create_key
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.posts.models import PostTarget
from openpost.refresh.models import RefreshState
from openpost.workspaces.service import create_workspace

OPENPOST = str(Path(sys.executable).with_name("openpost"))
PG_SERVER = os.environ.get("OPENPOST_TEST_DATABASE_URL", "")
PG_BIN = Path(os.environ.get("OPENPOST_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
LEASE_SECONDS = 3
ON_POSTGRES = bool(PG_SERVER)

only_sqlite_pass = pytest.mark.skipif(
    ON_POSTGRES, reason="SQLite only: runs in the suite's SQLite pass"
)
only_postgres_pass = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="starts its own PostgreSQL: runs in the suite's PostgreSQL pass "
    "(OPENPOST_TEST_DATABASE_URL set)",
)


def require_binary(path: str | Path) -> str:
    found = shutil.which(str(path))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} is not installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class RedisServer:
    """A private ``redis-server`` (no persistence: a stop loses its queue, as a crash
    of a cache-configured Redis would)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=1)
        wait_for("redis-server", lambda: _pings(client), timeout=10)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash: nothing saved, connections cut
            self.process.wait(timeout=10)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary folder, run as the ``postgres`` user
    when this process is root (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.initdb = require_binary(PG_BIN / "initdb")
        self.pg_ctl = require_binary(PG_BIN / "pg_ctl")
        # /tmp, not pytest's tmp_path: that one is private to root (mode 0700).
        self.root = Path(tempfile.mkdtemp(prefix="openpost-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = [require_binary("runuser"), "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - fixed binaries and arguments
            [*self._as, *args], capture_output=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"{args[0]} failed: {done.stdout!r} {done.stderr!r}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "30", action, *extra)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def close(self) -> None:
        with suppress(AssertionError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def create_pg_database(server_url: str) -> str:
    name = f"openpost_fault_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def pass_database(data_dir: Path) -> Iterator[str]:
    """The database of this pass of the suite, migrated: SQLite under ``data_dir`` or a
    throwaway PostgreSQL database."""
    url = create_pg_database(PG_SERVER) if PG_SERVER else f"sqlite:///{data_dir / 'openpost.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if PG_SERVER:
            drop_pg_database(PG_SERVER, url)


def base_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENPOST_ENV": "test",
        "OPENPOST_DATA_DIR": str(data_dir),
        "OPENPOST_SCHEDULER_INTERVAL_SECONDS": "0.3",
        "OPENPOST_CAPTURE_LEASE_SECONDS": str(LEASE_SECONDS),
        "OPENPOST_WORKER_THREADS": "2",
        "OPENPOST_LOG_LEVEL": "INFO",
    }
    env["OPENPOST_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass
class Processes:
    """``openpost`` processes of one test, their logs, and an API client."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    files: list[Any] = field(default_factory=list)
    api: httpx.Client | None = None

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        self.files.append(log)
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [OPENPOST, *args], env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def serve(self, *args: str, **env: str) -> httpx.Client:
        port = free_port()
        self.start("serve", "serve", "--port", str(port), *args, **env)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        api = self.api

        def healthy() -> bool:
            try:
                return api.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the API", healthy)
        return api

    def run(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
            [OPENPOST, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def stop(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():  # all at once, then wait for each
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # in case a test left it stopped
                process.send_signal(signal.SIGTERM)
        for name in list(self.processes):
            self.stop(name)
        for log in self.files:
            log.close()
        if self.api is not None:
            self.api.close()

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def tail_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.logs.glob("*.log"))
        )


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    found = Processes(env=env, logs=logs)
    try:
        yield found
    except BaseException:
        print(found.tail_logs())  # noqa: T201 - shown with the failure
        raise
    finally:
        found.stop_all()


def workspace_with_key(engine: Engine, name: str = "Faults") -> dict[str, str]:
    """A test-mode workspace (synthetic platforms, no network) and its key's header."""
    with transaction(make_sessionmaker(engine)) as session:
        workspace = create_workspace(session, name, mode="test")
        _, key = create_key(session, workspace, "faults")
    return {"Authorization": f"Bearer {key}"}


def connect(api: httpx.Client, headers: dict[str, str], count: int) -> list[str]:
    """Connect ``count`` synthetic Bluesky accounts (100 posts each once discovered)."""
    ids = []
    for n in range(count):
        response = api.post(
            "/v1/integrations",
            headers=headers,
            json={"platform": "bluesky", "username": f"fault{n}.bsky.social"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["data"]["id"])
    return ids


def snapshot_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Snapshot)) or 0)


def per_target(engine: Engine) -> dict[Any, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Snapshot.post_target_id, func.count()).group_by(Snapshot.post_target_id)
        ).all()
    return {target: int(n) for target, n in rows}


def make_due(engine: Engine, workspace_id: uuid.UUID | None = None) -> int:
    """Every target still collected (of one workspace, or all) becomes due now: a sweep's
    worth of work."""
    query = update(RefreshState).where(RefreshState.next_due_at.is_not(None))
    if workspace_id is not None:
        query = query.where(RefreshState.workspace_id == workspace_id)
    with engine.begin() as conn:
        done = conn.execute(query.values(next_due_at=clock.now()))
    return int(done.rowcount)


def wait_discovered(engine: Engine, integrations: int, timeout: float = 40.0) -> int:
    """Wait until every integration's posts are discovered, each with its first snapshot;
    how many targets there are."""

    def done() -> bool:
        with engine.connect() as conn:
            accounts = conn.scalar(select(func.count(func.distinct(PostTarget.integration_id))))
            targets = conn.scalar(select(func.count()).select_from(PostTarget))
        return accounts == integrations and targets == snapshot_count(engine)

    wait_for("discovery", done, timeout)
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(PostTarget)) or 0)


def assert_captures_whole(engine: Engine) -> None:
    """No capture half written: each target's latest and previous pointers name its two
    newest snapshots, its last success is its newest reading, and no (target, capture key)
    appears twice."""
    with engine.connect() as conn:
        snapshots = conn.execute(
            select(
                Snapshot.id, Snapshot.post_target_id, Snapshot.captured_at, Snapshot.capture_key
            ).order_by(Snapshot.post_target_id, Snapshot.captured_at.desc(), Snapshot.id.desc())
        ).all()
        states = {
            row.post_target_id: row
            for row in conn.execute(
                select(
                    RefreshState.post_target_id,
                    RefreshState.latest_snapshot_id,
                    RefreshState.previous_snapshot_id,
                    RefreshState.last_success_at,
                )
            )
        }
    by_target: dict[Any, list[Any]] = {}
    for row in snapshots:
        by_target.setdefault(row.post_target_id, []).append(row)
    for target, rows in by_target.items():
        keys = [r.capture_key for r in rows]
        assert len(keys) == len(set(keys)), f"a capture key twice for {target}"
        state = states[target]
        assert state.latest_snapshot_id == rows[0].id, f"latest pointer of {target}"
        previous = rows[1].id if len(rows) > 1 else None
        assert state.previous_snapshot_id == previous, f"previous pointer of {target}"
        assert state.last_success_at == rows[0].captured_at, f"last success of {target}"
