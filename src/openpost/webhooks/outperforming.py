"""``post.outperforming`` (SPEC §9.7): a post whose engagements, at the age it was just read,
are at least ``OPENPOST_OUTPERFORMING_MULTIPLE`` times the median of its account's earlier
posts **at the same age** (each one's last reading taken by then), over at least
``OPENPOST_OUTPERFORMING_MIN_POSTS`` of them. Fired once per post, in the transaction that
stored the reading; nothing is computed for a workspace without a subscriber.

The comparison set is the account's (integration's) 50 posts published before this one;
a post younger than the reading's age is not comparable yet and is left out, as is one
without a reading by that age. Engagements are likes + comments + shares over what the
platform reports (SPEC §9.5).
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics.engagement import engagements
from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.posts.models import PostTarget
from openpost.webhooks.events import emit
from openpost.webhooks.models import EventType, Webhook, WebhookEvent

COMPARED = 50  # the account's earlier posts each new reading is compared with


@dataclass(frozen=True)
class Rule:
    multiple: float
    min_posts: int


DEFAULT_RULE = Rule(multiple=3.0, min_posts=5)


def check(session: Session, readings: Sequence[Reading], now: datetime, rule: Rule) -> int:
    """Fire ``post.outperforming`` for the readings that qualify; how many fired."""
    subscribed = _subscribed(session, {r.workspace_id for r in readings})
    candidates = [
        r
        for r in readings
        if r.workspace_id in subscribed and (engagements(r.likes, r.comments, r.shares) or 0) > 0
    ]
    if not candidates:
        return 0
    fired_before = _already_fired(session, {r.workspace_id for r in candidates})
    candidates = [r for r in candidates if str(r.post_target_id) not in fired_before]
    if not candidates:
        return 0
    targets = {
        row.id: row
        for row in session.execute(
            select(
                PostTarget.id,
                PostTarget.post_id,
                PostTarget.integration_id,
                PostTarget.published_at,
                Integration.platform,
            )
            .join(Integration, Integration.id == PostTarget.integration_id)
            .where(PostTarget.id.in_([r.post_target_id for r in candidates]))
        )
    }
    fired = 0
    for reading in candidates:
        target = targets.get(reading.post_target_id)
        if target is None or target.published_at is None:
            continue
        age = reading.captured_at - target.published_at
        if age <= timedelta(0):
            continue
        sample = _same_age(session, target.integration_id, target.published_at, age, now)
        if len(sample) < rule.min_posts:
            continue
        median = statistics.median(sample)
        value = engagements(reading.likes, reading.comments, reading.shares) or 0
        if median <= 0 or value < rule.multiple * median:
            continue
        emit(
            session,
            reading.workspace_id,
            EventType.post_outperforming,
            {
                "post_id": str(target.post_id),
                "post_target_id": str(target.id),
                "integration_id": str(target.integration_id),
                "platform": target.platform,
                "engagements": value,
                "median_engagements": median,
                "multiple": round(value / median, 2),
                "threshold": rule.multiple,
                "compared_posts": len(sample),
                "age_hours": round(age.total_seconds() / 3600, 1),
                "captured_at": format_time(reading.captured_at),
            },
            now,
        )
        fired += 1
    return fired


def _subscribed(session: Session, workspaces: set[uuid.UUID]) -> set[uuid.UUID]:
    if not workspaces:
        return set()
    return {
        workspace_id
        for workspace_id, events in session.execute(
            select(Webhook.workspace_id, Webhook.events).where(Webhook.workspace_id.in_(workspaces))
        )
        if EventType.post_outperforming.value in events
    }


def _already_fired(session: Session, workspaces: set[uuid.UUID]) -> set[str]:
    rows = session.scalars(
        select(WebhookEvent.data).where(
            WebhookEvent.workspace_id.in_(workspaces),
            WebhookEvent.type == EventType.post_outperforming.value,
        )
    )
    return {str(data.get("post_target_id")) for data in rows if isinstance(data, dict)}


def _same_age(
    session: Session,
    integration_id: uuid.UUID,
    published_at: datetime,
    age: timedelta,
    now: datetime,
) -> list[int]:
    """Engagements of the account's earlier posts, each at ``age`` after its publication."""
    earlier = session.execute(
        select(PostTarget.id, PostTarget.published_at)
        .where(
            PostTarget.integration_id == integration_id,
            PostTarget.published_at < published_at,
            PostTarget.published_at <= now - age,  # old enough to have been that age
        )
        .order_by(PostTarget.published_at.desc())
        .limit(COMPARED)
    ).all()
    if not earlier:
        return []
    bound = {row.id: row.published_at + age for row in earlier}
    latest: dict[uuid.UUID, tuple[datetime, int | None]] = {}
    readings = session.execute(
        select(
            Snapshot.post_target_id,
            Snapshot.captured_at,
            Snapshot.likes,
            Snapshot.comments,
            Snapshot.shares,
        ).where(
            Snapshot.post_target_id.in_(list(bound)),
            Snapshot.captured_at <= max(bound.values()),
        )
    )
    by_target: dict[uuid.UUID, list[tuple[datetime, int | None]]] = defaultdict(list)
    for row in readings:
        if row.captured_at <= bound[row.post_target_id]:
            by_target[row.post_target_id].append(
                (row.captured_at, engagements(row.likes, row.comments, row.shares))
            )
    for target_id, found in by_target.items():
        latest[target_id] = max(found, key=lambda pair: pair[0])
    return [value for _at, value in latest.values() if value is not None]
