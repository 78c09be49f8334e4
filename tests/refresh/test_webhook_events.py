"""Collection fires webhook events (SPEC §9.7) in the transaction that changed the state:
``integration.needs_refresh`` once per change, ``collection.failed`` once a failure streak
reaches ``collection_failed_after``, ``budget.exhausted`` when a daily budget runs out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.x.fake import FakeX, seed
from openpost.refresh import discovery, runner
from openpost.refresh.runner import Runtime
from openpost.webhooks.models import WebhookEvent
from openpost.workspaces.models import Workspace
from tests import builders
from tests.refresh.conftest import Clock, make_runtime, track, x_integration

ALL = (
    "integration.needs_refresh",
    "collection.failed",
    "budget.exhausted",
)


def events(session: Session) -> list[tuple[str, dict[str, Any]]]:
    session.expire_all()
    return [
        (e.type, e.data)
        for e in session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at))
    ]


def discover(rt: Runtime) -> list[discovery.DiscoveryResult]:
    jobs = runner.plan_discoveries(rt, clock.now())
    return [discovery.run(rt.factory, rt.clients, rt.policy, job) for job in jobs]


def subscribed(session: Session) -> Workspace:
    workspace = builders.make_workspace(session)
    builders.make_webhook(session, workspace, events=ALL)
    return workspace


def test_an_unreadable_account_fires_needs_refresh_once(
    session: Session, rt: Runtime, fake_x: FakeX, now: Clock
) -> None:
    workspace = subscribed(session)
    account = seed(fake_x, posts=3)
    integration = x_integration(session, workspace, account)
    session.commit()
    account.protected = True
    discover(rt)
    assert events(session) == [
        (
            "integration.needs_refresh",
            {
                "integration_id": str(integration.id),
                "platform": "twitter",
                "username": integration.username,
                "error_code": events(session)[0][1]["error_code"],
                "message": events(session)[0][1]["message"],
            },
        )
    ]
    assert events(session)[0][1]["error_code"].startswith("x_")
    # Already waiting for its owner: another refusal changes nothing and fires nothing.
    now.advance(timedelta(hours=2))
    discover(rt)
    assert len(events(session)) == 1


def test_a_workspace_without_subscribers_records_nothing(
    session: Session, rt: Runtime, fake_x: FakeX, now: Clock
) -> None:
    account = seed(fake_x, posts=3)
    x_integration(session, builders.make_workspace(session), account)
    session.commit()
    account.protected = True
    discover(rt)
    assert events(session) == []


def test_a_failure_streak_fires_collection_failed_once(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock
) -> None:
    fake = FakeX()
    rt = make_runtime(
        collect_settings.model_copy(update={"collection_failed_after": 3}), engine, fake
    )
    workspace = subscribed(session)
    account = seed(fake, posts=3)
    integration = x_integration(session, workspace, account)
    session.commit()
    fake.inject("server_error", endpoint="user_tweets", times=None)
    for _ in range(5):
        discover(rt)
        now.advance(timedelta(hours=3))  # past each backoff
    fired = [data for kind, data in events(session) if kind == "collection.failed"]
    assert len(fired) == 1
    assert fired[0]["integration_id"] == str(integration.id)
    assert fired[0]["what"] == "discovery"
    assert fired[0]["consecutive_failures"] == 3


def test_a_spent_daily_budget_fires_budget_exhausted(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock
) -> None:
    fake = FakeX()
    rt = make_runtime(collect_settings.model_copy(update={"x_daily_read_budget": 5}), engine, fake)
    workspace = subscribed(session)
    bystander = builders.make_workspace(session)  # no X integration: not told
    builders.make_webhook(session, bystander, events=ALL)
    x_integration(session, workspace, seed(fake, posts=20))
    session.commit()
    discover(rt)
    fired = [data for kind, data in events(session) if kind == "budget.exhausted"]
    assert len(fired) == 1
    assert fired[0]["platform"] == "twitter"
    assert fired[0]["reason"] == "daily_budget"
    assert fired[0]["until"] == "2026-04-17T00:00:00Z"
    assert (
        session.scalar(
            select(WebhookEvent.workspace_id).where(WebhookEvent.type == "budget.exhausted")
        )
        == workspace.id
    )


def test_posts_that_keep_failing_fire_collection_failed_once_per_integration(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock
) -> None:
    from openpost.refresh.capture import capture_batch

    fake = FakeX()
    rt = make_runtime(
        collect_settings.model_copy(update={"collection_failed_after": 2}), engine, fake
    )
    workspace = subscribed(session)
    account = seed(fake, posts=3)
    integration = x_integration(session, workspace, account)
    for post in list(fake.posts.values())[:3]:
        track(session, integration, post.id, published_at=post.created_at)
    session.commit()
    fake.inject("server_error", endpoint="tweets_lookup", times=None)
    for _ in range(3):
        _, batches = runner.plan_captures(rt, clock.now())
        for batch in batches:
            capture_batch(rt.factory, rt.clients, rt.policy, batch)
        now.advance(timedelta(hours=3))
    fired = [data for kind, data in events(session) if kind == "collection.failed"]
    assert len(fired) == 1
    assert (fired[0]["what"], fired[0]["posts"], fired[0]["consecutive_failures"]) == (
        "posts",
        3,
        2,
    )
    assert fired[0]["error_code"] is not None
