"""The post page's "Refresh now": the API's refresh (claim, queue after commit), explained.

The app queues on huey's SQLite storage in the test's data dir; the ``queue`` fixture opens
that same queue with a collection runtime attached, so a test can count and run the jobs.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import PlatformState, RefreshState
from openpost.refresh.runner import Runtime
from openpost.refresh.tasks import JobQueue
from tests.builders import World, add_snapshot, make_integration, make_post
from tests.dashboard.conftest import Members, page_csrf, sign_in


@pytest.fixture
def queue(settings: Settings, engine: Engine) -> Iterator[JobQueue]:
    """The queue the app writes to, able to run its jobs."""
    runtime = Runtime.from_settings(settings, factory=make_sessionmaker(engine))
    found = JobQueue(settings)
    found.attach(runtime)
    yield found
    runtime.close()


def refresh(client: TestClient, post_id: uuid.UUID, **fields: str) -> str:
    token = page_csrf(client, f"/posts/{post_id}")
    response = client.post(
        f"/posts/{post_id}/refresh", data={"csrf_token": token, **fields}, follow_redirects=False
    )
    assert response.status_code == 200, response.text[:500]
    return response.text


def result_box(page: str) -> str:
    """The text of the page's refresh result, tags and extra spaces dropped."""
    found = re.search(
        r'<div class="notice" role="status" id="refresh-result">(.*?)</div>', page, re.S
    )
    assert found, "the page shows no refresh result"
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()))


def snapshots_of(session: Session, target: PostTarget) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(Snapshot).where(Snapshot.post_target_id == target.id)
        )
        or 0
    )


def api_refresh(client: TestClient, world: World, post_id: uuid.UUID) -> object:
    response = client.post(
        "/v1/analytics/refresh", headers=world.a.headers, json={"post_id": str(post_id)}
    )
    assert response.status_code == 202, response.text
    return response.json()


def _synthetic(session: Session, world: World, platform: str) -> Integration:
    world.a.workspace.mode = "test"
    return make_integration(session, world.a.workspace, platform=platform, synthetic=True)


def test_refresh_now_queues_what_policy_allows_and_says_why_not_the_rest(
    client: TestClient,
    session: Session,
    world: World,
    members: Members,
    settings: Settings,
    queue: JobQueue,
) -> None:
    account = _synthetic(session, world, "twitter")  # the builders' ids are X snowflakes
    gone = _synthetic(session, world, "mastodon")
    gone.status = "disconnected"
    removed = _synthetic(session, world, "youtube")
    post, (read, inactive, deleted) = make_post(
        session, world.a.workspace, [account, gone, removed]
    )
    for target in (read, inactive, deleted):
        add_snapshot(session, target, clock.now() - timedelta(minutes=10))
    deleted.status = "deleted"
    later = clock.now() + timedelta(hours=5)
    for target in (read, inactive, deleted):
        state = session.get(RefreshState, target.id)
        assert state is not None
        state.next_due_at = later  # not due: only a refresh request reads it now
    session.commit()
    sign_in(client, session, members.a["editor"])

    asked = clock.now()
    page = refresh(client, post.id)
    assert result_box(page) == (
        "Refresh queued for 1 account of this post: the collector reads it now. "
        "Reload in a moment for the new numbers. "
        "1 account left out: its account is disconnected or needs reconnecting. "
        "1 account left out: deleted on the platform."
    )
    # Claimed for the lease, as the API claims, and queued after the commit.
    session.expire_all()
    state = session.get(RefreshState, read.id)
    assert state is not None
    lease = timedelta(seconds=settings.capture_lease_seconds)
    assert state.next_due_at is not None
    assert asked - timedelta(seconds=1) <= state.next_due_at - lease <= clock.now()
    assert session.get(RefreshState, inactive.id).next_due_at == later  # type: ignore[union-attr]
    assert queue.pending() == 1
    before = snapshots_of(session, read)
    assert queue.run_pending() == 1  # the job finds its claim committed and reads
    assert snapshots_of(session, read) == before + 1
    assert snapshots_of(session, inactive) == 1

    # The API asked the same about the same post queues the same account.
    assert api_refresh(client, world, post.id) == {"data": {"queued": 1}}


def test_nothing_allowed_now_says_why(
    client: TestClient,
    session: Session,
    world: World,
    members: Members,
    queue: JobQueue,
) -> None:
    """X (live) is out of credits: its account is held back until the pause ends."""
    session.add(
        PlatformState(
            key="twitter",
            paused_until=clock.now() + timedelta(hours=2),
            pause_reason="x_credits_depleted",
            pause_message="X API credits are depleted",
            reads_today=0,
        )
    )
    session.commit()
    sign_in(client, session, members.a["editor"])
    until = (clock.now() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    page = refresh(client, world.a.post.id)
    assert result_box(page) == (
        "Nothing was queued: no account of this post may be read now. "
        f"1 account left out: X is paused: X API credits are depleted (until {until} UTC)."
    )
    assert queue.pending() == 0
    assert api_refresh(client, world, world.a.post.id) == {"data": {"queued": 0}}


def test_a_post_past_the_platforms_window_is_frozen(
    client: TestClient, session: Session, world: World, members: Members, queue: JobQueue
) -> None:
    old, (target,) = make_post(
        session,
        world.a.workspace,
        [world.a.integration],
        published_at=clock.now() - timedelta(hours=100),  # X reads posts for 72 h
    )
    add_snapshot(session, target, clock.now() - timedelta(hours=30))
    state = session.get(RefreshState, target.id)
    assert state is not None
    state.last_success_at = clock.now() - timedelta(hours=30)  # read before, so it freezes
    session.commit()
    sign_in(client, session, members.a["editor"])
    assert result_box(refresh(client, old.id, days="7")) == (
        "Nothing was queued: no account of this post may be read now. "
        "1 account left out: past the platform's collection window: its last reading is final."
    )
    assert queue.pending() == 0


def test_a_post_on_no_account_and_an_untracked_target(
    client: TestClient, session: Session, world: World, members: Members, queue: JobQueue
) -> None:
    bare = Post(workspace_id=world.a.workspace.id, content="draft")
    session.add(bare)
    new, (target,) = make_post(session, world.a.workspace, [world.a.integration])
    session.commit()
    assert session.get(RefreshState, target.id) is None  # never scheduled
    sign_in(client, session, members.a["editor"])
    assert result_box(refresh(client, bare.id)) == "Nothing was queued: this post is on no account."
    assert "not scheduled for collection yet" in result_box(refresh(client, new.id))
    assert queue.pending() == 0


def test_refresh_now_keeps_the_history_window_and_checks_it(
    client: TestClient, session: Session, world: World, members: Members, queue: JobQueue
) -> None:
    sign_in(client, session, members.a["editor"])
    page = refresh(client, world.a.post.id, days="30")
    assert '<option value="30" selected>' in page
    token = page_csrf(client, f"/posts/{world.a.post.id}")
    queue.huey.flush()
    state = session.get(RefreshState, world.a.targets[0].id)
    assert state is not None
    before = state.next_due_at
    for bad in ("abc", "-1", "12"):
        response = client.post(
            f"/posts/{world.a.post.id}/refresh", data={"csrf_token": token, "days": bad}
        )
        assert response.status_code == 400
        assert "days must be one of 7, 30, 90, 365" in response.text
    session.expire_all()
    assert session.get(RefreshState, world.a.targets[0].id).next_due_at == before  # type: ignore[union-attr]
    assert queue.pending() == 0  # a refused form claims and queues nothing


def test_another_workspaces_post_is_not_found_and_nothing_is_claimed(
    client: TestClient, session: Session, world: World, members: Members, queue: JobQueue
) -> None:
    state = session.get(RefreshState, world.b.targets[0].id)
    assert state is not None
    before = state.next_due_at
    sign_in(client, session, members.a["editor"])
    token = page_csrf(client)
    response = client.post(f"/posts/{world.b.post.id}/refresh", data={"csrf_token": token})
    assert response.status_code == 404
    session.expire_all()
    assert session.get(RefreshState, world.b.targets[0].id).next_due_at == before  # type: ignore[union-attr]
    assert queue.pending() == 0
