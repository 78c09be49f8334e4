"""``post.outperforming``: a post at a multiple of its account's median at the same age, over
enough earlier posts, fires once; below the multiple, with too few posts to compare, or in
a workspace without a subscriber, nothing does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics.writer import Reading
from openpost.integrations.models import Integration
from openpost.posts.models import PostTarget
from openpost.webhooks.models import WebhookEvent
from openpost.webhooks.outperforming import Rule, check
from openpost.workspaces.models import Workspace
from tests import builders

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULE = Rule(multiple=3.0, min_posts=5)


def history(session: Session, workspace: Workspace, integration: Integration, n: int) -> None:
    """``n`` earlier posts, each with 10 engagements a day after publication, then 40."""
    for i in range(n):
        published = NOW - timedelta(days=10 + i)
        _post, (target,) = builders.make_post(
            session, workspace, [integration], published_at=published
        )
        builders.add_snapshot(session, target, published + DAY, likes=8, comments=2, shares=0)
        builders.add_snapshot(session, target, published + 5 * DAY, likes=30, comments=10, shares=0)


def new_post(session: Session, workspace: Workspace, integration: Integration) -> PostTarget:
    _post, (target,) = builders.make_post(session, workspace, [integration], published_at=NOW - DAY)
    return target


def reading(target: PostTarget, likes: int) -> Reading:
    return Reading(
        workspace_id=target.workspace_id,
        integration_id=target.integration_id,
        post_target_id=target.id,
        captured_at=NOW,
        capture_key="t",
        impressions=None,
        likes=likes,
        comments=0,
        shares=None,
    )


def fired(session: Session) -> list[dict[str, object]]:
    return [
        e.data
        for e in session.scalars(
            select(WebhookEvent).where(WebhookEvent.type == "post.outperforming")
        )
    ]


def setup(session: Session, earlier: int, *, subscribe: bool = True) -> PostTarget:
    workspace = builders.make_workspace(session)
    if subscribe:
        builders.make_webhook(session, workspace, events=("post.outperforming",))
    integration = builders.make_integration(session, workspace)
    history(session, workspace, integration, earlier)
    return new_post(session, workspace, integration)


def test_a_post_at_three_times_the_median_at_its_age_fires_once(session: Session) -> None:
    target = setup(session, 6)
    assert check(session, [reading(target, 30)], NOW, RULE) == 1
    (data,) = fired(session)
    # compared with the earlier posts a day after publication (10), not their later 40
    assert data["median_engagements"] == 10
    assert data["engagements"] == 30
    assert data["compared_posts"] == 6
    assert data["post_target_id"] == str(target.id)
    assert data["age_hours"] == 24.0
    assert check(session, [reading(target, 60)], NOW, RULE) == 0  # once per post
    assert len(fired(session)) == 1


def test_below_the_multiple_nothing_fires(session: Session) -> None:
    target = setup(session, 6)
    assert check(session, [reading(target, 29)], NOW, RULE) == 0
    assert fired(session) == []


def test_too_few_earlier_posts_to_compare_with(session: Session) -> None:
    target = setup(session, 4)
    assert check(session, [reading(target, 500)], NOW, RULE) == 0


def test_nothing_is_computed_without_a_subscriber(session: Session) -> None:
    target = setup(session, 6, subscribe=False)
    assert check(session, [reading(target, 500)], NOW, RULE) == 0
    assert fired(session) == []
