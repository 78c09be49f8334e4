"""A collecting process: huey worker threads plus a scheduler thread that plans only while
it holds the scheduler lease.

Every ``openpost worker`` (and ``openpost serve`` without ``--no-worker``) runs one
``Collector``. The lease is a row in ``scheduler_leases`` with an expiry, renewed on every
pass by its holder and taken over by another process once it has expired: however many
workers run, exactly one plans at a time, and a killed scheduler is replaced within
``lease_ttl``. (Claims make even an overlapping pass harmless: a target is claimed once.)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from openpost.core import clock, unavailable
from openpost.core.db import insert_ignoring_conflicts, transaction
from openpost.refresh.models import SchedulerLease
from openpost.refresh.runner import Runtime, tick
from openpost.refresh.tasks import JobQueue
from openpost.webhooks.delivery import Sender

log = logging.getLogger("openpost.refresh.worker")

LEASE_NAME = "scheduler"


def acquire_lease(
    session: Session, holder: str, now: datetime, ttl: timedelta, name: str = LEASE_NAME
) -> bool:
    """Take or renew the lease; False while another holder's lease is unexpired."""
    renewed = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if getattr(renewed, "rowcount", 0) == 1:
        return True
    inserted = session.execute(
        insert_ignoring_conflicts(session, SchedulerLease, ["name"])
        .values(name=name, holder=holder, expires_at=now + ttl)
        .returning(SchedulerLease.name)
    ).first()
    return inserted is not None


def release_lease(session: Session, holder: str, name: str = LEASE_NAME) -> None:
    session.execute(
        delete(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
    )


class Collector:
    def __init__(
        self, runtime: Runtime, queue: JobQueue, *, workers: int, scheduler: bool = True
    ) -> None:
        self.runtime = runtime
        self.queue = queue
        queue.attach(runtime)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.interval = runtime.settings.scheduler_interval_seconds
        self.lease_ttl = timedelta(seconds=max(3 * self.interval, 5.0))
        self._stop = threading.Event()
        self._consumer = queue.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=min(1.0, self.interval),
            check_worker_health=False,
        )
        self._scheduler = (
            threading.Thread(target=self._schedule, name="openpost-scheduler", daemon=True)
            if scheduler
            else None
        )
        # Every collecting process sends due webhook deliveries (claims keep them apart).
        self.sender = Sender(runtime.factory, runtime.settings)
        self._sending = threading.Thread(target=self._send, name="openpost-webhooks", daemon=True)
        self.leading = False

    def start(self) -> None:
        """Start the worker threads and the scheduler thread (no signal handlers)."""
        self._consumer.scheduler.start()
        for _, thread in self._consumer.worker_threads:
            thread.start()
        if self._scheduler is not None:
            self._scheduler.start()
        self._sending.start()
        log.info("collector started", extra={"holder": self.holder})

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, let running ones finish (up to ``timeout``), give up the lease."""
        self._stop.set()
        self._consumer.shutdown_timeout = timeout
        self._consumer.stop(graceful=True)
        if self._scheduler is not None and self._scheduler.is_alive():
            self._scheduler.join(timeout)
        if self._sending.is_alive():
            self._sending.join(timeout)
        self.sender.close()
        log.info("collector stopped", extra={"holder": self.holder})

    def run_forever(self) -> None:
        """``openpost worker``: run until SIGINT or SIGTERM, then stop gracefully."""
        stopping = threading.Event()

        def _on_signal(_signum: int, _frame: FrameType | None) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        self.start()
        while not stopping.wait(0.5):
            pass
        self.stop()

    def pass_once(self) -> int:
        """One scheduler iteration: plan and queue if this process holds the lease."""
        now = clock.now()
        with transaction(self.runtime.factory) as session:
            self.leading = acquire_lease(session, self.holder, now, self.lease_ttl)
        if not self.leading:
            return 0
        return self.queue.enqueue(tick(self.runtime, now))

    def _schedule(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                queued = self.pass_once()
                if queued:
                    log.info("scheduler queued jobs", extra={"jobs": queued})
            except Exception as exc:  # keep scheduling: the next pass may well succeed
                if unavailable.is_database_unavailable(exc):  # an outage: one line, no trace
                    unavailable.note(exc, "scheduler pass")
                else:
                    log.exception("scheduler pass failed")
            self._stop.wait(max(self.interval - (time.monotonic() - started), 0.05))
        if self.leading:
            try:
                with transaction(self.runtime.factory) as session:
                    release_lease(session, self.holder)
            except Exception:
                log.exception("could not release the scheduler lease")

    def _send(self) -> None:
        poll = self.runtime.settings.webhook_poll_seconds
        while not self._stop.is_set():
            try:
                self.sender.run_once()
            except Exception as exc:  # keep sending: the next pass may well succeed
                if unavailable.is_database_unavailable(exc):
                    unavailable.note(exc, "webhook deliveries")
                else:
                    log.exception("webhook delivery pass failed")
            self._stop.wait(poll)
