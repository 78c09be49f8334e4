"""End to end, with real processes: PostgreSQL, Redis, the fake X over HTTP, two
``openpost worker``s and one ``openpost serve --no-worker``.

The story: connect X accounts through the API (two workspaces); their recent posts are
discovered and their first snapshots carry the fake's counters; counters change but no
snapshot appears until a post is due; a deleted post is marked; a worker killed with
SIGKILL in the middle of a batch loses and duplicates nothing; and ``openpost refresh
--once --now T`` (the controllable clock) reads exactly the posts due at T, across
workspaces, in one request.

The fake X is served over real HTTP by ``LiveServer`` in this process (the same app as
``python -m openpost.platforms.x.fake``) so that the test can change its posts.

Needs PostgreSQL (``OPENPOST_TEST_POSTGRES_URL``, a server URL; a throwaway database is
created and dropped) and Redis (``OPENPOST_TEST_E2E_REDIS_URL``, default DB 14, flushed:
the worker processes use the fixed queue name). Unreachable servers skip the test, except
with ``CI=true``, where they fail it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from openpost.analytics.models import Snapshot
from openpost.auth.service import create_key
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.platforms.fakes import LiveServer
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeX, seed
from openpost.posts.models import PostTarget
from openpost.workspaces.service import create_workspace

PG_SERVER = os.environ.get(
    "OPENPOST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("OPENPOST_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
OPENPOST = str(Path(sys.executable).with_name("openpost"))
LEASE_SECONDS = 3


def _unavailable(what: str, exc: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is unreachable in CI: {exc}")
    pytest.skip(f"{what} is unreachable: {exc}")


@pytest.fixture
def database() -> Iterator[str]:
    name = f"openpost_e2e_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(make_url(PG_SERVER), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server
        _unavailable(f"PostgreSQL at {PG_SERVER}", exc)
    yield make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def queue_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        _unavailable(f"Redis at {REDIS_URL}", exc)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


class Watched:
    """The fake X's app, counting post lookups as they start (before any answer)."""

    def __init__(self, state: FakeX) -> None:
        self.state = state
        self.lookups_started = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/2/tweets":
            self.lookups_started += 1
        await self.state.app(scope, receive, send)


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str, Watched]]:
    state = FakeX(app_token=DEFAULT_APP_TOKEN)
    watched = Watched(state)
    with LiveServer(watched) as server:
        yield state, server.url, watched


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Cluster:
    env: dict[str, str]
    logs: Path
    api: httpx.Client
    engine: Engine
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    files: list[Any] = field(default_factory=list)
    metrics_port: int = 0  # worker-b's Prometheus port

    def run(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
            [OPENPOST, *args], env=self.env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.files.append(log)
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own CLI
            [OPENPOST, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def signal(self, name: str, signum: int) -> None:
        os.kill(self.processes[name].pid, signum)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.files:
            log.close()

    def tail_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.logs.glob("*.log"))
        )

    def snapshots_by_target(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    PostTarget.platform_post_id,
                    Snapshot.likes,
                    Snapshot.impressions,
                    Snapshot.capture_key,
                    Snapshot.captured_at,
                )
                .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
                .order_by(Snapshot.captured_at, Snapshot.id)
            ).all()
        found: dict[str, list[tuple[Any, ...]]] = {}
        for post_id, likes, impressions, key, at in rows:
            found.setdefault(post_id, []).append((likes, impressions, key, at))
        return found

    def snapshot_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Snapshot)) or 0


METRICS_TOKEN = "e2e-metrics-token"


@pytest.fixture
def cluster(
    database: str, queue_url: str, fake: tuple[FakeX, str, Watched], tmp_path: Path
) -> Iterator[Cluster]:
    _, fake_url, _ = fake
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENPOST_ENV": "test",
        "OPENPOST_DATABASE_URL": database,
        "OPENPOST_QUEUE_URL": queue_url,
        "OPENPOST_DATA_DIR": str(tmp_path / "data"),
        "OPENPOST_X_API_BASE_URL": fake_url,
        "OPENPOST_X_BEARER_TOKEN": DEFAULT_APP_TOKEN,
        "OPENPOST_SCHEDULER_INTERVAL_SECONDS": "0.5",
        "OPENPOST_CAPTURE_LEASE_SECONDS": str(LEASE_SECONDS),
        "OPENPOST_WORKER_THREADS": "2",
        "OPENPOST_LOG_LEVEL": "INFO",
        "OPENPOST_METRICS_TOKEN": METRICS_TOKEN,
    }
    engine = make_engine(database)
    upgrade(engine)  # what `openpost db upgrade` does, without another interpreter start
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    found = Cluster(env=env, logs=tmp_path, api=api, engine=engine, metrics_port=_free_port())
    found.start("serve", "serve", "--no-worker", "--port", str(port))
    found.start("worker-a", "worker")
    found.start("worker-b", "worker", "--metrics-port", str(found.metrics_port))

    def healthy() -> bool:
        try:
            return api.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for("the API", healthy)
        yield found
    except BaseException:
        print(found.tail_logs())  # noqa: T201 - shown with the failure
        raise
    finally:
        found.stop_all()
        api.close()
        engine.dispose()


def _workspace(cluster: Cluster, name: str) -> dict[str, str]:
    """A live workspace and its API key (what `openpost workspace|key create` do)."""
    with transaction(make_sessionmaker(cluster.engine)) as session:
        workspace = create_workspace(session, name)
        _, key = create_key(session, workspace, "e2e")
    return {"Authorization": f"Bearer {key}"}


def _counts(fake: FakeX, account: FakeAccount) -> dict[str, tuple[int, int]]:
    return {
        p.id: (p.public_metrics["like_count"], p.public_metrics["impression_count"])
        for p in fake.posts.values()
        if p.author_id == account.id and not p.deleted
    }


def test_collection_end_to_end(cluster: Cluster, fake: tuple[FakeX, str, Watched]) -> None:
    x, _, watched = fake
    openpost = seed(x, posts=60)  # @openpost: a post every 4 h, the newest 1 h old
    acme = x.add_account("acme", name="Acme")
    news = x.add_account("news", name="News")
    now = datetime.now(UTC)
    for account in (acme, news):
        for n in range(60):
            x.add_post(
                account,
                created_at=now - timedelta(hours=4 * n + 2),
                impressions=1000 + n,
                likes=100 + n,
            )
    one = _workspace(cluster, "One")
    two = _workspace(cluster, "Two")

    # 1. Connect accounts through the API; discovery imports 50 posts each.
    integrations = {}
    for headers, account in ((one, openpost), (two, acme), (two, news)):
        response = cluster.api.post(
            "/v1/integrations",
            headers=headers,
            json={"platform": "twitter", "username": account.username},
        )
        assert response.status_code == 201, response.text
        integrations[account.username] = response.json()["data"]
        assert integrations[account.username]["external_account_id"] == account.id
    wait_for("discovery", lambda: cluster.snapshot_count() == 150)
    listed = cluster.api.get("/v1/posts", headers=two, params={"limit": 200}).json()["data"]
    assert len(listed) == 100
    assert all(post["source"] == "discovered" for post in listed)
    # ... and each first snapshot carries the fake's counters
    expected = {**_counts(x, openpost), **_counts(x, acme), **_counts(x, news)}
    snapshots = cluster.snapshots_by_target()
    assert len(snapshots) == 150
    for post_id, rows in snapshots.items():
        assert [(likes, views) for likes, views, _, _ in rows] == [expected[post_id]]
    page = cluster.api.get("/v1/analytics", headers=one, params={"limit": 500}).json()["data"]
    assert len(page) == 50
    assert all(
        (row["likes"], row["impressions"]) == expected[_post_id(cluster, row["post_target_id"])]
        for row in page[:5]
    )

    # 2. Counters change; nothing is due (fresh posts: every 30 min), so nothing is read.
    for post in x.posts.values():
        post.public_metrics["like_count"] += 1000
    lookups = len(x.calls("tweets_lookup"))
    time.sleep(2.0)  # four scheduler passes
    assert cluster.snapshot_count() == 150
    assert len(x.calls("tweets_lookup")) == lookups == 0

    # 3. A deleted post is marked, once a refresh reads it.
    newest = max(
        (p for p in x.posts.values() if p.author_id == openpost.id), key=lambda p: p.created_at
    )
    x.delete_post(newest.id)
    gone_post_id = _post_of(cluster, newest.id)
    response = cluster.api.post(
        "/v1/analytics/refresh", headers=one, json={"post_id": gone_post_id}
    )
    assert response.status_code == 202
    assert response.json() == {"data": {"queued": 1}}

    def marked() -> bool:
        post = cluster.api.get(f"/v1/posts/{gone_post_id}", headers=one).json()["data"]
        return bool(post["post_targets"][0]["status"] == "deleted")

    wait_for("the deleted post to be marked", marked)

    # 4. SIGKILL a worker in the middle of a batch: nothing lost, nothing written twice.
    before = cluster.snapshots_by_target()
    cluster.signal("worker-b", signal.SIGSTOP)  # only worker-a may take the next job
    time.sleep(1.5)  # worker-b's blocking reads on the queue time out
    x.inject("slow", endpoint="tweets_lookup", delay=3.0)
    started = watched.lookups_started
    response = cluster.api.post(
        "/v1/analytics/refresh",
        headers=two,
        json={"integration_id": integrations["acme"]["id"]},
    )
    queued = response.json()["data"]["queued"]
    assert queued == 18  # acme's posts younger than X's 72 h window (ages 2 h … 70 h)
    wait_for(
        "worker-a to be inside the batch", lambda: watched.lookups_started > started, timeout=15
    )
    cluster.signal("worker-a", signal.SIGKILL)
    cluster.processes["worker-a"].wait(timeout=10)
    assert cluster.snapshots_by_target() == before  # it died before writing anything
    cluster.signal("worker-b", signal.SIGCONT)  # the survivor re-plans once the lease ends

    acme_due = _counts(x, acme)
    refreshed = {
        post_id
        for post_id in acme_due
        if next(p for p in x.posts.values() if p.id == post_id).created_at
        > datetime.now(UTC) - timedelta(hours=72)
    }
    assert len(refreshed) == queued

    def acme_done() -> bool:
        return all(len(cluster.snapshots_by_target()[p]) == 2 for p in refreshed)

    wait_for("the killed batch to be captured again", acme_done, timeout=40)
    time.sleep(LEASE_SECONDS + 1)  # give a duplicate every chance to appear
    after = cluster.snapshots_by_target()
    for post_id, rows in after.items():
        if post_id in refreshed:
            assert len(rows) == 2, post_id
            assert rows[1][:2] == acme_due[post_id]  # the changed counters
        else:
            assert rows == before[post_id], post_id
    # worker-b's own counters (it captured the batch again), and the shared state on the
    # API's /metrics (that process collects nothing itself)
    scraped = httpx.get(f"http://127.0.0.1:{cluster.metrics_port}/metrics", timeout=10).text
    assert _sample(scraped, 'openpost_capture_batches_total{platform="twitter",result="ok"}') >= 1
    assert _sample(scraped, 'openpost_snapshots_written_total{platform="twitter"}') >= queued
    served = cluster.api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert _sample(served, 'openpost_platform_budget_spent{platform="twitter",unit="posts"}') > 0
    assert _sample(served, "openpost_collection_lag_seconds") >= 0
    assert "openpost_capture_batches_total{" not in served  # counted where the work ran

    status = cluster.api.get("/v1/analytics/status", headers=two).json()["data"]
    by_name = {item["username"]: item for item in status["integrations"]}
    assert by_name["acme"]["tracked"] == 50
    # the two posts older than 66 h were read, and are frozen now: their next read would
    # fall after X's 72 h window
    assert (by_name["acme"]["outcomes"]["ok"], by_name["acme"]["frozen"]) == (16, 34)
    assert status["platforms"][0]["platform"] == "twitter"
    windows = {w["endpoint"]: w for w in status["platforms"][0]["rate_limits"]}
    assert windows["metrics"]["limit"] == 3500
    assert windows["discovery"]["limit"] == 10000

    # 5. The controllable clock: a sweep as if it were 31 minutes later reads exactly the
    # posts then due (every workspace's posts under 24 h), in one request.
    later = (datetime.now(UTC) + timedelta(minutes=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = json.loads(cluster.run("refresh", "--once", "--dry-run", "--now", later, "--json"))
    connected = {openpost.id, acme.id, news.id}
    young = {
        p.id
        for p in x.posts.values()
        if p.author_id in connected
        and not p.deleted
        and p.created_at > datetime.now(UTC) - timedelta(hours=24)
    }
    assert plan["targets"] == len(young) == 17  # 6 per account, less the deleted one
    assert plan["requests"] == 1
    lookups = len(x.calls("tweets_lookup"))
    summary = json.loads(cluster.run("refresh", "--once", "--now", later, "--json"))
    assert (summary["requests"], summary["snapshots_written"]) == (1, 17)
    assert len(x.calls("tweets_lookup")) == lookups + 1
    final = cluster.snapshots_by_target()
    for post_id in young:
        assert final[post_id][-1][:2] == expected_now(x, post_id)
        assert final[post_id][-1][3] == datetime.fromisoformat(later.replace("Z", "+00:00"))
    assert sum(len(rows) for rows in final.values()) == 150 + 18 + 17


def _sample(text: str, name: str) -> float:
    """A sample's value in Prometheus's text format (the line starting with ``name``)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}")


def expected_now(x: FakeX, post_id: str) -> tuple[int, int]:
    post = x.posts[post_id]
    return post.public_metrics["like_count"], post.public_metrics["impression_count"]


def _post_id(cluster: Cluster, target_id: str) -> str:
    with cluster.engine.connect() as conn:
        found = conn.scalar(
            select(PostTarget.platform_post_id).where(PostTarget.id == uuid.UUID(target_id))
        )
    assert found is not None
    return str(found)


def _post_of(cluster: Cluster, platform_post_id: str) -> str:
    with cluster.engine.connect() as conn:
        found = conn.scalar(
            select(PostTarget.post_id).where(PostTarget.platform_post_id == platform_post_id)
        )
    return str(found)
