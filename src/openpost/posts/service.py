"""Posts: list, read, and register already published posts for tracking.

Shared by the API and the dashboard. Services never commit.

Registering (``register_post``):

- Each target names an integration of the caller's workspace (404 otherwise) that is not
  disconnected (400), and exactly one of ``platform_post_id`` or ``post_url``. A URL is
  parsed into the platform's id (``posts.urls``) and kept as given; from an id, the URL is
  derived where the platform allows it.
- ``published_at`` may carry any offset and defaults to now; more than five minutes in the
  future is a 400. The post's own ``published_at`` is its earliest target's.
- A post already tracked on that integration (any source, including discovery) is a 400
  that names the post tracking it: registering is not an upsert. A retried request should
  carry an ``Idempotency-Key`` to get its first answer back.
- Every new target gets its refresh state (outcome ``pending``, due now) in the same
  transaction, so collection picks it up at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from openpost.core.db import insert_ignoring_conflicts
from openpost.core.errors import BadRequest, NotFound
from openpost.core.ids import new_id, parse_uuid
from openpost.core.pagination import decode_cursor, encode_cursor
from openpost.core.timefmt import format_time, parse_time
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.integrations.service import integrations_by_id
from openpost.posts.models import Post, PostSource, PostStatus, PostTarget, TargetStatus
from openpost.posts.schemas import PostCreate, TargetCreate
from openpost.posts.urls import (
    PostUrlError,
    check_post_id,
    owned_post_id,
    post_id_from_url,
    url_for_post,
)
from openpost.refresh import state as refresh_state

FUTURE_TOLERANCE = timedelta(minutes=5)

POST_COLUMNS = (
    Post.id,
    Post.status,
    Post.content,
    Post.published_at,
    Post.tags,
    Post.created_at,
    Post.source,
)


@dataclass(frozen=True, slots=True)
class PostPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def list_posts(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> PostPage:
    """The workspace's posts, newest first (created_at, then id), keyset-paged."""
    if status is not None and status not in PostStatus.__members__:
        raise BadRequest(f"status must be one of {', '.join(PostStatus)}")
    query = (
        select(*POST_COLUMNS)
        .where(Post.workspace_id == workspace_id)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(Post.status == status)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        query = query.where(tuple_(Post.created_at, Post.id) < (after_time, after_id))
    rows = session.execute(query).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
    return PostPage(_with_targets(session, workspace_id, rows), next_cursor)


def get_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> dict[str, Any]:
    row = session.execute(
        select(*POST_COLUMNS).where(Post.id == post_id, Post.workspace_id == workspace_id)
    ).first()
    if row is None:
        raise NotFound("post not found")
    return _with_targets(session, workspace_id, [row])[0]


def platform_ids(
    session: Session, workspace_id: uuid.UUID, post_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str, str | None]]]:
    """Each post's targets as ``(platform, platform_post_id, preview_url)``, for previews
    (targets not published yet, without a platform id, are left out)."""
    found: dict[uuid.UUID, list[tuple[str, str, str | None]]] = {
        post_id: [] for post_id in post_ids
    }
    if not found:
        return found
    rows = session.execute(
        select(
            PostTarget.post_id,
            Integration.platform,
            PostTarget.platform_post_id,
            PostTarget.preview_url,
        )
        .join(Integration, Integration.id == PostTarget.integration_id)
        .where(
            PostTarget.workspace_id == workspace_id,
            PostTarget.post_id.in_(list(found)),
            PostTarget.platform_post_id.is_not(None),
        )
        .order_by(PostTarget.id)
    )
    for row in rows:
        found[row.post_id].append((row.platform, row.platform_post_id, row.preview_url))
    return found


def _with_targets(
    session: Session, workspace_id: uuid.UUID, rows: Sequence[Row[Any]]
) -> list[dict[str, Any]]:
    """Post objects for ``rows``, their targets read in one query for the whole page."""
    targets: dict[uuid.UUID, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if targets:
        for target in session.execute(
            select(
                PostTarget.id,
                PostTarget.post_id,
                PostTarget.integration_id,
                PostTarget.status,
                PostTarget.platform_post_id,
                PostTarget.post_url,
                PostTarget.published_at,
                Integration.platform,
            )
            .join(Integration, Integration.id == PostTarget.integration_id)
            .where(PostTarget.workspace_id == workspace_id, PostTarget.post_id.in_(list(targets)))
            .order_by(PostTarget.id)
        ):
            targets[target.post_id].append(
                {
                    "id": str(target.id),
                    "integration_id": str(target.integration_id),
                    "status": target.status,
                    "platform_post_id": target.platform_post_id,
                    "platform_post_url": target.post_url,
                    "published_at": format_time(target.published_at),
                    "integrations": {"platform": target.platform},
                }
            )
    return [
        {
            "id": str(row.id),
            "status": row.status,
            "content": row.content,
            "scheduled_at": None,
            "published_at": format_time(row.published_at),
            "tags": row.tags or [],
            "created_at": format_time(row.created_at),
            "source": row.source,
            "post_targets": targets[row.id],
        }
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class _NewTarget:
    field: str
    integration: Integration
    platform_post_id: str
    post_url: str | None
    published_at: datetime


def register_post(
    session: Session, workspace_id: uuid.UUID, body: PostCreate, *, now: datetime
) -> dict[str, Any]:
    """Track an already published post on one or more integrations (see module docs)."""
    integration_ids = [
        parse_uuid(target.integration_id, f"targets.{i}.integration_id")
        for i, target in enumerate(body.targets)
    ]
    integrations = integrations_by_id(session, workspace_id, set(integration_ids))
    new_targets = [
        _new_target(f"targets.{i}", target, integrations.get(integration_id), now)
        for i, (target, integration_id) in enumerate(
            zip(body.targets, integration_ids, strict=True)
        )
    ]
    _refuse_duplicates(session, workspace_id, new_targets)

    post = Post(
        workspace_id=workspace_id,
        content=body.content,
        tags=list(dict.fromkeys(body.tags)),
        status=PostStatus.published.value,
        source=PostSource.api.value,
        published_at=min(target.published_at for target in new_targets),
        created_at=now,
    )
    session.add(post)
    session.flush()

    # Sorted time-ordered ids keep the targets in the order the request gave them.
    target_ids = sorted(new_id() for _ in new_targets)
    written = session.scalars(
        insert_ignoring_conflicts(session, PostTarget, ["integration_id", "platform_post_id"])
        .values(
            [
                {
                    "id": target_id,
                    "workspace_id": workspace_id,
                    "post_id": post.id,
                    "integration_id": target.integration.id,
                    "status": TargetStatus.published.value,
                    "platform_post_id": target.platform_post_id,
                    "post_url": target.post_url,
                    "published_at": target.published_at,
                }
                for target_id, target in zip(target_ids, new_targets, strict=True)
            ]
        )
        .returning(PostTarget.id)
    ).all()
    if len(written) != len(new_targets):
        # A concurrent request registered one of these posts after our check above.
        raise BadRequest("one of these posts was registered by another request at the same time")
    refresh_state.track(session, workspace_id, target_ids, now)
    return get_post(session, workspace_id, post.id)


def _new_target(
    field: str, target: TargetCreate, integration: Integration | None, now: datetime
) -> _NewTarget:
    if integration is None:
        raise NotFound(f"{field}.integration_id: integration not found")
    if integration.status == IntegrationStatus.disconnected:
        raise BadRequest(f"{field}.integration_id: the integration is disconnected")
    if (target.platform_post_id is None) == (target.post_url is None):
        raise BadRequest(f"{field}: give exactly one of platform_post_id or post_url")
    platform = integration.platform
    try:
        if target.post_url is not None:
            post_url: str | None = target.post_url.strip()
            platform_post_id = post_id_from_url(platform, target.post_url)
        else:
            platform_post_id = check_post_id(platform, target.platform_post_id or "")
            post_url = url_for_post(platform, platform_post_id, integration.username)
        platform_post_id = owned_post_id(
            platform,
            platform_post_id,
            username=integration.username,
            account_id=integration.external_account_id,
            url=target.post_url,
        )
    except PostUrlError as error:
        name = "post_url" if target.post_url is not None else "platform_post_id"
        raise BadRequest(f"{field}.{name} {error}") from None

    published_at = now
    if target.published_at is not None:
        published_at = parse_time(target.published_at, f"{field}.published_at")
        if published_at > now + FUTURE_TOLERANCE:
            raise BadRequest(f"{field}.published_at must not be in the future")
    return _NewTarget(field, integration, platform_post_id, post_url, published_at)


def _refuse_duplicates(
    session: Session, workspace_id: uuid.UUID, targets: Sequence[_NewTarget]
) -> None:
    """400 if a target repeats another in the request or is already tracked."""
    seen: set[tuple[uuid.UUID, str]] = set()
    for target in targets:
        pair = (target.integration.id, target.platform_post_id)
        if pair in seen:
            raise BadRequest(f"{target.field}: the same post is listed twice")
        seen.add(pair)
    tracked = {
        (row.integration_id, row.platform_post_id): row.post_id
        for row in session.execute(
            select(
                PostTarget.integration_id, PostTarget.platform_post_id, PostTarget.post_id
            ).where(
                PostTarget.workspace_id == workspace_id,
                PostTarget.integration_id.in_({pair[0] for pair in seen}),
                PostTarget.platform_post_id.in_({pair[1] for pair in seen}),
            )
        )
    }
    for target in targets:
        existing = tracked.get((target.integration.id, target.platform_post_id))
        if existing is not None:
            raise BadRequest(
                f"{target.field}: {target.integration.platform} post "
                f"{target.platform_post_id} is already tracked (post {existing})"
            )
