"""The job queue on huey, and its jobs: ``refresh.capture`` (one batch),
``refresh.discover`` (one integration's new posts) and ``refresh.accounts`` (one batch of
account reads, SPEC §9.4).

Storage: huey's SQLite storage in ``<data_dir>/queue.db`` by default (the embedded mode:
``openpost serve`` consumes it itself), or Redis with ``OPENPOST_QUEUE_URL=redis://…``
(any number of ``openpost worker`` processes consume it).

Job arguments are plain JSON-able payloads (ids and the claim); everything else is read
from the database when the job runs. A job may run twice, or its worker may die half-way
(huey removes a job from the queue before running it): the claim check and the capture key
make a repeat harmless, and a lost job's targets are planned again once its lease ends.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import redis
from huey import Huey, RedisHuey, SqliteHuey

from openpost.config import Settings
from openpost.core import unavailable
from openpost.refresh import account_capture, account_reads, discovery
from openpost.refresh.batches import Batch
from openpost.refresh.capture import capture_batch
from openpost.refresh.runner import Jobs, Runtime

log = logging.getLogger("openpost.refresh.queue")

QUEUE_NAME = "openpost"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# What huey's storages raise when they cannot store a job (Redis, or the SQLite queue file).
QUEUE_ERRORS = (redis.exceptions.RedisError, sqlite3.Error, OSError)


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url.startswith(REDIS_SCHEMES):
        return RedisHuey(QUEUE_NAME, url=url, results=False)
    if url:
        raise ValueError(
            "OPENPOST_QUEUE_URL must be empty (SQLite under the data dir) or redis://…"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.data_dir / "queue.db"), results=False)


class JobQueue:
    """Where jobs go. A consuming process ``attach``es the runtime that runs them."""

    def __init__(self, settings: Settings, huey: Huey | None = None) -> None:
        self.huey = huey if huey is not None else make_huey(settings)
        self._runtime: Runtime | None = None
        self._capture = self.huey.task(name="refresh.capture")(self._run_capture)
        self._discover = self.huey.task(name="refresh.discover")(self._run_discover)
        self._accounts = self.huey.task(name="refresh.accounts")(self._run_accounts)

    def attach(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("this process has no collection runtime: it only queues jobs")
        return self._runtime

    def enqueue(self, jobs: Jobs) -> int:
        """Queue the jobs (their rows are committed already); how many were queued.

        A queue that cannot be reached (Redis stopped, the SQLite queue's disk full) loses
        nothing: the jobs' targets stay claimed until their lease ends and are planned
        again then. So the failure is a warning here, not an error for the caller (the
        scheduler pass, or the API's 202 for a refresh whose claims are committed).
        """
        work = [(self._discover, job.payload()) for job in jobs.discoveries]
        work += [(self._capture, batch.payload()) for batch in jobs.batches]
        work += [(self._accounts, job.payload()) for job in jobs.accounts]
        for queued, (task, payload) in enumerate(work):
            try:
                task(payload)
            except QUEUE_ERRORS as exc:
                log.warning(
                    "job queue unreachable; the rest of these jobs run after their lease",
                    extra={
                        "error": type(exc).__name__,
                        "queued": queued,
                        "left": len(work) - queued,
                    },
                )
                return queued
        return len(work)

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def run_pending(self) -> int:
        """Run every queued job in this thread, in order (tests and ``--once`` helpers)."""
        done = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            done += 1
        return done

    def _run_capture(self, payload: dict[str, Any]) -> dict[str, int]:
        rt = self.runtime
        try:
            result = capture_batch(rt.factory, rt.clients, rt.policy, Batch.from_payload(payload))
        except Exception as exc:
            _unless_outage(exc, "capture")
            return {"written": 0, "stale": 0, "requests": 0}
        return {"written": result.written, "stale": result.stale, "requests": result.requests}

    def _run_discover(self, payload: dict[str, Any]) -> dict[str, int]:
        rt = self.runtime
        job = discovery.DiscoveryJob.from_payload(payload)
        try:
            result = discovery.run(rt.factory, rt.clients, rt.policy, job)
        except Exception as exc:
            _unless_outage(exc, "discovery")
            return {"discovered": 0, "snapshots": 0}
        return {"discovered": result.discovered, "snapshots": result.snapshots}

    def _run_accounts(self, payload: dict[str, Any]) -> dict[str, int]:
        rt = self.runtime
        job = account_reads.AccountJob.from_payload(payload)
        try:
            result = account_capture.run(rt.factory, rt.clients, rt.policy, job)
        except Exception as exc:
            _unless_outage(exc, "account read")
            return {"written": 0, "requests": 0}
        return {"written": result.written, "requests": result.requests}


def _unless_outage(error: Exception, job: str) -> None:
    """A job that failed because the database is unavailable is given up with one line (its
    transaction rolled back whole; its claim brings it back after the lease); any other
    failure is raised for huey to log with its traceback."""
    if not unavailable.is_database_unavailable(error):
        raise error
    unavailable.note(error, f"{job} job (planned again when its lease ends)")
