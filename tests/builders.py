"""Test data builders: small functions with overridable defaults, real rows, no mocks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openpost.accounts.models import AccountSnapshot
from openpost.analytics.writer import Reading, append_snapshots
from openpost.auth.service import create_key
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.webhooks.models import Webhook
from openpost.workspaces.models import Workspace
from openpost.workspaces.service import create_workspace

_counter = itertools.count(1)


def make_workspace(
    session: Session, *, name: str | None = None, mode: str = "live", timezone: str = "UTC"
) -> Workspace:
    return create_workspace(
        session, name or f"Workspace {next(_counter)}", mode=mode, timezone=timezone
    )


def make_key(session: Session, workspace: Workspace, name: str = "test key") -> str:
    _, plaintext = create_key(session, workspace, name)
    return plaintext


def make_integration(
    session: Session,
    workspace: Workspace,
    *,
    platform: str = "twitter",
    username: str | None = None,
    **fields: Any,
) -> Integration:
    n = next(_counter)
    integration = Integration(
        workspace_id=workspace.id,
        platform=platform,
        external_account_id=fields.pop("external_account_id", str(1000 + n)),
        username=username or f"account{n}",
        display_name=fields.pop("display_name", f"Account {n}"),
        **fields,
    )
    session.add(integration)
    session.flush()
    return integration


def make_post(
    session: Session,
    workspace: Workspace,
    integrations: list[Integration],
    *,
    content: str = "Hello world",
    published_at: datetime | None = None,
    tags: list[str] | None = None,
) -> tuple[Post, list[PostTarget]]:
    published_at = published_at or clock.now() - timedelta(hours=2)
    post = Post(
        workspace_id=workspace.id, content=content, tags=tags or [], published_at=published_at
    )
    session.add(post)
    session.flush()
    targets = []
    for integration in integrations:
        n = next(_counter)
        # Far from the ids tests write by hand (1812345678901234567): with the counter at
        # 567 a world's post once collided with a test's own registration.
        platform_post_id = str(1999000000000000000 + n)
        target = PostTarget(
            workspace_id=workspace.id,
            post_id=post.id,
            integration_id=integration.id,
            platform_post_id=platform_post_id,
            post_url=f"https://x.com/{integration.username}/status/{platform_post_id}",
            published_at=published_at,
        )
        session.add(target)
        targets.append(target)
    session.flush()
    return post, targets


def add_account_snapshot(
    session: Session,
    integration: Integration,
    captured_at: datetime,
    *,
    followers: int | None = 500,
    following: int | None = 40,
    posts: int | None = 12,
    platform_data: dict[str, Any] | None = None,
) -> AccountSnapshot:
    """One account snapshot (SPEC §9.4) of ``integration``."""
    snapshot = AccountSnapshot(
        workspace_id=integration.workspace_id,
        integration_id=integration.id,
        followers=followers,
        following=following,
        posts=posts,
        platform_data=platform_data or {},
        captured_at=captured_at,
        capture_key=captured_at.isoformat(),
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def add_snapshot(
    session: Session,
    target: PostTarget,
    captured_at: datetime,
    *,
    impressions: int | None = 100,
    likes: int | None = 10,
    comments: int | None = 1,
    shares: int | None = 0,
    platform_data: dict[str, Any] | None = None,
    capture_key: str | None = None,
) -> None:
    append_snapshots(
        session,
        [
            Reading(
                workspace_id=target.workspace_id,
                integration_id=target.integration_id,
                post_target_id=target.id,
                captured_at=captured_at,
                capture_key=capture_key or captured_at.isoformat(),
                impressions=impressions,
                likes=likes,
                comments=comments,
                shares=shares,
                platform_data=platform_data or {},
            )
        ],
    )


@dataclass
class Tenant:
    workspace: Workspace
    key: str
    integration: Integration
    post: Post
    targets: list[PostTarget]
    headers: dict[str, str] = field(default_factory=dict)
    webhook: Webhook | None = None


@dataclass
class World:
    a: Tenant
    b: Tenant


def build_tenant(session: Session, name: str) -> Tenant:
    workspace = make_workspace(session, name=name)
    key = make_key(session, workspace)
    integration = make_integration(session, workspace)
    post, targets = make_post(session, workspace, [integration])
    now = clock.now()
    add_snapshot(session, targets[0], now - timedelta(hours=1), impressions=100, likes=10)
    add_snapshot(session, targets[0], now - timedelta(minutes=30), impressions=150, likes=12)
    webhook = make_webhook(session, workspace)
    add_account_snapshot(session, integration, now - timedelta(hours=1))
    return Tenant(
        workspace,
        key,
        integration,
        post,
        targets,
        headers={"Authorization": f"Bearer {key}"},
        webhook=webhook,
    )


def make_webhook(
    session: Session,
    workspace: Workspace,
    *,
    url: str = "https://hooks.example.com/openpost",
    events: tuple[str, ...] = ("integration.needs_refresh",),
    secret_sealed: str = "not-a-sealed-secret",  # noqa: S107 (not a secret: unopenable)
) -> Webhook:
    """A subscription row (its secret is not openable unless a test seals one)."""
    hook = Webhook(
        workspace_id=workspace.id,
        url=url,
        events=list(events),
        description="",
        secret_sealed=secret_sealed,
    )
    session.add(hook)
    session.flush()
    return hook


def build_world(session: Session) -> World:
    world = World(a=build_tenant(session, "Tenant A"), b=build_tenant(session, "Tenant B"))
    session.commit()
    return world
