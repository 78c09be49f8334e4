"""A worker killed inside the commit of a capture (issue 11, faults of the parts).

Worker A runs with ``OPENPOST_FAULT_INJECTION=capture.commit``: its first capture sends
every statement of its transaction (snapshots, refresh states, pointers) and the process
SIGKILLs itself before the COMMIT, exactly there, every time. The database keeps nothing
of it; worker B (no fault) re-plans the batch once its lease ends and captures every
target exactly once.

Both passes: on SQLite with the embedded defaults (huey's SQLite queue in the shared data
folder, two worker processes), on PostgreSQL with a private ``redis-server`` as the queue.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from openpost.core.db import make_engine
from tests.faults import harness


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[harness.Processes, str]]:
    data = tmp_path / "data"
    data.mkdir()
    with ExitStack() as stack:
        url = stack.enter_context(harness.pass_database(data))
        extra = {}
        if harness.ON_POSTGRES:
            server = stack.enter_context(harness.redis_server(tmp_path))
            extra["OPENPOST_QUEUE_URL"] = server.url()
        env = harness.base_env(data, url, **extra)
        yield stack.enter_context(harness.processes(env, tmp_path)), url


def test_worker_killed_inside_a_capture_commit(
    setup: tuple[harness.Processes, str],
) -> None:
    procs, url = setup
    engine = make_engine(url)
    try:
        headers = harness.workspace_with_key(engine)
        worker_a = procs.start("worker-a", "worker", OPENPOST_FAULT_INJECTION="capture.commit")
        api = procs.serve("--no-worker")  # both start meanwhile
        harness.connect(api, headers, 2)
        targets = harness.wait_discovered(engine, 2)  # discovery is not a capture: no fault
        before = harness.per_target(engine)
        assert set(before.values()) == {1}

        due = harness.make_due(engine)
        assert due > 0
        assert worker_a.wait(timeout=30) == -signal.SIGKILL  # killed itself in the commit
        assert harness.per_target(engine) == before  # nothing of the capture was kept
        harness.assert_captures_whole(engine)

        procs.start("worker-b", "worker")
        started = time.monotonic()

        def recaptured() -> bool:
            return sum(harness.per_target(engine).values()) == targets + due

        harness.wait_for("worker B to capture everything again", recaptured, timeout=40)
        elapsed = time.monotonic() - started
        time.sleep(harness.LEASE_SECONDS + 1)  # every chance for a duplicate to appear
        after = harness.per_target(engine)
        assert sum(after.values()) == targets + due
        assert set(after.values()) <= {1, 2}
        assert sum(1 for n in after.values() if n == 2) == due
        harness.assert_captures_whole(engine)
        assert elapsed < 30
    finally:
        engine.dispose()
