"""Collection fixtures: a controllable clock, the fake X in-process, a runtime, and a
builder for tracked targets (post + target + refresh state)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeX
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import DiscoveryState, RefreshState
from openpost.refresh.runner import Runtime
from openpost.workspaces.models import Workspace
from tests import builders

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


@pytest.fixture
def now() -> Iterator[Clock]:
    """The clock every part reads (ours and the fake's), starting at ``NOW``."""
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake_x(now: Clock) -> FakeX:
    return FakeX(app_token=DEFAULT_APP_TOKEN)


@pytest.fixture
def collect_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"x_bearer_token": DEFAULT_APP_TOKEN, "x_api_base_url": "http://fake-x.test"}
    )


_made: list[Runtime] = []


def make_runtime(settings: Settings, engine: Engine, fake: FakeX) -> Runtime:
    """A runtime reading the fake X in-process (closed when the test ends)."""
    made = Runtime.from_settings(
        settings, factory=make_sessionmaker(engine), transports={"twitter": fake.transport()}
    )
    _made.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_runtimes() -> Iterator[None]:
    yield
    while _made:
        _made.pop().close()


@pytest.fixture
def rt(collect_settings: Settings, engine: Engine, fake_x: FakeX) -> Runtime:
    return make_runtime(collect_settings, engine, fake_x)


def x_integration(
    session: Session, workspace: Workspace, account: FakeAccount, **fields: object
) -> Integration:
    return builders.make_integration(
        session,
        workspace,
        platform="twitter",
        username=account.username,
        external_account_id=account.id,
        **fields,
    )


def track(
    session: Session,
    integration: Integration,
    platform_post_id: str,
    *,
    published_at: datetime,
    next_due_at: datetime | None = None,
    last_attempt_at: datetime | None = None,
    last_success_at: datetime | None = None,
    status: str = "published",
) -> PostTarget:
    """A tracked target: post, target and refresh state (due at ``next_due_at``, default now)."""
    post = Post(workspace_id=integration.workspace_id, content="tracked", published_at=published_at)
    session.add(post)
    session.flush()
    target = PostTarget(
        workspace_id=integration.workspace_id,
        post_id=post.id,
        integration_id=integration.id,
        platform_post_id=platform_post_id,
        post_url=f"https://x.com/{integration.username}/status/{platform_post_id}",
        published_at=published_at,
        status=status,
    )
    session.add(target)
    session.flush()
    session.add(
        RefreshState(
            post_target_id=target.id,
            workspace_id=integration.workspace_id,
            next_due_at=next_due_at if next_due_at is not None else clock.now(),
            last_attempt_at=last_attempt_at,
            last_success_at=last_success_at,
            outcome="pending" if last_attempt_at is None else "ok",
            consecutive_failures=0,
        )
    )
    session.flush()
    return target


def no_account_read_today(session: Session, integration: Integration) -> None:
    """Keep account reads (SPEC §9.4) out of a test about other reads: not due today."""
    session.add(
        AccountReadState(
            integration_id=integration.id,
            workspace_id=integration.workspace_id,
            next_due_at=clock.now() + timedelta(days=1),
        )
    )


def no_discovery_today(
    session: Session, integration: Integration, *, account_read: bool = False
) -> None:
    """Keep discovery out of a test about captures: the account is not due for it today
    (nor for its account read, unless ``account_read``)."""
    if not account_read:
        no_account_read_today(session, integration)
    session.add(
        DiscoveryState(
            integration_id=integration.id,
            workspace_id=integration.workspace_id,
            next_due_at=clock.now() + timedelta(days=1),
        )
    )
