"""``retention.apply`` removes exactly what the rule removes, and every daily answer stays.

The rule, asked of Python directly: a reading before the cutoff is removed when its target
(or account) has an earlier and a later reading on the same local day and it is not one of the
target's two newest. Checked on random histories in a timezone with a daylight-saving change
inside the thinned range, with several readings per second, against the answers the API gave
before: growth per local day, each post's latest/delta/totals, each account's detail.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountSnapshot
from openpost.accounts.service import account_detail
from openpost.analytics.growth import growth_per_day
from openpost.analytics.models import Snapshot
from openpost.analytics.service import post_metrics
from openpost.core.db import make_sessionmaker
from openpost.retention.models import RetentionRun
from openpost.retention.service import apply, cutoff_for
from tests import builders

NOW = datetime(2026, 4, 16, 15, 0, 0, tzinfo=UTC)
ZONE = "America/New_York"  # clocks went forward on 2026-03-08, inside the thinned range


def _history(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """Reading times: bursts on some days, single readings, gaps, same-second twins."""
    times: list[datetime] = []
    at = start
    while at < end:
        times.append(at)
        if rng.random() < 0.15:
            times.append(at)  # a twin in the same second: ties broken by id
        at += timedelta(minutes=rng.choice((7, 30, 30, 90, 360, 1440, 2900)))
    return times


def _arrange(session: Session, rng: random.Random) -> tuple[Any, list[Any], list[Any]]:
    workspace = builders.make_workspace(session, timezone=ZONE)
    integrations = [builders.make_integration(session, workspace) for _ in range(2)]
    posts = []
    for n in range(4):
        published = NOW - timedelta(days=rng.randint(30, 60), hours=rng.randint(0, 23))
        post, targets = builders.make_post(
            session, workspace, integrations[: 1 + n % 2], published_at=published
        )
        posts.append(post)
        for target in targets:
            value = 0
            for at in _history(rng, published + timedelta(minutes=5), NOW):
                value += rng.randint(0, 40)
                builders.add_snapshot(
                    session,
                    target,
                    at,
                    impressions=value * 10,
                    likes=value,
                    comments=None,
                    shares=value // 7,
                    capture_key=uuid.uuid4().hex,  # twins share a second, not a key
                )
    for integration in integrations:
        followers = 1000
        for at in _history(rng, NOW - timedelta(days=50), NOW):
            followers += rng.randint(-3, 9)
            session.add(
                AccountSnapshot(
                    workspace_id=workspace.id,
                    integration_id=integration.id,
                    followers=followers,
                    following=None,
                    posts=12,
                    platform_data={},
                    captured_at=at,
                    capture_key=uuid.uuid4().hex,
                )
            )
    session.commit()
    return workspace, posts, integrations


def _expected_removed(rows: list[Any], group: str, cutoff: datetime) -> set[uuid.UUID]:
    """By definition, in Python."""
    zone = ZoneInfo(ZONE)
    by_group: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        by_group[getattr(row, group)].append(row)
    removed: set[uuid.UUID] = set()
    for history in by_group.values():
        history.sort(key=lambda r: (r.captured_at, r.id))
        newest_two = {r.id for r in history[-2:]}
        by_day: dict[Any, list[Any]] = defaultdict(list)
        for row in history:
            if row.captured_at < cutoff:
                by_day[row.captured_at.astimezone(zone).date()].append(row)
        for day_rows in by_day.values():
            removed |= {r.id for r in day_rows[1:-1]} - newest_two
    return removed


def _answers(session: Session, workspace: Any, posts: list[Any], integrations: list[Any]) -> Any:
    """What the API answers, each reading list reduced to its ids (compared separately)."""
    ws = workspace.id
    details = [account_detail(session, ws, i.id, now=NOW, days=90) for i in integrations]
    for detail in details:
        detail.pop("snapshots")
        for day in detail["growth"]:
            day.pop("readings")  # how many readings the day holds: fewer, by design
    metrics = [post_metrics(session, ws, p.id, now=NOW, days=90) for p in posts]
    for answer in metrics:
        for target in answer["targets"]:
            target.pop("snapshots")
    return {
        "growth": growth_per_day(session, ws, now=NOW, days=90),
        "posts": metrics,
        "accounts": details,
    }


def _rows(session: Session, model: Any, workspace_id: uuid.UUID) -> list[Any]:
    session.expire_all()
    return list(session.scalars(select(model).where(model.workspace_id == workspace_id)))


@pytest.mark.parametrize("seed", [1, 2])
def test_apply_removes_what_the_rule_removes_and_every_daily_answer_stays(
    engine: Engine, session: Session, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - test data
    workspace, posts, integrations = _arrange(session, rng)
    other, _, _ = _arrange(session, rng)  # another workspace: never touched
    other_before = {r.id for r in _rows(session, Snapshot, other.id)}
    before = _answers(session, workspace, posts, integrations)
    snapshots = _rows(session, Snapshot, workspace.id)
    accounts = _rows(session, AccountSnapshot, workspace.id)
    cutoff = cutoff_for(ZONE, 20, NOW)
    assert cutoff == datetime(2026, 3, 27, 4, 0, tzinfo=UTC)  # local midnight, EDT
    gone = _expected_removed(snapshots, "post_target_id", cutoff)
    gone_accounts = _expected_removed(accounts, "integration_id", cutoff)
    snapshot_ids, account_ids = {r.id for r in snapshots}, {r.id for r in accounts}
    examined = sum(s.captured_at < cutoff for s in snapshots)
    assert gone  # the data has something to thin
    assert gone_accounts
    factory = make_sessionmaker(engine)

    dry = apply(factory, workspace.id, 20, dry_run=True, now=NOW)
    assert dry.counts["post snapshots"].removed == len(gone)
    assert dry.counts["account snapshots"].removed == len(gone_accounts)
    assert dry.counts["post snapshots"].examined == examined
    assert {r.id for r in _rows(session, Snapshot, workspace.id)} == snapshot_ids

    done = apply(factory, workspace.id, 20, dry_run=False, now=NOW, batch=3)
    assert done.counts["post snapshots"].removed == len(gone)
    kept = _rows(session, Snapshot, workspace.id)
    assert {r.id for r in kept} == snapshot_ids - gone
    assert {r.id for r in _rows(session, AccountSnapshot, workspace.id)} == (
        account_ids - gone_accounts
    )
    assert {r.id for r in _rows(session, Snapshot, other.id)} == other_before
    assert _answers(session, workspace, posts, integrations) == before

    again = apply(factory, workspace.id, 20, dry_run=False, now=NOW)
    assert again.counts["post snapshots"].removed == 0
    runs = session.scalars(
        select(RetentionRun).where(RetentionRun.workspace_id == workspace.id)
    ).all()
    assert sorted((r.dry_run, r.snapshots_removed, r.status) for r in runs) == [
        (False, 0, "done"),
        (False, len(gone), "done"),
        (True, len(gone), "done"),
    ]
    assert all(r.finished_at is not None for r in runs)


def test_readings_from_the_cutoff_on_are_never_touched(engine: Engine, session: Session) -> None:
    workspace = builders.make_workspace(session, timezone="UTC")
    integration = builders.make_integration(session, workspace)
    _, (target,) = builders.make_post(
        session, workspace, [integration], published_at=NOW - timedelta(days=3)
    )
    for minutes in range(0, 3 * 24 * 60, 30):  # every 30 minutes for three days
        builders.add_snapshot(session, target, NOW - timedelta(days=3) + timedelta(minutes=minutes))
    session.commit()
    outcome = apply(make_sessionmaker(engine), workspace.id, 1, dry_run=False, now=NOW)
    cutoff = datetime(2026, 4, 15, tzinfo=UTC)
    assert outcome.cutoff == cutoff
    kept = sorted(r.captured_at for r in _rows(session, Snapshot, workspace.id))
    older = [at for at in kept if at < cutoff]
    # Days 04-13 (from 15:00) and 04-14: first and last of each.
    assert older == [
        datetime(2026, 4, 13, 15, 0, tzinfo=UTC),
        datetime(2026, 4, 13, 23, 30, tzinfo=UTC),
        datetime(2026, 4, 14, 0, 0, tzinfo=UTC),
        datetime(2026, 4, 14, 23, 30, tzinfo=UTC),
    ]
    assert len(kept) - len(older) == 48 + 30  # all of 04-15, and 04-16 from 00:00 to 14:30


def test_a_history_that_ended_before_the_cutoff_keeps_its_two_newest(
    engine: Engine, session: Session
) -> None:
    """A post no longer read (past day 90, deleted) whose last day held several readings:
    its latest and delta must stay what they were."""
    workspace = builders.make_workspace(session, timezone="UTC")
    integration = builders.make_integration(session, workspace)
    day = datetime(2026, 2, 1, tzinfo=UTC)
    hours = {3: (9, 10, 11), 4: (9, 10, 11, 12)}
    targets = {}
    for count, times in hours.items():
        _, (target,) = builders.make_post(session, workspace, [integration], published_at=day)
        targets[count] = target
        for n, hour in enumerate(times):
            builders.add_snapshot(session, target, day + timedelta(hours=hour), likes=n)
    session.commit()
    apply(make_sessionmaker(engine), workspace.id, 30, dry_run=False, now=NOW)
    session.expire_all()

    def kept(count: int) -> list[int]:
        return sorted(
            at.hour
            for at in session.scalars(
                select(Snapshot.captured_at).where(Snapshot.post_target_id == targets[count].id)
            )
        )

    assert kept(3) == [9, 10, 11]  # 10:00 is the second newest
    assert kept(4) == [9, 11, 12]  # 10:00 goes: not first, not last, not one of the two newest
