"""Provisional readings (SPEC §9.2) on every read path: rows, post targets, both CSV views."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.analytics.engagement import ENGAGEMENT_FIELDS
from openpost.analytics.provisional import deadline_text, is_provisional, provisional_until
from openpost.core import clock
from openpost.platforms.specs import spec_for
from tests import builders

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 4, 15, 6, 0, 0, 400_000, tzinfo=UTC)  # a fraction: written 06:00:00


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def test_deadlines_come_from_each_platforms_settle_time() -> None:
    assert spec_for("bluesky").settle_time == timedelta(hours=1)
    assert deadline_text("bluesky", "2026-04-15T06:00:00Z") == "2026-04-15T07:00:00Z"
    assert deadline_text("twitter", "2026-04-15T06:00:00Z") == "2026-04-16T06:00:00Z"
    assert deadline_text("instagram", "2026-04-15T06:00:00Z") == "2026-04-17T06:00:00Z"
    assert provisional_until("twitter", None) is None
    assert is_provisional("2026-04-15T06:59:59Z", "2026-04-15T07:00:00Z")
    assert not is_provisional("2026-04-15T07:00:00Z", "2026-04-15T07:00:00Z")
    assert not is_provisional("2026-04-15T06:10:00Z", None)  # no published_at: no window


class Feed:
    def __init__(self, session: Session) -> None:
        self.workspace = builders.make_workspace(session)
        self.headers = {"Authorization": f"Bearer {builders.make_key(session, self.workspace)}"}
        x = builders.make_integration(session, self.workspace, platform="twitter")
        sky = builders.make_integration(session, self.workspace, platform="bluesky")
        self.post, (self.x, self.sky) = builders.make_post(
            session, self.workspace, [x, sky], published_at=PUBLISHED
        )
        # Bluesky settles in 1 h: the last second inside, the first outside.
        builders.add_snapshot(session, self.sky, PUBLISHED + timedelta(minutes=59, seconds=59))
        builders.add_snapshot(session, self.sky, PUBLISHED + timedelta(hours=1))
        # X settles in 24 h: 22 h in is provisional, and stays the latest reading.
        builders.add_snapshot(session, self.x, PUBLISHED + timedelta(hours=2))
        builders.add_snapshot(session, self.x, PUBLISHED + timedelta(hours=22))
        session.commit()


def test_snapshot_rows_carry_provisional(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    feed = Feed(session)
    rows = client.get("/v1/analytics?days=7", headers=feed.headers).json()["data"]
    marks = [(r["platform"], r["captured_at"], r["provisional"]) for r in rows]
    assert marks == [
        ("twitter", "2026-04-16T04:00:00Z", True),
        ("twitter", "2026-04-15T08:00:00Z", True),
        ("bluesky", "2026-04-15T07:00:00Z", False),
        ("bluesky", "2026-04-15T06:59:59Z", True),
    ]


def test_post_targets_carry_their_latest_readings_mark(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    feed = Feed(session)
    body = client.get(f"/v1/analytics/post/{feed.post.id}", headers=feed.headers).json()["data"]
    targets = {t["platform"]: t for t in body["targets"]}
    assert targets["twitter"]["provisional"] is True
    assert targets["twitter"]["provisional_until"] == "2026-04-16T06:00:00Z"
    assert targets["bluesky"]["provisional"] is False
    assert targets["bluesky"]["provisional_until"] == "2026-04-15T07:00:00Z"
    assert [s["provisional"] for s in targets["bluesky"]["snapshots"]] == [False, True]
    assert [s["provisional"] for s in targets["twitter"]["snapshots"]] == [True, True]


def _csv(client: TestClient, feed: Feed, **params: str) -> list[dict[str, str]]:
    response = client.get("/v1/analytics/export", params=params, headers=feed.headers)
    assert response.status_code == 200, response.text
    header, *rows = csv.reader(io.StringIO(response.content.decode(), newline=""))
    # last, but for the engagement columns (SPEC §9.5) after it in the latest view
    after = header[header.index("provisional") + 1 :]
    assert after == ([] if params.get("view") != "latest" else list(ENGAGEMENT_FIELDS))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_export_has_a_provisional_column_last(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    feed = Feed(session)
    snapshots = _csv(client, feed, days="7")
    assert [(r["platform"], r["captured_at"], r["provisional"]) for r in snapshots] == [
        ("twitter", "2026-04-16T04:00:00Z", "true"),
        ("twitter", "2026-04-15T08:00:00Z", "true"),
        ("bluesky", "2026-04-15T07:00:00Z", "false"),
        ("bluesky", "2026-04-15T06:59:59Z", "true"),
    ]
    latest = {r["platform"]: r["provisional"] for r in _csv(client, feed, days="7", view="latest")}
    assert latest == {"twitter": "true", "bluesky": "false"}


def test_readings_after_the_window_are_final(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    feed = Feed(session)
    clock.set_clock(lambda: NOW + timedelta(days=1))
    builders.add_snapshot(session, feed.x, PUBLISHED + timedelta(hours=24, seconds=1))
    session.commit()
    body = client.get(f"/v1/analytics/post/{feed.post.id}", headers=feed.headers).json()["data"]
    x = next(t for t in body["targets"] if t["platform"] == "twitter")
    assert x["provisional"] is False
    assert [s["provisional"] for s in x["snapshots"]] == [False, True, True]
