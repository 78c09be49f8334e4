"""The snapshot writer's latest pointers, moved without reading history (the capture path's
change to ``analytics.writer``): order, backfills, ties, several rows at once, retention,
and refresh-state values written with the pointers."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading, append_snapshots, update_states
from openpost.posts.models import PostTarget
from openpost.refresh.models import RefreshState
from openpost.retention.permits import permitted
from tests import builders
from tests.refresh.conftest import NOW

H = timedelta(hours=1)


def _target(session: Session) -> PostTarget:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace)
    _, (target,) = builders.make_post(session, workspace, [integration])
    return target


def _reading(target: PostTarget, at_hours: float, likes: int) -> Reading:
    return Reading(
        workspace_id=target.workspace_id,
        integration_id=target.integration_id,
        post_target_id=target.id,
        captured_at=NOW + at_hours * H,
        capture_key=f"k{at_hours}",
        impressions=None,
        likes=likes,
        comments=None,
        shares=None,
    )


def _pointers(session: Session, target: PostTarget) -> tuple[int | None, int | None]:
    session.expire_all()
    state = session.get(RefreshState, target.id)
    assert state is not None

    def likes(snapshot_id: uuid.UUID | None) -> int | None:
        if snapshot_id is None:
            return None
        return session.scalar(select(Snapshot.likes).where(Snapshot.id == snapshot_id))

    return likes(state.latest_snapshot_id), likes(state.previous_snapshot_id)


def test_pointers_follow_the_two_newest(session: Session) -> None:
    target = _target(session)
    append_snapshots(session, [_reading(target, 1, 1)])
    assert _pointers(session, target) == (1, None)
    append_snapshots(session, [_reading(target, 2, 2)])
    assert _pointers(session, target) == (2, 1)
    append_snapshots(session, [_reading(target, 3, 3)])
    assert _pointers(session, target) == (3, 2)
    append_snapshots(session, [_reading(target, 0, 0)])  # a backfilled older reading
    assert _pointers(session, target) == (3, 2)
    append_snapshots(session, [_reading(target, 2.5, 25)])  # between the two newest
    assert _pointers(session, target) == (3, 25)
    append_snapshots(session, [_reading(target, 5, 5), _reading(target, 4, 4)])
    assert _pointers(session, target) == (5, 4)
    assert append_snapshots(session, [_reading(target, 5, 99)]) == 0  # same key: skipped
    assert _pointers(session, target) == (5, 4)


def test_same_second_orders_by_id(session: Session) -> None:
    target = _target(session)
    append_snapshots(session, [_reading(target, 1, 1)])
    append_snapshots(session, [_reading(target, 2, 2)])
    append_snapshots(session, [_twin(_reading(target, 2, 3))])  # the same second as 2
    newest = session.scalars(
        select(Snapshot.likes)
        .where(Snapshot.post_target_id == target.id)
        .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
        .limit(2)
    ).all()
    assert _pointers(session, target) == (newest[0], newest[1])


def _twin(reading: Reading) -> Reading:
    return Reading(
        workspace_id=reading.workspace_id,
        integration_id=reading.integration_id,
        post_target_id=reading.post_target_id,
        captured_at=reading.captured_at,
        capture_key="twin",
        impressions=reading.impressions,
        likes=reading.likes,
        comments=reading.comments,
        shares=reading.shares,
    )


def test_after_retention_the_history_is_read_again(session: Session) -> None:
    target = _target(session)
    for hour in (1, 2, 3):
        append_snapshots(session, [_reading(target, hour, hour)])
    with permitted(session, "retention"):
        session.execute(
            delete(Snapshot).where(Snapshot.post_target_id == target.id, Snapshot.likes == 3)
        )
    session.flush()
    append_snapshots(session, [_reading(target, 0.5, 0)])  # older than what remains
    assert _pointers(session, target) == (2, 1)


def test_state_values_are_written_with_the_pointers(session: Session) -> None:
    target, other = _target(session), _target(session)
    for hour in (1, 2):
        append_snapshots(session, [_reading(target, hour, hour)])
    append_snapshots(session, [_reading(other, 1, 1)])
    values = {"outcome": "ok", "next_due_at": NOW + 5 * H, "consecutive_failures": 0}
    written = append_snapshots(
        session,
        [_reading(target, 3, 3)],
        state_values={target.id: values, other.id: {**values, "outcome": "failed"}},
    )
    assert written == 1
    session.expire_all()
    mine, theirs = session.get(RefreshState, target.id), session.get(RefreshState, other.id)
    assert mine is not None
    assert theirs is not None
    assert (mine.outcome, mine.next_due_at) == ("ok", NOW + 5 * H)
    assert (theirs.outcome, theirs.next_due_at) == ("failed", NOW + 5 * H)
    assert _pointers(session, target) == (3, 2)
    assert _pointers(session, other) == (1, None)


def test_a_repeated_capture_key_is_skipped_and_the_rest_written(session: Session) -> None:
    one, two = _target(session), _target(session)
    assert append_snapshots(session, [_reading(one, 1, likes=1)]) == 1
    # the same (target, capture key) again, beside a new row: only the new row is written
    again = [_reading(one, 1, likes=99), _reading(two, 1, likes=2), _reading(one, 2, likes=3)]
    assert append_snapshots(session, again) == 2
    likes = session.scalars(
        select(Snapshot.likes).where(Snapshot.post_target_id == one.id).order_by(Snapshot.likes)
    ).all()
    assert likes == [1, 3]  # the repeat did not replace or duplicate the first reading
    assert _pointers(session, one) == (3, 1)
    assert _pointers(session, two) == (2, None)


def test_naive_times_are_refused_on_every_path(session: Session) -> None:
    target = _target(session)
    naive = _reading(target, 1, likes=1)
    naive = dataclasses.replace(naive, captured_at=naive.captured_at.replace(tzinfo=None))
    with pytest.raises(Exception, match="naive datetime"):
        append_snapshots(session, [naive])
    session.rollback()
    target = _target(session)
    append_snapshots(session, [_reading(target, 1, likes=1)])
    with pytest.raises(Exception, match="naive datetime"):
        update_states(
            session,
            [{"post_target_id": target.id, "last_attempt_at": NOW.replace(tzinfo=None)}],
        )
