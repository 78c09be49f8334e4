"""Redis stops in the middle of a sweep and comes back (issue 11, faults of the parts).

A private ``redis-server`` holds the job queue (DB 0) and the rate-limit counts (DB 1) of
one ``openpost serve --no-worker`` and one ``openpost worker`` whose captures are slowed
(``capture.fetch:0.25``) so that the sweep is in flight when Redis is killed (no
persistence: the jobs queued in it are gone). While it is down the API answers, counting
rate limits in its own memory (docs/decisions/0005), and a refresh request is accepted
(its claim is committed; the job runs once the claim's lease ends). Redis comes back on the
same port and, with no process restarted, collection finishes: every target due in the
sweep is captured exactly once, none twice, none half.

Both passes: the database is the pass's (SQLite or PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from openpost.core.db import make_engine
from openpost.posts.models import PostTarget
from tests.faults import harness


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[harness.Processes, harness.RedisServer, str]]:
    data = tmp_path / "data"
    data.mkdir()
    with ExitStack() as stack:
        url = stack.enter_context(harness.pass_database(data))
        server = stack.enter_context(harness.redis_server(tmp_path))
        env = harness.base_env(
            data,
            url,
            OPENPOST_QUEUE_URL=server.url(0),
            OPENPOST_RATE_LIMIT_STORAGE_URL=server.url(1),
            OPENPOST_METRICS_TOKEN=METRICS_TOKEN,
        )
        yield stack.enter_context(harness.processes(env, tmp_path)), server, url


METRICS_TOKEN = "faults-metrics-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def _degraded(api: Any) -> float:
    """The serve process's rate-limit storage gauge (1: counting per process)."""
    scraped = api.get("/metrics", headers=METRICS_AUTH).text
    return _metric(scraped, "openpost_rate_limit_storage_degraded")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}")


def test_redis_stops_during_a_sweep_and_comes_back(
    setup: tuple[harness.Processes, harness.RedisServer, str],
) -> None:
    procs, redis_server, url = setup
    engine = make_engine(url)
    try:
        headers = harness.workspace_with_key(engine)
        worker = procs.start("worker", "worker", OPENPOST_FAULT_INJECTION="capture.fetch:0.25")
        api = procs.serve("--no-worker")  # both start meanwhile
        harness.connect(api, headers, 3)
        targets = harness.wait_discovered(engine, 3)
        due = harness.make_due(engine)
        assert due >= 150  # a dozen batches of 25: seconds of work at 0.25 s a batch

        def sweeping() -> bool:
            return sum(harness.per_target(engine).values()) > targets

        harness.wait_for("the sweep to start writing", sweeping, timeout=20)
        redis_server.stop()
        stopped_at = sum(harness.per_target(engine).values()) - targets
        assert stopped_at < due  # stopped in the middle of the sweep

        # Redis is down: reads answer, limited per process; a refresh is accepted.
        for _ in range(5):
            read = api.get("/v1/analytics", headers=headers, params={"limit": 5})
            assert read.status_code == 200, read.text
            assert int(read.headers["RateLimit-Limit"]) == 600
        assert int(read.headers["RateLimit-Remaining"]) == 595  # this process's count
        assert (
            _metric(
                api.get("/metrics", headers=METRICS_AUTH).text,
                "openpost_rate_limit_storage_degraded",
            )
            == 1
        )
        captured = {t for t, n in harness.per_target(engine).items() if n == 2}
        with engine.connect() as conn:  # the youngest post the sweep read: one more read
            chosen, post_id = conn.execute(
                select(PostTarget.id, PostTarget.post_id)
                .where(PostTarget.id.in_(captured))
                .order_by(PostTarget.published_at.desc())
                .limit(1)
            ).one()
        refreshed = api.post(
            "/v1/analytics/refresh", headers=headers, json={"post_id": str(post_id)}
        )
        assert (refreshed.status_code, refreshed.json()) == (202, {"data": {"queued": 1}})
        time.sleep(1.0)  # the worker's queue reads fail meanwhile; it must not give up
        assert worker.poll() is None

        redis_server.start()  # same port, empty

        def finished() -> bool:
            return sum(harness.per_target(engine).values()) == targets + due + 1

        harness.wait_for("collection to resume and finish", finished, timeout=45)
        time.sleep(harness.LEASE_SECONDS + 1)  # every chance for a job to run twice
        after = harness.per_target(engine)
        assert sum(after.values()) == targets + due + 1
        assert after[chosen] == 3
        assert sum(1 for n in after.values() if n == 2) == due - 1
        harness.assert_captures_whole(engine)
        assert worker.poll() is None
        assert procs.processes["serve"].poll() is None
        # the API counts in Redis again
        api.get("/v1/analytics", headers=headers, params={"limit": 1})
        assert (
            _metric(
                api.get("/metrics", headers=METRICS_AUTH).text,
                "openpost_rate_limit_storage_degraded",
            )
            == 0
        )
        assert "Traceback" not in procs.log_text("serve")
    finally:
        engine.dispose()
