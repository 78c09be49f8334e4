"""A job queue that cannot be reached defers the jobs to their lease; it raises nothing."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openpost.config import Settings
from openpost.refresh.batches import Batch
from openpost.refresh.runner import Jobs
from openpost.refresh.tasks import JobQueue


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _batch() -> Batch:
    return Batch(
        key="bluesky", platform="bluesky", synthetic=True, targets=(), claim=datetime.now(UTC)
    )


def test_unreachable_redis_queues_nothing_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0?socket_connect_timeout=0.5"
    queue = JobQueue(Settings(env="test", data_dir=tmp_path, queue_url=url))
    with caplog.at_level(logging.WARNING, logger="openpost.refresh.queue"):
        assert queue.enqueue(Jobs(batches=[_batch(), _batch()])) == 0
    [record] = caplog.records
    assert record.getMessage().startswith("job queue unreachable")
    assert (record.__dict__["queued"], record.__dict__["left"]) == (0, 2)
    assert record.__dict__["error"] == "ConnectionError"


def test_a_reachable_queue_takes_every_job(tmp_path: Path) -> None:
    queue = JobQueue(Settings(env="test", data_dir=tmp_path))  # SQLite under the data dir
    assert queue.enqueue(Jobs(batches=[_batch(), _batch()])) == 2
    assert queue.pending() == 2
