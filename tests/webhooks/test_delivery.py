"""Webhook deliveries against a real HTTP receiver on 127.0.0.1: signed, retried with backoff
after 500s and timeouts under the same event id, given up after the retry period, never
sent to a private address unless allowed, and only for work that committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.webhooks import service, signing
from openpost.webhooks.delivery import Sender, backoff
from openpost.webhooks.events import emit
from openpost.webhooks.models import EventType, WebhookDelivery
from openpost.webhooks.schemas import WebhookCreate
from openpost.workspaces.models import Workspace
from tests import builders
from tests.webhooks.receiver import Receiver, receiver

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
EVENT = EventType.integration_needs_refresh


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    # The receiver is on 127.0.0.1: allowed here, refused by default (tested below).
    return settings.model_copy(
        update={"webhook_allow_private_addresses": True, "webhook_timeout_seconds": 1}
    )


@pytest.fixture
def factory(engine: object) -> sessionmaker[Session]:
    return make_sessionmaker(engine)  # type: ignore[arg-type]


@pytest.fixture
def workspace(session: Session) -> Workspace:
    found = builders.make_workspace(session)
    session.commit()
    return found


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


def subscribe(session: Session, settings: Settings, workspace: Workspace, url: str) -> str:
    created = service.create(
        session, settings, workspace.id, WebhookCreate(url=url, events=[EVENT]), NOW
    )
    session.commit()
    return str(created["secret"])


def fire(session: Session, workspace: Workspace, n: int = 1) -> None:
    for i in range(n):
        emit(session, workspace.id, EVENT, {"integration_id": f"i-{i}"}, NOW)
    session.commit()


def deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_delivery_is_signed_and_carries_the_event(
    session: Session,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    secret = subscribe(session, hook_settings, workspace, hook.url)
    fire(session, workspace)
    sender = Sender(factory, hook_settings)
    run = sender.run_once(NOW)
    sender.close()

    assert (run.delivered, run.retrying, run.failed) == (1, 0, 0)
    (got,) = hook.received
    body = orjson.loads(got.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "integration.needs_refresh"
    assert body["created_at"] == "2026-12-03T12:00:00Z"
    assert body["data"] == {"integration_id": "i-0"}
    header = got.headers[signing.HEADER]
    at = int(NOW.timestamp())
    assert signing.verify(secret, header, got.body, now=at)
    assert not signing.verify(secret, header, got.body + b" ", now=at)  # tampered body
    assert not signing.verify("whsec_other", header, got.body, now=at)
    assert not signing.verify(secret, header, got.body, now=at + 3600)  # a replay, later
    assert got.headers["OpenPost-Event"] == "integration.needs_refresh"
    (delivery,) = deliveries(session)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert str(delivery.event_id) == body["id"]


def test_retries_after_a_500_and_a_timeout_with_the_same_id(
    session: Session,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    subscribe(session, hook_settings, workspace, hook.url)
    fire(session, workspace)
    hook.script = [(500, 0.0), (200, 2.0)]  # then 200 at once; 2 s > the 1 s timeout
    sender = Sender(factory, hook_settings)

    first = sender.run_once(NOW)
    assert (first.retrying, first.statuses) == (1, [500])
    (pending,) = deliveries(session)
    assert pending.status == "pending"
    assert pending.last_error == "the receiver answered HTTP 500"
    assert pending.next_attempt_at is not None
    wait = pending.next_attempt_at - NOW
    assert timedelta(seconds=27) <= wait <= timedelta(seconds=33)  # 30 s ± 10 %

    assert sender.run_once(NOW + timedelta(seconds=20)).attempted == 0  # not due yet
    second = sender.run_once(NOW + timedelta(minutes=1))
    assert (second.retrying, second.statuses) == (1, [None])
    assert deliveries(session)[0].last_error == "the receiver did not answer in time"
    third = sender.run_once(NOW + timedelta(minutes=10))
    assert third.delivered == 1
    sender.close()

    ids = {orjson.loads(r.body)["id"] for r in hook.received}
    assert len(hook.received) == 3
    assert len(ids) == 1  # at least once, with an id to deduplicate on
    (done,) = deliveries(session)
    assert (done.status, done.attempts, done.last_status) == ("delivered", 3, 200)


def test_gives_up_after_the_retry_period(
    session: Session,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    subscribe(session, hook_settings, workspace, hook.url)
    fire(session, workspace)
    hook.script = [(503, 0.0)] * 10
    sender = Sender(factory, hook_settings)
    sender.run_once(NOW)
    # Late in the period the next attempt is the period's end, and that one is the last.
    sender.run_once(NOW + timedelta(hours=23, minutes=59, seconds=50))
    (last_try,) = deliveries(session)
    assert last_try.next_attempt_at == NOW + timedelta(hours=24)
    final = sender.run_once(NOW + timedelta(hours=24))
    sender.close()
    assert final.failed == 1
    (failed,) = deliveries(session)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 3, None)


def test_nothing_is_sent_to_a_private_address(
    session: Session,
    factory: sessionmaker[Session],
    settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    sealed = Sealer.from_settings(settings).seal({"secret": "whsec_x"})
    # Stored as if the guard had let it through (a name that later resolves to loopback).
    builders.make_webhook(
        session, workspace, url=hook.url, events=(EVENT.value,), secret_sealed=sealed
    )
    session.commit()
    fire(session, workspace)
    sender = Sender(factory, settings)  # private addresses not allowed
    run = sender.run_once(NOW)
    sender.close()
    assert run.failed == 1
    assert hook.received == []
    (refused,) = deliveries(session)
    assert refused.status == "failed"
    assert refused.last_error is not None
    assert refused.last_error.startswith("refused:")


def test_events_of_work_that_rolled_back_are_never_sent(
    session: Session,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    subscribe(session, hook_settings, workspace, hook.url)
    emit(session, workspace.id, EVENT, {"integration_id": "rolled back"}, NOW)
    session.rollback()
    sender = Sender(factory, hook_settings)
    assert sender.run_once(NOW).attempted == 0
    fire(session, workspace)
    assert sender.run_once(NOW).delivered == 1
    sender.close()
    assert [orjson.loads(r.body)["data"] for r in hook.received] == [{"integration_id": "i-0"}]


def test_two_processes_never_send_the_same_attempt(
    session: Session,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    workspace: Workspace,
    hook: Receiver,
) -> None:
    subscribe(session, hook_settings, workspace, hook.url)
    fire(session, workspace, n=30)
    senders = [Sender(factory, hook_settings) for _ in range(2)]
    threads = [
        threading.Thread(target=s.run_once, args=(NOW,), kwargs={"limit": 30}) for s in senders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sender in senders:
        sender.close()
    ids = [orjson.loads(r.body)["id"] for r in hook.received]
    assert len(ids) == 30
    assert len(set(ids)) == 30
    count = session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.attempts == 1)
    )
    assert count == 30


def test_backoff_doubles_to_an_hour() -> None:
    import random

    steady = random.Random(0)  # noqa: S311 (jitter, not cryptography)
    waits = [backoff(n, rng=steady) for n in range(1, 10)]
    assert timedelta(seconds=27) <= waits[0] <= timedelta(seconds=33)
    assert timedelta(seconds=54) <= waits[1] <= timedelta(seconds=66)
    assert all(w <= timedelta(hours=1, minutes=6) for w in waits)
    assert waits[-1] >= timedelta(minutes=54)
