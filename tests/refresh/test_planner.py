"""The planner: the due set, the X cap, pauses, budgets, batches across workspaces, claims."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.integrations.models import Integration
from openpost.platforms.x.fake import FakeX
from openpost.posts.models import PostTarget
from openpost.refresh import planner, ratestate
from openpost.refresh.budgets import DailyBudget
from openpost.refresh.models import PlatformState, RefreshState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, track

H = timedelta(hours=1)


def _plan(session: Session, rt: Runtime, **kwargs: object) -> planner.Plan:
    return planner.plan(session, rt.settings, rt.policy, rt.clients, NOW, **kwargs)  # type: ignore[arg-type]


def _ids(result: planner.Plan) -> set[object]:
    return {t.target_id for targets in result.chosen.values() for t in targets}


CASES = [
    # (name, target fields, integration fields, chosen?)
    ("due now", {"next_due_at": NOW}, {}, True),
    ("overdue", {"next_due_at": NOW - 5 * H}, {}, True),
    ("due in a second", {"next_due_at": NOW + timedelta(seconds=1)}, {}, False),
    ("deleted target", {"next_due_at": NOW, "status": "deleted"}, {}, False),
    ("disconnected integration", {"next_due_at": NOW}, {"status": "disconnected"}, False),
    ("integration needs refresh", {"next_due_at": NOW}, {"status": "needs_refresh"}, False),
    ("analytics off", {"next_due_at": NOW}, {"analytics_enabled": False}, False),
]


@pytest.mark.parametrize(("name", "target", "integration", "chosen"), CASES)
def test_due_set(
    session: Session,
    rt: Runtime,
    now: Clock,
    name: str,
    target: dict[str, object],
    integration: dict[str, object],
    chosen: bool,
) -> None:
    workspace = builders.make_workspace(session)
    found = builders.make_integration(session, workspace, platform="bluesky", **integration)
    tracked = track(session, found, "post-1", published_at=NOW - H, **target)  # type: ignore[arg-type]
    assert (tracked.id in _ids(_plan(session, rt))) is chosen, name


def _x_targets(
    session: Session,
    integration: Integration,
    count: int,
    *,
    newest_age: timedelta,
    step: timedelta,
) -> list[object]:
    """``count`` X targets, newest first, all read once before and due now."""
    return [
        track(
            session,
            integration,
            str(1790000000000000000 + n),
            published_at=NOW - newest_age - n * step,
            last_attempt_at=NOW - H,
            last_success_at=NOW - H,
        ).id
        for n in range(count)
    ]


def test_x_cap_keeps_the_50_newest(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="twitter")
    ids = _x_targets(session, integration, 52, newest_age=H, step=timedelta(minutes=10))
    result = _plan(session, rt)
    assert _ids(result) == set(ids[:50])
    assert {t.target_id for t in result.frozen} == set(ids[50:])


@pytest.mark.parametrize(
    ("age", "read_before", "outcome"),
    [
        (71 * H, True, "read"),
        (72 * H, True, "frozen"),
        (100 * H, True, "frozen"),
        (100 * H, False, "read"),  # a newly tracked target gets its first reading
    ],
)
def test_x_window(
    session: Session, rt: Runtime, now: Clock, age: timedelta, read_before: bool, outcome: str
) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="twitter")
    last = NOW - H if read_before else None
    target = track(
        session,
        integration,
        "1790000000000000001",
        published_at=NOW - age,
        last_attempt_at=last,
        last_success_at=last,
    )
    result = _plan(session, rt)
    assert (target.id in _ids(result)) is (outcome == "read")
    assert (target.id in {t.target_id for t in result.frozen}) is (outcome == "frozen")


def test_x_cap_counts_only_published_posts(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="twitter")
    ids = _x_targets(session, integration, 51, newest_age=H, step=timedelta(minutes=10))
    newest = session.get(PostTarget, ids[0])
    assert newest is not None
    newest.status = "deleted"  # the newest post was deleted on X
    session.flush()
    assert _ids(_plan(session, rt)) == set(ids[1:51])  # the 51st moved up into the cap


@pytest.mark.parametrize("count", [1, 99, 100, 101, 250, 1000])
def test_batches_span_workspaces(session: Session, rt: Runtime, now: Clock, count: int) -> None:
    """N due X targets in many workspaces and integrations cost ⌈N/100⌉ lookups."""
    integrations = []
    for _ in range(3):
        workspace = builders.make_workspace(session)
        integrations += [
            builders.make_integration(session, workspace, platform="twitter") for _ in range(2)
        ]
    for n in range(count):
        track(
            session,
            integrations[n % len(integrations)],
            str(1790000000000000000 + n),
            published_at=NOW - H,
        )
    batches = _plan(session, rt).batches(NOW)
    assert len(batches) == math.ceil(count / 100)
    assert sum(len(b.targets) for b in batches) == count
    assert all(len(b.targets) <= 100 for b in batches)
    workspaces = {t.workspace_id for b in batches for t in b.targets}
    assert len(workspaces) == min(count, 3)


def test_batches_by_credential_and_platform_size(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session, mode="test")
    bluesky = builders.make_integration(session, workspace, platform="bluesky", synthetic=True)
    x_app = builders.make_integration(session, workspace, platform="twitter")
    x_user = builders.make_integration(
        session, workspace, platform="twitter", credentials_encrypted="sealed"
    )
    for n in range(30):
        track(session, bluesky, f"b{n}", published_at=NOW - H)
        track(session, x_app, str(1790000000000000000 + n), published_at=NOW - H)
        track(session, x_user, str(1790000000000001000 + n), published_at=NOW - H)
    sizes: dict[str, list[int]] = {}
    for batch in _plan(session, rt).batches(NOW):
        sizes.setdefault(batch.key, []).append(len(batch.targets))
    assert sizes == {
        "synthetic:bluesky": [25, 5],  # Bluesky reads 25 posts per request
        "twitter": [30],
        f"twitter:user:{x_user.id}": [30],  # an owner's token is not shared
    }


def test_pause_holds_back_a_platform(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    sky = builders.make_integration(session, workspace, platform="bluesky", synthetic=True)
    for n in range(3):
        track(session, x, str(1790000000000000000 + n), published_at=NOW - H)
    track(session, sky, "b1", published_at=NOW - H)
    session.add(
        PlatformState(
            key="twitter/metrics",
            paused_until=NOW + 5 * H,
            pause_reason="x_rate_limited",
            reads_today=0,
        )
    )
    session.flush()
    result = _plan(session, rt)
    assert set(result.chosen) == {"synthetic:bluesky"}
    assert result.paused == {"twitter": 3}


def test_probe_after_a_platform_pause(session: Session, rt: Runtime, now: Clock) -> None:
    """Once depleted credits' pause ends, one batch probes before the rest may follow."""
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    for n in range(250):
        track(session, x, str(1790000000000000000 + n), published_at=NOW - H)
    session.add(
        PlatformState(
            key="twitter",
            paused_until=NOW - timedelta(seconds=1),
            pause_reason="x_credits_depleted",
            reads_today=0,
        )
    )
    session.flush()
    result = _plan(session, rt)
    batches = planner.claim(session, result, lease_until=NOW + 5 * H)
    assert [(b.probe, len(b.targets)) for b in batches] == [(True, 100)]
    assert result.paused == {"twitter": 150}
    state = session.get(PlatformState, "twitter", populate_existing=True)
    assert state is not None
    assert state.paused_until == NOW + 5 * H  # nothing more meanwhile
    assert _plan(session, rt).chosen == {}


def test_budget_prefers_free_then_fresh_and_engaged(
    session: Session, collect_settings: Settings, engine: object, fake_x: FakeX, now: Clock
) -> None:
    from tests.refresh.conftest import make_runtime

    rt = make_runtime(
        collect_settings.model_copy(update={"x_daily_read_budget": 3}),
        engine,
        fake_x,  # type: ignore[arg-type]
    )
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")

    def target(n: int, age: timedelta, impressions: int | None, read_today: bool) -> object:
        last = NOW - timedelta(minutes=40) if read_today else NOW - timedelta(days=1, hours=1)
        made = track(
            session,
            x,
            str(1790000000000000000 + n),
            published_at=NOW - age,
            last_attempt_at=last,
            last_success_at=last,
        )
        if impressions is not None:
            builders.add_snapshot(session, made, last, impressions=impressions)
        return made.id

    free = target(1, 30 * H, 5, read_today=True)  # read today: costs nothing more
    fresh_big = target(2, 2 * H, 900, read_today=False)
    fresh_small = target(3, 3 * H, 10, read_today=False)
    recent_big = target(4, 30 * H, 5000, read_today=False)
    recent_small = target(5, 40 * H, 1, read_today=False)
    session.add(PlatformState(key="twitter", budget_day=NOW.date().isoformat(), reads_today=0))
    session.flush()

    result = _plan(session, rt)
    assert _ids(result) == {free, fresh_big, fresh_small, recent_big}
    assert result.over_budget == {"twitter": 1}
    assert result.spend == {"twitter": 3}
    planner.claim(session, result, lease_until=NOW + H)
    row = session.get(PlatformState, "twitter", populate_existing=True)
    assert row is not None
    assert row.reads_today == 3
    budget = DailyBudget.of("twitter", 3)
    assert ratestate.reads_left(row, budget, NOW) == 0
    assert ratestate.reads_left(row, budget, NOW + timedelta(days=1)) == 3  # a new UTC day
    assert recent_small not in _ids(result)


def test_claim_takes_each_target_once(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    ids = [
        track(session, x, str(1790000000000000000 + n), published_at=NOW - H).id for n in range(5)
    ]
    first, second = _plan(session, rt), _plan(session, rt)
    claimed = planner.claim(session, first, lease_until=NOW + H)
    assert {t.target_id for b in claimed for t in b.targets} == set(ids)
    assert planner.claim(session, second, lease_until=NOW + 2 * H) == []  # already taken
    due = session.scalars(
        select(RefreshState.next_due_at).where(RefreshState.post_target_id.in_(ids))
    ).all()
    assert set(due) == {NOW + H}


def test_claim_marks_policy_frozen_targets(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    old = track(
        session,
        x,
        "1790000000000000001",
        published_at=NOW - 80 * H,
        last_attempt_at=NOW - 9 * H,
        last_success_at=NOW - 9 * H,
    )
    planner.claim(session, _plan(session, rt), lease_until=NOW + H)
    state = session.get(RefreshState, old.id, populate_existing=True)
    assert state is not None
    assert (state.outcome, state.next_due_at) == ("frozen", None)
    assert _plan(session, rt).frozen == []  # never looked at again


def test_workspace_filter(session: Session, rt: Runtime, now: Clock) -> None:
    a, b = builders.make_workspace(session), builders.make_workspace(session)
    ta = track(
        session, builders.make_integration(session, a, platform="bluesky"), "a", published_at=NOW
    )
    track(session, builders.make_integration(session, b, platform="bluesky"), "b", published_at=NOW)
    assert _ids(_plan(session, rt, workspace_id=a.id)) == {ta.id}


def test_batch_payload_round_trip(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    track(session, x, "1790000000000000001", published_at=NOW)
    (batch,) = _plan(session, rt).batches(NOW + H)
    assert planner.Batch.from_payload(batch.payload()) == batch


def test_mastodon_batches_never_mix_instances(session: Session, rt: Runtime, now: Clock) -> None:
    one, two = builders.make_workspace(session), builders.make_workspace(session)
    social = [
        builders.make_integration(
            session, ws, platform="mastodon", username=f"a{n}@mastodon.social"
        )
        for n, ws in enumerate((one, two))
    ]
    other = builders.make_integration(session, one, platform="mastodon", username="b@fosstodon.org")
    for n in range(15):
        for integration in (*social, other):
            track(session, integration, f"{n}{integration.id.hex[:6]}", published_at=NOW - H)
    sizes: dict[str, list[int]] = {}
    for batch in _plan(session, rt).batches(NOW):
        sizes.setdefault(batch.key, []).append(len(batch.targets))
    # one instance's posts share batches across workspaces, 20 statuses per request
    assert sizes == {"mastodon:mastodon.social": [20, 10], "mastodon:fosstodon.org": [15]}
