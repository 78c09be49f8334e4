"""A post's targets as they were at a past instant (SPEC §9.6, ``post_metrics(as_of=…)``).

Without ``as_of`` the post endpoint reads each target's two newest readings through its
refresh state's pointers, and its collection state as it is now. At an earlier instant
both come from what was recorded by then instead:

- the post exists if it was created by then (its targets were created with it);
- a target's two newest readings are its two newest captured at or before the instant
  (an index probe per target, ``LIMIT 2``);
- its ``status`` is ``deleted`` once collection had learned so (``deleted_at``), else
  ``published``;
- its ``refresh`` block is what collection had recorded: ``not_found`` once deleted,
  ``pending`` before its first reading (due since the post was registered), else ``ok``
  (``frozen`` when the schedule plans no further reading), ``last_success_at`` its
  newest reading and ``next_refresh_at`` the schedule's next reading after it. Failed
  attempts leave no reading, so an answer as of a time when reads were failing shows the
  last success as it was, not the failure.

The rows carry the attributes of ``service._POST_TARGETS``' rows, so the rest of the
answer is built by the same code either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Integer, Uuid, bindparam, select

from openpost.analytics.models import METRICS, Snapshot
from openpost.core.errors import NotFound
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget, TargetStatus

_ID = Uuid()
_TIME = Snapshot.captured_at.type

_POST_THEN = select(Post.created_at).where(
    Post.id == bindparam("post_id", type_=_ID),
    Post.workspace_id == bindparam("workspace_id", type_=_ID),
)

_TARGETS = (
    select(
        PostTarget.id.label("target_id"),
        PostTarget.integration_id,
        PostTarget.status,
        PostTarget.deleted_at,
        PostTarget.post_url,
        PostTarget.published_at,
        Integration.platform,
        Integration.username,
    )
    .join(Integration, Integration.id == PostTarget.integration_id)
    .where(
        PostTarget.post_id == bindparam("post_id", type_=_ID),
        PostTarget.workspace_id == bindparam("workspace_id", type_=_ID),
    )
    .order_by(PostTarget.id)
)

_NEWEST_TWO = (
    select(Snapshot.id, Snapshot.captured_at, *(getattr(Snapshot, m) for m in METRICS))
    .where(
        Snapshot.post_target_id == bindparam("target_id", type_=_ID),
        Snapshot.workspace_id == bindparam("workspace_id", type_=_ID),
        Snapshot.captured_at <= bindparam("as_of", type_=_TIME),
    )
    .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
    .limit(bindparam("two", type_=Integer()))
)


def targets_then(
    connection: Connection,
    scope: Mapping[str, Any],
    as_of: datetime,
    schedule: Callable[[str, datetime, datetime], datetime | None] | None,
) -> list[Any]:
    """The post's target rows as of ``as_of``; ``NotFound`` if the post did not exist yet."""
    created_at = connection.scalar(_POST_THEN, scope)
    if created_at is None or created_at > as_of:
        raise NotFound("post not found")
    rows = []
    for target in connection.execute(_TARGETS, scope).all():
        newest = connection.execute(
            _NEWEST_TWO,
            {
                "target_id": target.target_id,
                "workspace_id": scope["workspace_id"],
                "as_of": as_of,
                "two": 2,
            },
        ).all()
        latest = newest[0] if newest else None
        previous = newest[1] if len(newest) > 1 else None
        gone = target.deleted_at is not None and target.deleted_at <= as_of
        rows.append(
            SimpleNamespace(
                target_id=target.target_id,
                integration_id=target.integration_id,
                platform=target.platform,
                username=target.username,
                post_url=target.post_url,
                published_at=target.published_at,
                status=TargetStatus.deleted.value
                if gone
                else (
                    TargetStatus.published.value
                    if target.status == TargetStatus.deleted.value
                    else target.status
                ),
                **_collection(target, latest, gone, created_at, schedule),
                **_reading("l_", latest),
                **_reading("p_", previous),
            )
        )
    return rows


def _collection(
    target: Any,
    latest: Any,
    gone: bool,
    created_at: datetime,
    schedule: Callable[[str, datetime, datetime], datetime | None] | None,
) -> dict[str, Any]:
    last = latest.captured_at if latest is not None else None
    if gone:
        return {"outcome": "not_found", "next_due_at": None, "last_success_at": last}
    if last is None:
        return {"outcome": "pending", "next_due_at": created_at, "last_success_at": None}
    published = target.published_at or created_at
    due = schedule(target.platform, published, last) if schedule is not None else None
    return {
        "outcome": "ok" if due is not None else "frozen",
        "next_due_at": due,
        "last_success_at": last,
    }


def _reading(prefix: str, row: Any) -> dict[str, Any]:
    if row is None:
        return {f"{prefix}id": None, f"{prefix}captured_at": None} | {
            f"{prefix}{m}": None for m in METRICS
        }
    return {f"{prefix}id": row.id, f"{prefix}captured_at": row.captured_at} | {
        f"{prefix}{m}": getattr(row, m) for m in METRICS
    }
