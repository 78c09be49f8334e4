"""The demo workspace meets the collector: collection carries on where the seed left off.

Before the seed left discovery cursors, the first sweep found every integration due for a
cursor-less discovery and imported the simulator's feed up to each platform's cap (450
posts, one reading each, their whole lifetime counted as that day's growth).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.posts.models import Post, PostSource
from openpost.refresh import runner
from openpost.refresh.models import DiscoveryState
from openpost.refresh.runner import Runtime
from openpost.workspaces.demo import DISCOVERY_INTERVAL, seed_demo
from tests.refresh.conftest import Clock

SMALL = 16


def _discovered(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Post).where(Post.source == PostSource.discovered.value)
        )
        or 0
    )


def test_the_first_sweeps_after_seeding_are_ordinary(
    session: Session, rt: Runtime, now: Clock
) -> None:
    seeded = seed_demo(session, now.at, post_count=SMALL)
    session.commit()
    before = _discovered(session)
    states = session.scalars(select(DiscoveryState)).all()
    assert len(states) == seeded.integrations
    assert {s.next_due_at for s in states} == {now.at + DISCOVERY_INTERVAL}

    first = runner.sweep(rt, now.at)
    assert (first.discoveries, first.discovered, first.written) == (0, 0, 0)

    # A day of hourly sweeps: the feed's new posts arrive a few at a time (each synthetic
    # account posts every 6-48 h), and the due targets are read on their tiers.
    discovered = []
    for _ in range(24):
        summary = runner.sweep(rt, now.advance(timedelta(hours=1)))
        discovered.append(summary.discovered)
    session.expire_all()
    assert sum(discovered) == _discovered(session) - before
    assert max(discovered) <= len(states)  # at most one new post per account an hour
    assert sum(discovered) <= 4 * len(states)  # at most one every 6 h per account


def test_seeding_again_keeps_a_later_cursor(session: Session, rt: Runtime, now: Clock) -> None:
    start = now.at
    seed_demo(session, start, post_count=SMALL)
    session.commit()
    runner.sweep(rt, now.advance(timedelta(hours=30)))
    session.expire_all()
    cursors = {s.integration_id: s.since_id for s in session.scalars(select(DiscoveryState))}
    seed_demo(session, start, post_count=SMALL)  # the feed's posts found since are later
    session.commit()
    session.expire_all()
    again = {s.integration_id: s.since_id for s in session.scalars(select(DiscoveryState))}
    assert again == cursors
