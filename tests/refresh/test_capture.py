"""Capture through the X client and the fake X API (no patches): values, idempotency and
every outcome."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.platforms.synthetic.client import simulate
from openpost.platforms.x.fake import FakeAccount, FakeX
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.batches import Batch, BatchItem
from openpost.refresh.capture import CaptureResult, capture_batch
from openpost.refresh.models import PlatformState, RefreshState
from openpost.refresh.runner import Runtime, sweep
from tests import builders
from tests.refresh.conftest import NOW, Clock, make_runtime, track, x_integration

H = timedelta(hours=1)


def collect(rt: Runtime) -> list[CaptureResult]:
    """One planning pass and every batch it queues, run in this thread."""
    _, batches = runner.plan_captures(rt, clock.now())
    return [capture_batch(rt.factory, rt.clients, rt.policy, batch) for batch in batches]


def state_of(session: Session, target_id: uuid.UUID) -> RefreshState:
    session.expire_all()
    state = session.get(RefreshState, target_id)
    assert state is not None
    return state


def snapshots(session: Session, target_id: uuid.UUID) -> list[Any]:
    return list(
        session.execute(
            select(Snapshot.impressions, Snapshot.likes, Snapshot.comments, Snapshot.shares)
            .where(Snapshot.post_target_id == target_id)
            .order_by(Snapshot.captured_at)
        ).all()
    )


@pytest.fixture
def account(fake_x: FakeX) -> FakeAccount:
    return fake_x.add_account("openpost", account_id="2244994945")


@pytest.fixture
def world(session: Session, fake_x: FakeX, account: FakeAccount) -> dict[str, Any]:
    """One live workspace with an X integration and three posts, tracked and due."""
    workspace = builders.make_workspace(session)
    integration = x_integration(session, workspace, account)
    posts = [
        fake_x.add_post(
            account,
            created_at=NOW - (n + 1) * H,
            impressions=1200 + n,
            likes=31,
            replies=2,
            retweets=4,
            quotes=1,
            bookmarks=3,
        )
        for n in range(3)
    ]
    targets = [track(session, integration, post.id, published_at=post.created_at) for post in posts]
    session.commit()
    return {"integration": integration, "posts": posts, "targets": targets}


def test_reading_becomes_a_snapshot(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    (result,) = collect(rt)
    assert result.written == 3
    assert len(fake_x.calls("tweets_lookup")) == 1  # three posts, one request
    target = world["targets"][0]
    assert snapshots(session, target.id) == [(1200, 31, 2, 5)]  # shares = retweets + quotes
    data = session.scalar(
        select(Snapshot.platform_data).where(Snapshot.post_target_id == target.id)
    )
    assert data == {
        "retweet_count": 4,
        "reply_count": 2,
        "like_count": 31,
        "quote_count": 1,
        "bookmark_count": 3,
        "impression_count": 1200,
    }
    state = state_of(session, target.id)
    assert (state.outcome, state.last_success_at, state.last_attempt_at) == ("ok", NOW, NOW)
    assert state.next_due_at == NOW + timedelta(minutes=30)
    assert state.latest_snapshot_id is not None


def test_new_snapshots_only_when_due(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    collect(rt)
    fake_x.set_counts(world["posts"][0].id, like_count=50)
    now.advance(timedelta(minutes=29))
    assert collect(rt) == []  # nothing is due yet
    now.advance(timedelta(minutes=1))
    collect(rt)
    assert [row.likes for row in snapshots(session, world["targets"][0].id)] == [31, 50]
    assert len(fake_x.calls("tweets_lookup")) == 2


def test_a_repeated_job_writes_nothing_twice(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    _, (batch,) = runner.plan_captures(rt, NOW)
    first = capture_batch(rt.factory, rt.clients, rt.policy, batch)
    again = capture_batch(rt.factory, rt.clients, rt.policy, batch)
    assert (first.written, first.stale) == (3, 0)
    assert (again.written, again.stale, again.requests) == (0, 3, 0)
    assert session.scalar(select(func.count()).select_from(Snapshot)) == 3
    assert len(fake_x.calls("tweets_lookup")) == 1


def test_capture_key_guards_even_a_lost_state_update(
    session: Session, rt: Runtime, world: dict[str, Any], now: Clock
) -> None:
    """Had the claim somehow survived the first capture, its key still stops a second row."""
    _, (batch,) = runner.plan_captures(rt, NOW)
    capture_batch(rt.factory, rt.clients, rt.policy, batch)
    for target in world["targets"]:
        state_of(session, target.id).next_due_at = batch.claim
    session.commit()
    again = capture_batch(rt.factory, rt.clients, rt.policy, batch)
    assert again.written == 0
    assert session.scalar(select(func.count()).select_from(Snapshot)) == 3


def test_a_replanned_job_supersedes_a_lost_one(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    """A worker dies holding a batch: after the lease its targets are planned again; if the
    first job runs after all, it writes nothing."""
    _, (lost,) = runner.plan_captures(rt, NOW)
    now.advance(rt.policy.lease)
    _, (replanned,) = runner.plan_captures(rt, clock.now())
    assert replanned.claim != lost.claim
    assert capture_batch(rt.factory, rt.clients, rt.policy, replanned).written == 3
    late = capture_batch(rt.factory, rt.clients, rt.policy, lost)
    assert (late.written, late.stale) == (0, 3)
    assert session.scalar(select(func.count()).select_from(Snapshot)) == 3


def test_deleted_post_is_marked_and_never_read_again(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    collect(rt)
    gone = world["targets"][1]
    fake_x.delete_post(world["posts"][1].id)
    now.advance(H)
    (result,) = collect(rt)
    assert result.outcomes == {"ok": 2, "not_found": 1}
    state = state_of(session, gone.id)
    assert (state.outcome, state.next_due_at, state.error_code) == ("not_found", None, "deleted")
    status = session.scalar(select(PostTarget.status).where(PostTarget.id == gone.id))
    assert status == "deleted"
    assert len(snapshots(session, gone.id)) == 1  # its last good reading stays
    now.advance(24 * H)
    lookups = [c.params["ids"] for c in fake_x.calls("tweets_lookup")]
    collect(rt)
    later = [c.params["ids"] for c in fake_x.calls("tweets_lookup")][len(lookups) :]
    assert later
    assert all(world["posts"][1].id not in ids for ids in later)


def test_protected_account_needs_refresh(
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    account: FakeAccount,
    world: dict[str, Any],
    now: Clock,
) -> None:
    account.protected = True
    (result,) = collect(rt)
    assert result.outcomes == {"permission_required": 3}
    session.expire_all()
    integration = session.get(Integration, world["integration"].id)
    assert integration is not None
    assert integration.status == "needs_refresh"
    state = state_of(session, world["targets"][0].id)
    assert state.error_code == "x_not_authorized"
    now.advance(2 * H)
    assert collect(rt) == []  # no quota spent until it is reconnected
    assert len(fake_x.calls("tweets_lookup")) == 1


def test_spent_window_pauses_x_for_every_worker(
    session: Session,
    collect_settings: Settings,
    engine: Any,
    fake_x: FakeX,
    world: dict[str, Any],
    now: Clock,
) -> None:
    fake_x.set_rate_limit("tweets_lookup", 1)
    rt = make_runtime(collect_settings, engine, fake_x)
    collect(rt)  # the one allowed request: remaining drops to 0
    window = session.get(PlatformState, "twitter/metrics")
    assert window is not None
    assert (window.rate_limit, window.rate_remaining) == (1, 0)
    assert window.paused_until == NOW + timedelta(minutes=15)
    assert window.pause_reason == "rate_window_spent"
    now.advance(H)  # ... and is reset by the next window
    other = make_runtime(collect_settings, engine, fake_x)  # another worker sees the same
    assert len(collect(other)) == 1
    assert len(fake_x.calls("tweets_lookup")) == 2


def test_429_is_rate_limited_until_reset(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    fake_x.set_rate_limit("tweets_lookup", 0)
    (result,) = collect(rt)
    assert result.outcomes == {"rate_limited": 3}
    state = state_of(session, world["targets"][0].id)
    reset = NOW + timedelta(minutes=15)
    assert state.next_due_at is not None
    assert reset < state.next_due_at <= reset + timedelta(seconds=31)
    assert state.consecutive_failures == 0
    assert (state.last_attempt_at, state.last_success_at) == (NOW, None)
    assert collect(rt) == []
    assert len(fake_x.calls("tweets_lookup")) == 1


def test_credits_depleted_pauses_x_and_probes_hourly(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    fake_x.inject("credits_depleted", times=None)
    (result,) = collect(rt)
    assert result.outcomes == {"rate_limited": 3}
    paused = session.get(PlatformState, "twitter")
    assert paused is not None
    assert (paused.pause_reason, paused.paused_until) == ("x_credits_depleted", NOW + H)
    now.advance(59 * timedelta(minutes=1))
    assert collect(rt) == []
    now.advance(2 * timedelta(minutes=1) + timedelta(seconds=31))
    (probe,) = collect(rt)  # one probe batch, refused again: another hour
    assert probe.outcomes == {"rate_limited": 3}
    assert len(fake_x.calls("tweets_lookup")) == 2
    fake_x.clear_faults()
    now.advance(H + timedelta(seconds=31))
    (ok,) = collect(rt)
    assert ok.written == 3
    session.expire_all()
    cleared = session.get(PlatformState, "twitter")
    assert cleared is not None
    assert cleared.pause_reason is None


def test_usage_cap_pauses_x_until_the_period_ends(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    fake_x.inject("usage_capped", period="Daily")
    collect(rt)
    paused = session.get(PlatformState, "twitter")
    assert paused is not None
    midnight = (NOW + timedelta(days=1)).replace(hour=0)
    assert (paused.pause_reason, paused.paused_until) == ("x_usage_capped", midnight)


def test_server_error_backs_off_and_keeps_the_last_snapshot(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    collect(rt)
    target = world["targets"][0]
    latest = state_of(session, target.id).latest_snapshot_id
    fake_x.inject("server_error", times=2)
    now.advance(H)
    collect(rt)
    state = state_of(session, target.id)
    assert (state.outcome, state.consecutive_failures, state.error_code) == (
        "failed",
        1,
        "x_server_error",
    )
    assert state.next_due_at is not None
    assert NOW + H + timedelta(seconds=30) <= state.next_due_at <= NOW + H + timedelta(seconds=60)
    assert state.latest_snapshot_id == latest
    now.advance(timedelta(minutes=1))
    collect(rt)
    state = state_of(session, target.id)
    assert state.consecutive_failures == 2
    assert timedelta(seconds=60) <= state.next_due_at - clock.now() <= timedelta(seconds=120)  # type: ignore[operator]
    now.advance(timedelta(minutes=2))
    collect(rt)
    state = state_of(session, target.id)
    assert (state.outcome, state.consecutive_failures, state.error_code) == ("ok", 0, None)


def test_refused_app_token_pauses_x_without_blaming_accounts(
    session: Session,
    collect_settings: Settings,
    engine: Any,
    fake_x: FakeX,
    world: dict[str, Any],
    now: Clock,
) -> None:
    wrong = collect_settings.model_copy(update={"x_bearer_token": "not-the-token"})
    (result,) = collect(make_runtime(wrong, engine, fake_x))
    assert result.outcomes == {"permission_required": 3}
    session.expire_all()
    assert session.get(Integration, world["integration"].id).status == "active"  # type: ignore[union-attr]
    paused = session.get(PlatformState, "twitter")
    assert paused is not None
    assert (paused.pause_reason, paused.paused_until) == ("x_unauthorized", NOW + H)


def test_malformed_counters_fail_alone(
    session: Session, rt: Runtime, fake_x: FakeX, world: dict[str, Any], now: Clock
) -> None:
    fake_x.set_counts(world["posts"][2].id, like_count="many")
    (result,) = collect(rt)
    assert result.outcomes == {"ok": 2, "failed": 1}
    assert state_of(session, world["targets"][2].id).error_code == "x_malformed"


def test_x_post_leaves_the_window_frozen(
    session: Session, rt: Runtime, fake_x: FakeX, account: FakeAccount, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    integration = x_integration(session, workspace, account)
    post = fake_x.add_post(account, created_at=NOW - 70 * H, likes=7)
    target = track(session, integration, post.id, published_at=post.created_at)
    session.commit()
    (result,) = collect(rt)
    assert result.outcomes == {"frozen": 1}  # read now; the next read would be past 72 h
    state = state_of(session, target.id)
    assert (state.next_due_at, state.last_success_at) == (None, NOW)
    assert [row.likes for row in snapshots(session, target.id)] == [7]


def test_platform_without_client_is_unsupported(
    session: Session, rt: Runtime, fake_x: FakeX, now: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from openpost.platforms.specs import SPECS

    # Every platform has a client today: take Pinterest's away, as before it landed.
    monkeypatch.setitem(SPECS, "pinterest", dataclasses.replace(SPECS["pinterest"], reader=None))
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="pinterest")
    target = track(session, integration, "post-1", published_at=NOW - H)
    session.commit()
    (result,) = collect(rt)
    assert (result.outcomes, result.requests) == ({"unsupported": 1}, 0)
    state = state_of(session, target.id)
    assert state.next_due_at == NOW + 24 * H


def test_synthetic_integrations_collect_through_the_same_path(
    session: Session, rt: Runtime, now: Clock
) -> None:
    from openpost.platforms.base import Account
    from openpost.platforms.synthetic.client import make_post_id

    workspace = builders.make_workspace(session, mode="test")
    integration = builders.make_integration(session, workspace, platform="bluesky", synthetic=True)
    published = NOW - 5 * H
    post_id = make_post_id("bluesky", Account("did:plc:x", "demo", "Demo"), published, 1)
    target = track(session, integration, post_id, published_at=published)
    session.commit()
    (result,) = collect(rt)
    assert result.written == 1
    expected = simulate("bluesky", post_id, published, NOW)
    row = snapshots(session, target.id)[0]
    assert row == (None, expected.likes, expected.comments, expected.shares)  # no impressions


def test_stale_batch_payload_of_an_unknown_target_is_ignored(rt: Runtime, now: Clock) -> None:
    batch = Batch(
        key="twitter",
        platform="twitter",
        synthetic=False,
        targets=(BatchItem(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "1", NOW),),
        claim=NOW,
    )
    result = capture_batch(rt.factory, rt.clients, rt.policy, batch)
    assert (result.written, result.stale, result.requests) == (0, 1, 0)


def test_a_sweep_reads_and_writes_at_its_own_clock_not_the_process_clock(
    session: Session, rt: Runtime, world: dict[str, Any], now: Clock
) -> None:
    """``openpost refresh --once --now T`` passes its time down: the process clock (here
    moved a year ahead, as if nobody had frozen it) is not what the sweep writes."""
    at = NOW
    now.at = NOW + timedelta(days=365)
    summary = sweep(rt, at, clock_now=lambda: at)
    assert summary.written == 3
    for target in world["targets"]:
        state = state_of(session, target.id)
        assert (state.last_attempt_at, state.last_success_at) == (at, at)
        assert state.next_due_at == at + timedelta(minutes=30)
    captured = session.scalars(select(Snapshot.captured_at)).all()
    assert captured == [at, at, at]
