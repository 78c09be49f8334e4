"""The scheduler lease, the job queue on huey (SQLite and Redis storage), and the embedded
collector consuming it in threads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker, transaction
from openpost.platforms.x.fake import FakeX
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from openpost.refresh.tasks import JobQueue
from openpost.refresh.worker import Collector, acquire_lease, release_lease
from tests import builders
from tests.refresh.conftest import NOW, Clock, make_runtime, track, x_integration

REDIS_URL = os.environ.get("OPENPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TTL = timedelta(seconds=30)


def test_one_lease_holder_at_a_time(engine: Engine) -> None:
    factory = make_sessionmaker(engine)

    def take(holder: str, at: timedelta) -> bool:
        with transaction(factory) as session:
            return acquire_lease(session, holder, NOW + at, TTL)

    assert take("a", timedelta(0))
    assert not take("b", timedelta(seconds=1))
    assert take("a", timedelta(seconds=20))  # renewed: now valid until 50 s
    assert not take("b", timedelta(seconds=45))
    assert take("b", timedelta(seconds=50))  # a went quiet: b takes over
    assert not take("a", timedelta(seconds=51))
    with transaction(factory) as session:
        release_lease(session, "b")
    assert take("a", timedelta(seconds=52))


def _due_targets(session: Session, fake: FakeX, count: int) -> None:
    account = fake.add_account("openpost")
    workspace = builders.make_workspace(session)
    integration = x_integration(session, workspace, account)
    for n in range(count):
        post = fake.add_post(account, created_at=NOW - timedelta(hours=1), likes=n)
        track(session, integration, post.id, published_at=post.created_at)
    session.commit()


def _settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"scheduler_interval_seconds": 0.2, **changes})


def test_only_the_lease_holder_schedules(
    session: Session, collect_settings: Settings, engine: Engine, fake_x: FakeX, now: Clock
) -> None:
    _due_targets(session, fake_x, 3)
    settings = _settings(collect_settings)
    queue = JobQueue(settings)
    first = Collector(make_runtime(settings, engine, fake_x), queue, workers=1)
    second = Collector(make_runtime(settings, engine, fake_x), JobQueue(settings), workers=1)
    assert first.pass_once() == 3  # one discovery, one batch, one account read
    assert second.pass_once() == 0
    assert (first.leading, second.leading) == (True, False)
    assert queue.pending() == 3


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_embedded_collector_collects(
    session: Session, collect_settings: Settings, engine: Engine, fake_x: FakeX, now: Clock
) -> None:
    _due_targets(session, fake_x, 150)
    settings = _settings(collect_settings, worker_threads=2)
    collector = Collector(make_runtime(settings, engine, fake_x), JobQueue(settings), workers=2)
    collector.start()
    try:
        wait_for(lambda: session.scalar(select(func.count()).select_from(Snapshot)) == 150)
    finally:
        collector.stop(timeout=10)
    assert len(fake_x.calls("tweets_lookup")) == 2  # 150 posts: ⌈150/100⌉ lookups


@pytest.fixture
def redis_settings(collect_settings: Settings) -> Iterator[Settings]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    yield collect_settings.model_copy(update={"queue_url": REDIS_URL})
    client.flushdb()
    client.close()


def test_redis_queue(
    session: Session, redis_settings: Settings, engine: Engine, fake_x: FakeX, now: Clock
) -> None:
    _due_targets(session, fake_x, 3)
    rt: Runtime = make_runtime(redis_settings, engine, fake_x)
    producer = JobQueue(redis_settings)
    assert producer.enqueue(runner.tick(rt, NOW)) == 3  # discovery, batch, account read
    consumer = JobQueue(redis_settings)  # another process's view of the same queue
    consumer.attach(rt)
    assert consumer.pending() == 3
    assert consumer.run_pending() == 3
    assert session.scalar(select(func.count()).select_from(Snapshot)) == 3


def test_queue_url_must_be_redis(collect_settings: Settings) -> None:
    with pytest.raises(ValueError, match="OPENPOST_QUEUE_URL"):
        JobQueue(collect_settings.model_copy(update={"queue_url": "amqp://x"}))


def test_a_running_collector_delivers_webhooks(
    session: Session, collect_settings: Settings, engine: Engine, fake_x: FakeX
) -> None:
    """The collector's own thread sends what is due, to a real receiver, after the commit."""
    from openpost.webhooks import service
    from openpost.webhooks.events import emit
    from openpost.webhooks.models import EventType
    from openpost.webhooks.schemas import WebhookCreate
    from tests.webhooks.receiver import receiver

    settings = _settings(
        collect_settings, webhook_allow_private_addresses=True, webhook_poll_seconds=0.1
    )
    workspace = builders.make_workspace(session)
    with receiver() as hook:
        service.create(
            session,
            settings,
            workspace.id,
            WebhookCreate(url=hook.url, events=[EventType.budget_exhausted]),
            clock.now(),
        )
        session.commit()
        collector = Collector(make_runtime(settings, engine, fake_x), JobQueue(settings), workers=1)
        collector.start()
        try:
            emit(session, workspace.id, EventType.budget_exhausted, {"platform": "x"}, clock.now())
            session.commit()
            wait_for(lambda: len(hook.received) == 1)
        finally:
            collector.stop(timeout=10)
        assert b'"type":"budget.exhausted"' in hook.received[0].body
