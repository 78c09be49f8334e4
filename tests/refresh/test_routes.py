"""POST /v1/analytics/refresh and GET /v1/analytics/status."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.x.fake import FakeAccount, FakeX
from openpost.refresh import runner
from openpost.refresh.capture import capture_batch
from openpost.refresh.runner import Runtime
from openpost.refresh.tasks import JobQueue
from tests import builders
from tests.refresh.conftest import NOW, Clock, track, x_integration

H = timedelta(hours=1)


@pytest.fixture
def tenant(session: Session, fake_x: FakeX, now: Clock) -> dict[str, Any]:
    account: FakeAccount = fake_x.add_account("openpost")
    workspace = builders.make_workspace(session)
    key = builders.make_key(session, workspace)
    integration = x_integration(session, workspace, account)
    posts = [fake_x.add_post(account, created_at=NOW - (n + 1) * H, likes=n) for n in range(3)]
    targets = [
        track(
            session,
            integration,
            post.id,
            published_at=post.created_at,
            next_due_at=NOW + timedelta(minutes=1),
            last_attempt_at=NOW - H,
            last_success_at=NOW - H,
        )
        for post in posts
    ]
    old = fake_x.add_post(account, created_at=NOW - 100 * H)
    frozen = track(
        session,
        integration,
        old.id,
        published_at=old.created_at,
        next_due_at=NOW + H,
        last_attempt_at=NOW - 30 * H,
        last_success_at=NOW - 30 * H,
    )
    session.commit()
    return {
        "headers": {"Authorization": f"Bearer {key}"},
        "integration": integration,
        "targets": targets,
        "frozen": frozen,
        "post_id": targets[0].post_id,
    }


@pytest.fixture
def queue(collect_settings: Settings, rt: Runtime) -> JobQueue:
    """The queue the app wrote to (SQLite storage in the test's data dir), able to run jobs."""
    found = JobQueue(collect_settings)
    found.attach(rt)
    return found


def post_refresh(client: TestClient, headers: dict[str, str], body: object, **extra: str) -> Any:
    return client.post("/v1/analytics/refresh", json=body, headers={**headers, **extra})


def count_snapshots(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Snapshot)) or 0


def test_refresh_a_post(
    client: TestClient, session: Session, tenant: dict[str, Any], queue: JobQueue, now: Clock
) -> None:
    response = post_refresh(client, tenant["headers"], {"post_id": str(tenant["post_id"])})
    assert response.status_code == 202, response.text
    assert response.json() == {"data": {"queued": 1}}
    assert queue.pending() == 1
    assert queue.run_pending() == 1
    assert count_snapshots(session) == 1


def test_refresh_an_integration_queues_what_policy_allows(
    client: TestClient,
    session: Session,
    fake_x: FakeX,
    tenant: dict[str, Any],
    queue: JobQueue,
    now: Clock,
) -> None:
    body = {"integration_id": str(tenant["integration"].id)}
    response = post_refresh(client, tenant["headers"], body)
    assert response.json() == {"data": {"queued": 3}}  # not the post outside X's 72 h window
    queue.run_pending()
    assert count_snapshots(session) == 3
    assert len(fake_x.calls("tweets_lookup")) == 1  # one batch


def test_refresh_replays_with_an_idempotency_key(
    client: TestClient, tenant: dict[str, Any], queue: JobQueue, now: Clock
) -> None:
    body = {"integration_id": str(tenant["integration"].id)}
    first = post_refresh(client, tenant["headers"], body, **{"Idempotency-Key": "k1"})
    again = post_refresh(client, tenant["headers"], body, **{"Idempotency-Key": "k1"})
    assert again.status_code == 202
    assert again.json() == first.json() == {"data": {"queued": 3}}
    assert queue.pending() == 1  # the replay queued nothing


def test_a_queued_refresh_then_a_scheduled_one_read_once(
    client: TestClient,
    session: Session,
    rt: Runtime,
    tenant: dict[str, Any],
    queue: JobQueue,
    now: Clock,
) -> None:
    """The refresh claims its targets: the scheduler does not read them again meanwhile."""
    post_refresh(client, tenant["headers"], {"integration_id": str(tenant["integration"].id)})
    now.advance(timedelta(minutes=2))  # their own schedule has come, but they are claimed
    _, batches = runner.plan_captures(rt, clock.now())
    assert batches == []
    queue.run_pending()
    assert count_snapshots(session) == 3


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "give exactly one of post_id or integration_id"),
        (
            {"post_id": str(uuid.uuid4()), "integration_id": str(uuid.uuid4())},
            400,
            "give exactly one of post_id or integration_id",
        ),
        ({"post_id": "nope"}, 400, "post_id must be a UUID"),
        ({"integration_id": "12"}, 400, "integration_id must be a UUID"),
        ({"post_id": str(uuid.uuid4())}, 404, "post not found"),
        ({"integration_id": str(uuid.uuid4())}, 404, "integration not found"),
        ({"post_id": 5}, 400, None),
        ({"target": "x"}, 400, None),
    ],
)
def test_refresh_bad_input(
    client: TestClient,
    tenant: dict[str, Any],
    body: dict[str, Any],
    status: int,
    message: str | None,
) -> None:
    response = post_refresh(client, tenant["headers"], body)
    assert response.status_code == status, response.text
    if message is not None:
        assert response.json() == {"error": message}


def test_refresh_other_workspace_is_404(
    client: TestClient, session: Session, tenant: dict[str, Any], now: Clock
) -> None:
    other = builders.make_workspace(session)
    headers = {"Authorization": f"Bearer {builders.make_key(session, other)}"}
    session.commit()
    for body in (
        {"post_id": str(tenant["post_id"])},
        {"integration_id": str(tenant["integration"].id)},
    ):
        assert post_refresh(client, headers, body).status_code == 404


def test_refresh_needs_json_and_a_key(client: TestClient, tenant: dict[str, Any]) -> None:
    response = client.post("/v1/analytics/refresh", content=b"post_id=1", headers=tenant["headers"])
    assert response.status_code == 415
    assert client.post("/v1/analytics/refresh", json={}).status_code == 401


def test_status_reports_collection_health(
    client: TestClient,
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    tenant: dict[str, Any],
    now: Clock,
) -> None:
    now.advance(H)
    _, batches = runner.plan_captures(rt, NOW + H)
    for batch in batches:
        capture_batch(rt.factory, rt.clients, rt.policy, batch)
    fake_x.inject("credits_depleted")
    now.advance(H)
    _, batches = runner.plan_captures(rt, NOW + 2 * H)
    for batch in batches:
        capture_batch(rt.factory, rt.clients, rt.policy, batch)

    response = client.get("/v1/analytics/status", headers=tenant["headers"])
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    (item,) = body["integrations"]
    assert item["integration_id"] == str(tenant["integration"].id)
    assert item["tracked"] == 4
    assert item["frozen"] == 1
    assert item["outcomes"]["rate_limited"] == 3
    assert item["outcomes"]["frozen"] == 1
    assert sum(item["outcomes"].values()) == 4
    assert item["last_success_at"] == "2026-04-16T11:00:00Z"
    assert item["last_error"] == {
        "code": "x_credits_depleted",
        "message": "X API credits are depleted; add credits in the X developer console",
        "at": "2026-04-16T12:00:00Z",
    }
    (x,) = body["platforms"]
    assert x["platform"] == "twitter"
    assert x["paused"] is True
    assert x["pause_reason"] == "x_credits_depleted"
    assert x["paused_until"] == "2026-04-16T13:00:00Z"
    assert x["rate_limits"] == [
        {
            "scope": "twitter",
            "endpoint": "metrics",
            "limit": 3500,
            "remaining": 3499,
            "reset_at": "2026-04-16T11:15:00Z",
        }
    ]


def test_status_is_per_workspace(
    client: TestClient, session: Session, tenant: dict[str, Any]
) -> None:
    other = builders.make_workspace(session, mode="test")
    builders.make_integration(session, other, platform="bluesky", synthetic=True)
    headers = {"Authorization": f"Bearer {builders.make_key(session, other)}"}
    session.commit()
    body = client.get("/v1/analytics/status", headers=headers).json()["data"]
    assert [i["platform"] for i in body["integrations"]] == ["bluesky"]
    assert body["platforms"] == [{"platform": "bluesky", "synthetic": True, "paused": False}]


def test_status_counts_targets_not_read_yet_as_pending(
    client: TestClient, session: Session, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="bluesky")
    track(session, integration, "at://did:plc:x/app.bsky.feed.post/3k", published_at=NOW)
    headers = {"Authorization": f"Bearer {builders.make_key(session, workspace)}"}
    session.commit()
    (item,) = client.get("/v1/analytics/status", headers=headers).json()["data"]["integrations"]
    assert item["tracked"] == 1
    assert item["outcomes"]["pending"] == 1
    assert item["last_success_at"] is None
    assert item["next_due_at"] == "2026-04-16T10:00:00Z"
    assert item["discovery"] is None  # not looked at yet: the next scheduler pass will
