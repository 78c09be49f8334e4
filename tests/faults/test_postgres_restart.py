"""PostgreSQL restarts during reads and a sweep (issue 11, faults of the parts).

A private PostgreSQL cluster (initdb into a temporary folder, on a free port) serves one
``openpost serve --no-worker`` and one ``openpost worker`` (captures slowed by
``capture.fetch:0.25`` so the sweep is in flight), with a private ``redis-server`` as the
queue. A reader keeps calling the API from another thread while the cluster is stopped
(``pg_ctl stop -m fast``: sessions terminated, new connections refused) and started again.
Every answer meanwhile is a 200 or a 503 ``{"error": …}`` with ``Retry-After``, never a
500; the same processes answer 200 again once it is back (the pool replaces its dead
connections by itself); the sweep finishes with every due target captured exactly once,
and no capture is half written.

PostgreSQL pass only (it starts its own PostgreSQL; the SQLite pass skips it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from openpost.core.db import make_engine
from openpost.core.migrate import upgrade
from tests.faults import harness

pytestmark = harness.only_postgres_pass


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[harness.Processes, harness.PostgresCluster, str]]:
    data = tmp_path / "data"
    data.mkdir()
    with ExitStack() as stack:
        cluster = harness.PostgresCluster()
        stack.callback(cluster.close)
        cluster.start()
        url = harness.create_pg_database(cluster.url)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        server = stack.enter_context(harness.redis_server(tmp_path))
        env = harness.base_env(data, url, OPENPOST_QUEUE_URL=server.url())
        yield stack.enter_context(harness.processes(env, tmp_path)), cluster, url


@dataclass
class Reader:
    """Calls two read endpoints in a loop; keeps every (status, body, Retry-After) and when
    it came back."""

    base_url: str
    headers: dict[str, str]
    answers: list[tuple[int, bytes, str | None]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=10) as api:
            while not self.stop.is_set():
                for path in ("/v1/analytics", "/v1/posts"):
                    response = api.get(path, params={"limit": 20})
                    retry_after = response.headers.get("retry-after")
                    self.answers.append((response.status_code, response.content, retry_after))
                    self.times.append(time.monotonic())
                time.sleep(0.02)


def test_postgres_restarts_during_reads_and_a_sweep(
    setup: tuple[harness.Processes, harness.PostgresCluster, str],
) -> None:
    procs, cluster, url = setup
    engine = make_engine(url)
    reader: Reader | None = None
    thread: threading.Thread | None = None
    try:
        headers = harness.workspace_with_key(engine)
        worker = procs.start("worker", "worker", OPENPOST_FAULT_INJECTION="capture.fetch:0.25")
        api = procs.serve("--no-worker")
        harness.connect(api, headers, 3)
        targets = harness.wait_discovered(engine, 3)
        reader = Reader(str(api.base_url), headers)
        thread = threading.Thread(target=reader.run, daemon=True)
        thread.start()
        due = harness.make_due(engine)

        def sweeping() -> bool:
            return sum(harness.per_target(engine).values()) > targets

        harness.wait_for("the sweep to start writing", sweeping, timeout=20)
        engine.dispose()  # the test's own connections go down with the server too
        cluster.stop("fast")
        stopped = time.monotonic()
        time.sleep(2.0)
        restarting = time.monotonic()
        cluster.start()

        def answering() -> bool:
            return reader is not None and reader.answers[-1][0] == 200

        harness.wait_for("the API to answer again", answering, timeout=20)

        def finished() -> bool:
            return sum(harness.per_target(engine).values()) == targets + due

        harness.wait_for("the sweep to finish", finished, timeout=45)
        time.sleep(harness.LEASE_SECONDS + 1)  # every chance for a capture to run twice
        reader.stop.set()
        thread.join(timeout=15)

        # answered while the server was down (an answer already on its way when the
        # shutdown finished is given 0.3 s)
        outage = [
            answer
            for answer, at in zip(reader.answers, reader.times, strict=True)
            if stopped + 0.3 <= at <= restarting
        ]
        assert outage, "no request was made during the outage"
        assert all(status == 503 for status, _, _ in outage), {s for s, _, _ in outage}
        statuses = {status for status, _, _ in reader.answers}
        assert statuses == {200, 503}, statuses
        for status, body, retry_after in reader.answers:
            if status == 503:
                assert body == b'{"error":"the database is unavailable; try again shortly"}'
                assert retry_after == "5"
        assert reader.answers[-1][0] == 200
        after = harness.per_target(engine)
        assert sum(after.values()) == targets + due
        assert sum(1 for n in after.values() if n == 2) == due
        harness.assert_captures_whole(engine)
        assert worker.poll() is None  # nothing of ours was restarted
        assert procs.processes["serve"].poll() is None
        served = procs.log_text("serve")
        assert "unhandled error" not in served
        assert "Traceback" not in served
    finally:
        if reader is not None:
            reader.stop.set()
        if thread is not None:
            thread.join(timeout=15)
        engine.dispose()
