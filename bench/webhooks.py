"""Webhook delivery after the commit: latency (p50, p99) and throughput (SPEC §9.7).

    .venv/bin/python -m bench.webhooks --engine sqlite --engine postgresql --append

One workspace subscribes to ``collection.failed`` at a receiver on 127.0.0.1 (a threaded
``http.server`` that notes the arrival time of each event id). A sending thread runs the
same loop as every collecting process (``Collector._send``: ``Sender.run_once``, then wait
``OPENPOST_WEBHOOK_POLL_SECONDS``), with the real ``Sender``: claim, sign, POST, record.

- **Latency**: ``--events`` events, each emitted in its own transaction at a random moment
  (so the commits fall anywhere in the poll cycle); the figure is the receiver's arrival
  time minus the moment the emitting transaction committed. Measured at the default poll
  interval (1 s) and at a short one, since the poll is what a receiver waits for.
- **Throughput**: ``--burst`` events emitted in one transaction, then the time until the
  last is recorded delivered (status written back), beside the same bodies POSTed directly
  with a plain ``httpx.Client`` to the same receiver (the floor: HTTP alone, no database).

``--append`` writes the "Webhook delivery" section of ``bench/RESULTS.md`` (only that).
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, locate
from bench.machine import code_measured, load_average
from bench.sections import write_section
from bench.stats import percentile, table
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.webhooks.delivery import Sender
from openpost.webhooks.events import emit
from openpost.webhooks.models import DeliveryStatus, EventType, Webhook, WebhookDelivery
from openpost.webhooks.schemas import WebhookCreate
from openpost.webhooks.service import create as create_hook
from openpost.workspaces.service import create_workspace

HEADING = "## Webhook delivery"
START, END = "<!-- webhook-delivery:start -->", "<!-- webhook-delivery:end -->"
SHORT_POLL = 0.05


@dataclass
class Arrivals:
    """Event id → monotonic arrival time, as the receiver saw them."""

    at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.at) >= count:
                    return True
            time.sleep(0.002)
        return False


@contextmanager
def receiving() -> Iterator[Arrivals]:
    arrivals = Arrivals()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrived = time.monotonic()
            event_id = str(orjson.loads(body)["id"])
            with arrivals.lock:
                arrivals.at.setdefault(event_id, arrived)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    arrivals.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield arrivals
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def sending(factory: sessionmaker[Session], settings: Settings) -> Iterator[None]:
    """The collecting process's sending loop, in a thread."""
    sender = Sender(factory, settings)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            sender.run_once()
            stop.wait(settings.webhook_poll_seconds)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        sender.close()


@dataclass
class Figures:
    engine: str
    latency_ms: dict[float, list[float]] = field(default_factory=dict)  # poll → samples
    burst: int = 0
    burst_seconds: float = 0.0
    bare_seconds: float = 0.0


def _emit_one(factory: sessionmaker[Session], workspace_id: uuid.UUID, n: int) -> None:
    with transaction(factory) as session:
        emit(
            session,
            workspace_id,
            EventType.collection_failed,
            {"integration_id": f"bench-{n}", "failures": 5},
            clock.now(),
        )


def _latency(
    factory: sessionmaker[Session], settings: Settings, workspace_id: uuid.UUID, events: int
) -> list[float]:
    rng = random.Random(7)
    samples: list[float] = []
    with receiving() as arrivals:
        _subscribe(factory, settings, workspace_id, arrivals.url)
        with sending(factory, settings):
            for n in range(events):
                time.sleep(rng.uniform(0, settings.webhook_poll_seconds))
                before = set(arrivals.at)
                _emit_one(factory, workspace_id, n)
                committed = time.monotonic()
                if not arrivals.wait_for(len(before) + 1, 30 + settings.webhook_poll_seconds):
                    raise RuntimeError("an event was not delivered within 30 s")
                with arrivals.lock:
                    (new,) = set(arrivals.at) - before
                    samples.append((arrivals.at[new] - committed) * 1000)
    _unsubscribe_all(factory)
    return samples


def _burst(
    factory: sessionmaker[Session], settings: Settings, workspace_id: uuid.UUID, burst: int
) -> tuple[float, float]:
    with receiving() as arrivals:
        _subscribe(factory, settings, workspace_id, arrivals.url)
        with transaction(factory) as session:
            for n in range(burst):
                emit(
                    session,
                    workspace_id,
                    EventType.collection_failed,
                    {"integration_id": f"burst-{n}", "failures": 5},
                    clock.now(),
                )
        started = time.monotonic()
        with sending(factory, settings):
            while _pending(factory) and time.monotonic() - started < 600:
                time.sleep(0.01)
        through_service = time.monotonic() - started
        if _pending(factory):
            raise RuntimeError("the burst was not delivered within 10 minutes")
        bodies = [
            orjson.dumps({"id": f"bare-{n}", "type": "collection.failed", "data": {"n": n}})
            for n in range(burst)
        ]
        headers = {"Content-Type": "application/json"}
        with httpx.Client() as client:
            started = time.monotonic()
            for body in bodies:
                client.post(arrivals.url, content=body, headers=headers)
            bare = time.monotonic() - started
    _unsubscribe_all(factory)
    return through_service, bare


def _pending(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == DeliveryStatus.pending.value)
            )
            or 0
        )


def _subscribe(
    factory: sessionmaker[Session], settings: Settings, workspace_id: uuid.UUID, url: str
) -> None:
    with transaction(factory) as session:
        create_hook(
            session,
            settings,
            workspace_id,
            WebhookCreate(url=url, events=[EventType.collection_failed], description="bench"),
            clock.now(),
        )


def _unsubscribe_all(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for hook in session.scalars(select(Webhook)):
            session.delete(hook)


def run(
    engine_name: str,
    *,
    events: int,
    burst: int,
    work_dir: Path,
    pg_url: str,
    polls: tuple[float, ...] = (1.0, SHORT_POLL),
) -> Figures:
    db = locate(
        engine_name,
        0,
        work_dir=work_dir,
        pg_server_url=pg_url,
        name="webhooks" if engine_name == "sqlite" else "openpost_bench_webhooks",
    )
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    figures = Figures(engine_name, burst=burst)
    try:
        with transaction(factory) as session:
            workspace_id = create_workspace(session, "Webhooks bench").id
        for poll in polls:
            settings = _settings(db.url, poll)
            figures.latency_ms[poll] = _latency(factory, settings, workspace_id, events)
        figures.burst_seconds, figures.bare_seconds = _burst(
            factory, _settings(db.url, SHORT_POLL), workspace_id, burst
        )
    finally:
        engine.dispose()
        db.drop()
    return figures


def _settings(url: str, poll: float) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        webhook_allow_private_addresses=True,
        webhook_poll_seconds=poll,
    )


def render(all_figures: list[Figures], command: str) -> str:
    latency_rows = [
        [
            f.engine,
            f"{poll:g} s",
            len(samples),
            round(percentile(samples, 0.5), 1),
            round(percentile(samples, 0.99), 1),
            round(max(samples), 1),
        ]
        for f in all_figures
        for poll, samples in f.latency_ms.items()
    ]
    burst_rows = [
        [
            f.engine,
            f.burst,
            round(f.burst_seconds, 2),
            round(f.burst / f.burst_seconds),
            round(f.burst / f.bare_seconds),
            round((f.burst / f.burst_seconds) / (f.burst / f.bare_seconds), 2),
        ]
        for f in all_figures
    ]
    return (
        "From the commit of the transaction that emitted an event to its arrival at a "
        "receiver on 127.0.0.1 (`bench/webhooks.py`; the real `Sender` in the collecting "
        "process's loop).\n\n"
        + table(["engine", "poll interval", "events", "p50 ms", "p99 ms", "max ms"], latency_rows)
        + "\n\nThroughput: a burst emitted in one transaction, until every delivery is "
        "recorded delivered (one sending thread, poll "
        f"{SHORT_POLL:g} s), beside the same number of plain `httpx` POSTs to the same "
        "receiver.\n\n"
        + table(
            ["engine", "events", "seconds", "deliveries/s", "bare POSTs/s", "÷ bare"], burst_rows
        )
        + f"\n\n`{command}`; code {code_measured()}; load average {load_average()}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--events", type=int, default=60, help="latency samples per interval")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--append", action="store_true", help="write the section of RESULTS.md")
    args = parser.parse_args(argv)
    figures = [
        run(name, events=args.events, burst=args.burst, work_dir=args.work_dir, pg_url=args.pg_url)
        for name in args.engine or ["sqlite"]
    ]
    text = render(figures, "python -m bench.webhooks " + shlex.join(argv or sys.argv[1:]))
    print(text)
    if args.append:
        write_section(HEADING, START, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
