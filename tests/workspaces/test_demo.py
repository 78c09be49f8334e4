"""The demo seeder: its shape, its history following the tiers, idempotency, and the API."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import METRICS, Snapshot
from openpost.auth.models import ApiKey
from openpost.auth.service import authenticate
from openpost.core import clock
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.synthetic.client import published_at_of, simulate
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState
from openpost.refresh.tiers import next_due_at
from openpost.workspaces.demo import (
    DEMO_EMAIL,
    DEMO_NAME,
    DEMO_PASSWORD,
    POST_COUNT,
    X_FRESHNESS,
    DemoResult,
    readings_due,
    seed_demo,
)
from openpost.workspaces.models import Member, User, Workspace
from openpost.workspaces.service import verify_password

DAY = timedelta(days=1)


SMALL = 16  # posts in the small demo the cheaper tests seed


def _seed(session: Session, now: datetime, post_count: int = POST_COUNT) -> DemoResult:
    result = seed_demo(session, now, post_count=post_count)
    session.commit()
    return result


def _counts(session: Session) -> dict[str, int]:
    tables = {
        "workspaces": Workspace,
        "integrations": Integration,
        "posts": Post,
        "targets": PostTarget,
        "snapshots": Snapshot,
        "states": RefreshState,
        "users": User,
        "members": Member,
        "keys": ApiKey,
    }
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in tables.items()
    }


def _history(session: Session) -> dict[uuid.UUID, list[Row[Any]]]:
    """Every target's snapshots, newest first (plain rows: the demo holds thousands)."""
    history: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    columns = (
        Snapshot.id,
        Snapshot.post_target_id,
        Snapshot.integration_id,
        Snapshot.workspace_id,
        Snapshot.captured_at,
        Snapshot.capture_key,
        *(getattr(Snapshot, metric) for metric in METRICS),
        Snapshot.platform_data,
    )
    for row in session.execute(
        select(*columns).order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
    ):
        history[row.post_target_id].append(row)
    return history


def test_demo_workspace_has_the_promised_shape(session: Session) -> None:
    now = clock.now()
    result = _seed(session, now)

    workspace = session.get(Workspace, result.workspace_id)
    assert workspace is not None
    assert (workspace.name, workspace.mode, workspace.timezone) == (
        DEMO_NAME,
        "test",
        "Europe/Berlin",
    )
    assert result.created
    assert result.key.startswith("op_test_")
    assert authenticate(session, f"Bearer {result.key}").workspace_id == workspace.id

    integrations = {
        i.id: i
        for i in session.scalars(
            select(Integration).where(Integration.workspace_id == workspace.id)
        )
    }
    platforms = {i.platform for i in integrations.values()}
    assert {"twitter", "bluesky", "mastodon", "youtube", "linkedin"} <= platforms
    assert all(i.synthetic and i.status == "active" for i in integrations.values())

    posts = list(session.scalars(select(Post).where(Post.workspace_id == workspace.id)))
    assert 60 <= len(posts) <= 120
    ages = [now - p.published_at for p in posts if p.published_at is not None]
    assert any(age < DAY for age in ages)
    assert any(DAY <= age < 7 * DAY for age in ages)
    assert any(7 * DAY <= age < 90 * DAY for age in ages)
    assert any(age >= 90 * DAY for age in ages)
    assert {p.source for p in posts} == {"api", "discovered"}
    contents = [p.content for p in posts]
    assert any("<script>alert(1)</script>" in c for c in contents)
    assert any(c.startswith("=HYPERLINK(") for c in contents)

    targets = list(
        session.scalars(select(PostTarget).where(PostTarget.workspace_id == workspace.id))
    )
    per_post = Counter(t.post_id for t in targets)
    assert sum(1 for n in per_post.values() if n > 1) >= 10
    assert result.posts == len(posts)
    assert result.targets == len(targets)

    history = _history(session)
    states = {s.post_target_id: s for s in session.scalars(select(RefreshState))}
    assert result.snapshots_total == result.snapshots_written == sum(map(len, history.values()))
    assert 5_000 < result.snapshots_total < 40_000
    outcomes: Counter[str] = Counter()
    for target in targets:
        integration = integrations[target.integration_id]
        platform = integration.platform
        assert target.published_at is not None
        assert target.platform_post_id is not None
        assert published_at_of(platform, target.platform_post_id) == target.published_at
        snapshots = history[target.id]
        state = states[target.id]
        outcomes[state.outcome] += 1
        times = [s.captured_at for s in reversed(snapshots)]
        expected = readings_due(platform, target.published_at, now)
        if target.status == "deleted":
            # read until the platform lost it, then the next attempt found it gone
            assert state.outcome == "not_found"
            assert state.next_due_at is None
            assert times == expected[: len(times)]
            assert len(times) < len(expected)
            assert state.last_success_at == times[-1]
            assert state.last_attempt_at == next_due_at(target.published_at, times[-1])
        else:
            assert times == expected, target.id
        if platform == "twitter":
            assert times[-1] - target.published_at < X_FRESHNESS

        for snapshot in snapshots:
            reading = simulate(
                platform, target.platform_post_id, target.published_at, snapshot.captured_at
            )
            assert (
                snapshot.impressions,
                snapshot.likes,
                snapshot.comments,
                snapshot.shares,
                snapshot.platform_data,
            ) == (
                reading.impressions,
                reading.likes,
                reading.comments,
                reading.shares,
                reading.platform_data,
            )
            assert snapshot.capture_key == f"demo:{format_time(snapshot.captured_at)}"
            assert snapshot.integration_id == target.integration_id
            assert snapshot.workspace_id == workspace.id

        assert state.latest_snapshot_id == snapshots[0].id
        assert state.previous_snapshot_id == (snapshots[1].id if len(snapshots) > 1 else None)
        if target.status == "deleted":
            continue
        last = snapshots[0].captured_at
        assert state.last_attempt_at == state.last_success_at == last
        due = next_due_at(target.published_at, last)
        if platform == "twitter" and due is not None and due - target.published_at >= X_FRESHNESS:
            due = None
        assert state.next_due_at == due
        assert state.outcome == ("frozen" if due is None else "ok")
        if due is not None:
            assert due > now
    assert outcomes["ok"] > 0
    assert outcomes["frozen"] > 0
    assert outcomes["not_found"] == 1

    by_platform: dict[str, list[Row[Any]]] = defaultdict(list)
    for target in targets:
        by_platform[integrations[target.integration_id].platform] += history[target.id]
    for platform in ("bluesky", "mastodon"):
        assert all(s.impressions is None for s in by_platform[platform])
        assert all(s.likes is not None for s in by_platform[platform])
    assert all(s.shares is None for s in by_platform["youtube"])
    assert all(s.platform_data["impressions_kind"] == "views" for s in by_platform["youtube"])
    assert all(s.impressions is not None for s in by_platform["twitter"])

    member = session.scalars(select(Member).where(Member.workspace_id == workspace.id)).one()
    user = session.get(User, member.user_id)
    assert user is not None
    assert (user.email, member.role) == (DEMO_EMAIL, "owner")
    assert verify_password(user.password_hash, DEMO_PASSWORD)
    assert (result.email, result.password) == (DEMO_EMAIL, DEMO_PASSWORD)


def test_seeding_again_duplicates_nothing_and_tops_history_up(session: Session) -> None:
    now = clock.now()
    calls: list[tuple[int, int]] = []
    first = seed_demo(
        session, now, post_count=SMALL, progress=lambda done, total: calls.append((done, total))
    )
    session.commit()
    assert calls[-1] == (first.targets, first.targets)
    before = _counts(session)

    second = _seed(session, now, SMALL)
    after = _counts(session)
    assert second.workspace_id == first.workspace_id
    assert not second.created
    assert second.snapshots_written == 0
    assert second.key != first.key
    assert after == before | {"keys": before["keys"] + 1}
    for key in (first.key, second.key):
        assert authenticate(session, f"Bearer {key}").workspace_id == first.workspace_id

    later = now + DAY
    third = _seed(session, later, SMALL)
    topped = _counts(session)
    assert third.workspace_id == first.workspace_id
    assert third.snapshots_written > 0
    assert topped["snapshots"] == before["snapshots"] + third.snapshots_written
    assert {k: v for k, v in topped.items() if k not in ("snapshots", "keys")} == {
        k: v for k, v in before.items() if k not in ("snapshots", "keys")
    }
    # each history still follows the schedule, now up to the later time, with no repeats
    history = _history(session)
    integrations = {i.id: i.platform for i in session.scalars(select(Integration))}
    states = {s.post_target_id: s for s in session.scalars(select(RefreshState))}
    for target in session.scalars(select(PostTarget)):
        assert target.published_at is not None
        times = [s.captured_at for s in reversed(history[target.id])]
        assert len(times) == len(set(times))
        if target.status != "deleted":
            platform = integrations[target.integration_id]
            assert times == readings_due(platform, target.published_at, later)
            assert states[target.id].last_success_at == times[-1]
            assert states[target.id].latest_snapshot_id == history[target.id][0].id


def test_the_api_serves_the_demo_data(session: Session, client: TestClient) -> None:
    result = _seed(session, clock.now(), SMALL)
    headers = {"Authorization": f"Bearer {result.key}"}

    page = client.get("/v1/analytics", params={"days": 7, "limit": 100}, headers=headers)
    assert page.status_code == 200, page.text
    rows = page.json()["data"]
    assert len(rows) == 100
    assert page.json()["next_cursor"]
    assert {row["platform"] for row in rows} >= {"twitter", "bluesky"}
    assert all(row["impressions"] is None for row in rows if row["platform"] == "bluesky")

    multi = session.execute(  # the newest post on several platforms
        select(PostTarget.post_id)
        .group_by(PostTarget.post_id)
        .having(func.count() > 1)
        .order_by(func.max(PostTarget.published_at).desc())
        .limit(1)
    ).scalar()
    response = client.get(f"/v1/analytics/post/{multi}", params={"days": 90}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert len(body["targets"]) > 1
    for metric in ("impressions", "likes", "comments", "shares"):
        reported = [t[metric] for t in body["targets"] if t[metric] is not None]
        assert body["totals"][metric] == (sum(reported) if reported else None)
    for target in body["targets"]:
        assert target["snapshots"]
        assert target["snapshots"][0]["captured_at"] == target["captured_at"]
        assert target["refresh"]["outcome"] in ("ok", "frozen", "not_found")

    deleted = session.scalars(select(PostTarget).where(PostTarget.status == "deleted")).one()
    response = client.get(f"/v1/analytics/post/{deleted.post_id}", headers=headers)
    assert response.status_code == 200, response.text
    gone = next(t for t in response.json()["data"]["targets"] if t["status"] == "deleted")
    assert gone["refresh"]["outcome"] == "not_found"
    assert gone["likes"] is not None  # the last good snapshot stays


def test_the_demo_answers_as_of_any_day_of_its_history(
    session: Session, client: TestClient
) -> None:
    """SPEC §9.6 on the demo: every integration was connected before its first reading
    (as in real collection), so an answer as of a past day filtered on it is not a 404."""
    from openpost.accounts.models import AccountSnapshot
    from openpost.core.timefmt import format_time
    from openpost.integrations.models import Integration

    now = clock.now()
    result = _seed(session, now)
    for integration in session.scalars(select(Integration)):
        first = session.scalar(
            select(func.min(Snapshot.captured_at)).where(Snapshot.integration_id == integration.id)
        )
        first_account = session.scalar(
            select(func.min(AccountSnapshot.captured_at)).where(
                AccountSnapshot.integration_id == integration.id
            )
        )
        assert first is not None
        assert integration.created_at <= first
        assert first_account is None or integration.created_at <= first_account
        as_of = format_time(first + (now - first) / 2)
        answer = client.get(
            "/v1/analytics",
            params={"integration_id": str(integration.id), "as_of": as_of, "days": 30},
            headers={"Authorization": f"Bearer {result.key}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"], integration.platform
