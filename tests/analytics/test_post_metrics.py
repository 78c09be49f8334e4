"""GET /v1/analytics/post/{id}: latest metrics, deltas, totals and history of each target."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading, append_snapshots
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState
from openpost.workspaces.models import Workspace
from tests import builders
from tests.builders import World

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
NULLS = {"impressions": None, "likes": None, "comments": None, "shares": None}
TARGET_FIELDS = {
    "target_id",
    "integration_id",
    "platform",
    "username",
    "status",
    "post_url",
    "impressions",
    "likes",
    "comments",
    "shares",
    "engagements",
    "engagement_rate",
    "engagement_rate_by_followers",
    "captured_at",
    "provisional",
    "provisional_until",
    "delta",
    "refresh",
    "snapshots",
}


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


class Setup:
    """One workspace, one post published on the given platforms (one target each)."""

    def __init__(self, session: Session, platforms: tuple[str, ...] = ("twitter",)) -> None:
        self.session = session
        self.workspace: Workspace = builders.make_workspace(session)
        key = builders.make_key(session, self.workspace)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.integrations: list[Integration] = [
            builders.make_integration(session, self.workspace, platform=p) for p in platforms
        ]
        self.post: Post
        self.targets: list[PostTarget]
        self.post, self.targets = builders.make_post(
            session, self.workspace, self.integrations, published_at=NOW - timedelta(days=60)
        )

    def snap(self, index: int, captured_at: datetime, **metrics: Any) -> str:
        target = self.targets[index]
        key = uuid.uuid4().hex
        append_snapshots(
            self.session,
            [
                Reading(
                    workspace_id=target.workspace_id,
                    integration_id=target.integration_id,
                    post_target_id=target.id,
                    captured_at=captured_at,
                    capture_key=key,
                    impressions=metrics.get("impressions"),
                    likes=metrics.get("likes"),
                    comments=metrics.get("comments"),
                    shares=metrics.get("shares"),
                    platform_data=metrics.get("platform_data", {}),
                )
            ],
        )
        return str(
            self.session.scalar(
                select(Snapshot.id).where(
                    Snapshot.post_target_id == target.id, Snapshot.capture_key == key
                )
            )
        )

    def fetch(self, client: TestClient, **params: Any) -> dict[str, Any]:
        self.session.commit()
        response = client.get(
            f"/v1/analytics/post/{self.post.id}", headers=self.headers, params=params
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["data"]
        return body

    def target(self, body: dict[str, Any], index: int) -> dict[str, Any]:
        wanted = str(self.targets[index].id)
        (found,) = [t for t in body["targets"] if t["target_id"] == wanted]
        return found


def metric_part(totals: dict[str, Any]) -> dict[str, Any]:
    """The four metrics of ``totals`` (its engagement fields: test_engagement_api.py)."""
    return {key: totals[key] for key in NULLS}


def m(impressions: int | None, likes: int | None, comments: int | None, shares: int | None) -> Any:
    return {"impressions": impressions, "likes": likes, "comments": comments, "shares": shares}


def test_documented_shape(client: TestClient, session: Session, frozen: datetime) -> None:
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(hours=2), **m(9000, 200, 15, 5))
    setup.snap(0, NOW - timedelta(hours=1), **m(9120, 201, 15, 6))
    body = setup.fetch(client)

    assert set(body) == {"post_id", "totals", "delta", "targets"}
    assert body["post_id"] == str(setup.post.id)
    (target,) = body["targets"]
    assert set(target) == TARGET_FIELDS
    integration = setup.integrations[0]
    assert target["target_id"] == str(setup.targets[0].id)
    assert target["integration_id"] == str(integration.id)
    assert target["platform"] == "twitter"
    assert target["username"] == integration.username
    assert target["status"] == "published"
    assert target["post_url"] == setup.targets[0].post_url
    assert {k: target[k] for k in NULLS} == m(9120, 201, 15, 6)
    assert target["captured_at"] == "2026-04-16T09:00:00Z"
    # Published 60 days ago: long past X's 24 h settle time.
    assert target["provisional"] is False
    assert target["provisional_until"] == "2026-02-16T10:00:00Z"
    assert [s["provisional"] for s in target["snapshots"]] == [False, False]
    assert target["delta"] == m(120, 1, 0, 1)
    assert metric_part(body["totals"]) == m(9120, 201, 15, 6)
    assert body["delta"] == m(120, 1, 0, 1)
    assert [s["captured_at"] for s in target["snapshots"]] == [
        "2026-04-16T09:00:00Z",
        "2026-04-16T08:00:00Z",
    ]
    assert set(target["snapshots"][0]) >= {"id", "impressions", "platform_data", "captured_at"}


def test_a_single_snapshot_delta_is_the_whole_value(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(minutes=10), **m(50, 0, None, 3))
    body = setup.fetch(client)
    assert setup.target(body, 0)["delta"] == m(50, 0, None, 3)
    assert body["delta"] == m(50, 0, None, 3)


def test_delta_is_null_where_either_side_is_null(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(hours=2), **m(None, 10, 5, 0))
    setup.snap(0, NOW - timedelta(hours=1), **m(100, 8, None, 0))
    target = setup.target(setup.fetch(client), 0)
    assert target["delta"] == m(None, -2, None, 0)


def test_delta_compares_the_two_newest_by_capture_time(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    """A late-arriving older reading does not become the latest."""
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(hours=1), **m(300, 30, 3, 3))
    setup.snap(0, NOW - timedelta(hours=3), **m(100, 10, 1, 1))
    setup.snap(0, NOW - timedelta(hours=2), **m(200, 20, 2, 2))
    target = setup.target(setup.fetch(client), 0)
    assert {k: target[k] for k in NULLS} == m(300, 30, 3, 3)
    assert target["delta"] == m(100, 10, 1, 1)
    assert target["captured_at"] == "2026-04-16T09:00:00Z"


def test_totals_sum_reporting_targets_and_are_null_when_none_reports(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session, ("twitter", "bluesky", "mastodon"))
    setup.snap(0, NOW - timedelta(hours=2), **m(1000, 10, 0, 1))
    setup.snap(0, NOW - timedelta(hours=1), **m(1500, 12, 0, 1))
    # Bluesky and Mastodon have no impressions; Mastodon measured zero likes.
    setup.snap(1, NOW - timedelta(hours=1), **m(None, 7, 2, None))
    setup.snap(2, NOW - timedelta(hours=2), **m(None, 0, 1, None))
    setup.snap(2, NOW - timedelta(hours=1), **m(None, 0, 4, None))
    body = setup.fetch(client)

    assert metric_part(body["totals"]) == m(1500, 19, 6, 1)
    # Deltas: twitter (500, 2, 0, 0), bluesky its whole value (None, 7, 2, None),
    # mastodon (None, 0, 3, None).
    assert body["delta"] == m(500, 9, 5, 0)


def test_totals_are_null_not_zero_when_no_target_reports(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session, ("bluesky", "mastodon"))
    setup.snap(0, NOW - timedelta(hours=1), **m(None, 0, 0, 0))
    setup.snap(1, NOW - timedelta(hours=1), **m(None, 0, None, 0))
    body = setup.fetch(client)
    assert metric_part(body["totals"]) == m(None, 0, 0, 0)
    assert body["delta"] == m(None, 0, 0, 0)


def test_targets_without_snapshots(client: TestClient, session: Session, frozen: datetime) -> None:
    setup = Setup(session, ("twitter", "bluesky"))
    setup.snap(0, NOW - timedelta(hours=1), **m(10, 1, 1, 1))
    body = setup.fetch(client)

    empty = setup.target(body, 1)
    assert {k: empty[k] for k in NULLS} == NULLS
    assert empty["captured_at"] is None
    assert empty["delta"] == NULLS
    assert empty["snapshots"] == []
    assert empty["refresh"]["outcome"] == "pending"
    assert empty["refresh"]["next_refresh_at"] is None
    assert metric_part(body["totals"]) == m(10, 1, 1, 1)


def test_a_post_with_no_snapshots_at_all(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session, ("twitter", "bluesky"))
    body = setup.fetch(client)
    assert metric_part(body["totals"]) == NULLS
    assert body["delta"] == NULLS
    assert len(body["targets"]) == 2


def test_days_bounds_only_the_history(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session, ("twitter", "bluesky"))
    setup.snap(0, NOW - timedelta(days=45), **m(100, 1, 0, 0))
    setup.snap(0, NOW - timedelta(days=40), **m(130, 2, 0, 0))
    recent = setup.snap(1, NOW - timedelta(days=2), **m(None, 5, 0, 0))

    body = setup.fetch(client)  # days=30 by default
    old = setup.target(body, 0)
    assert {k: old[k] for k in NULLS} == m(130, 2, 0, 0)
    assert old["captured_at"] == "2026-03-07T10:00:00Z"
    assert old["delta"] == m(30, 1, 0, 0)
    assert old["snapshots"] == []
    assert [s["id"] for s in setup.target(body, 1)["snapshots"]] == [recent]
    assert metric_part(body["totals"]) == m(130, 7, 0, 0)

    body = setup.fetch(client, days=41)
    assert [s["captured_at"] for s in setup.target(body, 0)["snapshots"]] == [
        "2026-03-07T10:00:00Z"
    ]
    body = setup.fetch(client, days=1)
    assert setup.target(body, 1)["snapshots"] == []
    assert setup.target(body, 1)["likes"] == 5


def test_history_is_newest_first_with_ties_by_id_desc(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session)
    at = NOW - timedelta(hours=1)
    ids = [setup.snap(0, at, **m(n, n, n, n)) for n in range(4)]
    older = setup.snap(0, at - timedelta(seconds=1), **m(0, 0, 0, 0))
    snapshots = setup.target(setup.fetch(client), 0)["snapshots"]
    assert [s["id"] for s in snapshots] == [*sorted(ids, reverse=True), older]


def test_history_rows_match_the_workspace_listing(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    """The dashboard and API read the same rows: a post's history equals /v1/analytics rows."""
    setup = Setup(session)
    platform_data = {"retweet_count": 4, "quote_count": 1, "nested": {"a": [1, None, "é"]}}
    setup.snap(0, NOW - timedelta(hours=1), platform_data=platform_data, **m(1, 2, 3, 4))
    history = setup.target(setup.fetch(client), 0)["snapshots"]
    listing = client.get("/v1/analytics", headers=setup.headers).json()["data"]
    assert history == listing
    assert history[0]["platform_data"] == platform_data


def test_refresh_state_is_reported(client: TestClient, session: Session, frozen: datetime) -> None:
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(hours=1), **m(1, 1, 1, 1))
    state = session.get(RefreshState, setup.targets[0].id)
    assert state is not None
    state.outcome = "rate_limited"
    state.next_due_at = NOW + timedelta(minutes=30, microseconds=5)
    state.last_success_at = NOW - timedelta(hours=1)
    refresh = setup.target(setup.fetch(client), 0)["refresh"]
    assert refresh == {
        "outcome": "rate_limited",
        "next_refresh_at": "2026-04-16T10:30:00Z",
        "last_success_at": "2026-04-16T09:00:00Z",
    }


def test_post_of_another_workspace_is_404(client: TestClient, world: World) -> None:
    for post_id in (world.b.post.id, uuid.uuid4()):
        response = client.get(f"/v1/analytics/post/{post_id}", headers=world.a.headers)
        assert response.status_code == 404
        assert response.json() == {"error": "post not found"}


@pytest.mark.parametrize("post_id", ["nope", "123", "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7"])
def test_malformed_post_id_is_400(client: TestClient, world: World, post_id: str) -> None:
    response = client.get(f"/v1/analytics/post/{post_id}", headers=world.a.headers)
    assert response.status_code == 400
    assert response.json() == {"error": "post_id must be a UUID"}


@pytest.mark.parametrize("days", [0, 366, -1, "abc", "1.5"])
def test_days_out_of_range_is_400(client: TestClient, world: World, days: Any) -> None:
    response = client.get(
        f"/v1/analytics/post/{world.a.post.id}", headers=world.a.headers, params={"days": days}
    )
    assert response.status_code == 400
    assert "days" in response.json()["error"]
