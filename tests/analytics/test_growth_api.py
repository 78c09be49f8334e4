"""GET /v1/analytics/growth: every post's growth per local day, estimated days marked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from tests import builders

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)  # 12:00 in Berlin (CEST)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def test_a_late_first_reading_is_spread_over_the_days_the_post_was_live(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    ws = builders.make_workspace(session, timezone="Europe/Berlin")
    headers = {"Authorization": f"Bearer {builders.make_key(session, ws)}"}
    x = builders.make_integration(session, ws, platform="twitter")
    sky = builders.make_integration(session, ws, platform="bluesky")
    # Published at Berlin midnight ten days ago; first read (discovered) this midnight.
    midnight = datetime(2026, 4, 15, 22, tzinfo=UTC)
    _, (late,) = builders.make_post(session, ws, [x], published_at=midnight - timedelta(days=10))
    builders.add_snapshot(session, late, midnight, impressions=10_000, likes=50, comments=None)
    # A Bluesky post read twice this morning: measured growth, not estimated.
    _, (fresh,) = builders.make_post(session, ws, [sky], published_at=midnight + timedelta(hours=7))
    builders.add_snapshot(session, fresh, midnight + timedelta(hours=7), impressions=None, likes=0)
    builders.add_snapshot(session, fresh, midnight + timedelta(hours=11), impressions=None, likes=6)
    session.commit()

    response = client.get("/v1/analytics/growth", params={"days": 12}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert body["timezone"] == "Europe/Berlin"
    days = body["days"]
    assert [d["date"] for d in days][-1] == "2026-04-16"
    assert len(days) == 12
    assert [d["impressions"] for d in days] == [None] + [1000] * 10 + [None]
    assert [d["estimated"] for d in days] == [False] + [True] * 10 + [False]
    assert [d["likes"] for d in days] == [None] + [5] * 10 + [6]
    assert [d["comments"] for d in days] == [None] * 11 + [1]  # X reports none here
    assert days[-1]["platforms"]["bluesky"] == {
        "impressions": None,
        "likes": 6,
        "comments": 1,
        "shares": 0,
        "estimated": False,
    }
    assert days[5]["platforms"]["twitter"]["estimated"] is True
    assert body["totals"] == {"impressions": 10_000, "likes": 56, "comments": 1, "shares": 0}
    assert body["estimated"] is True

    only_sky = client.get(
        "/v1/analytics/growth", params={"days": 2, "integration_id": str(sky.id)}, headers=headers
    ).json()["data"]
    assert [d["likes"] for d in only_sky["days"]] == [None, 6]
    assert only_sky["estimated"] is False


def test_bad_parameters(client: TestClient, session: Session, frozen: datetime) -> None:
    ws = builders.make_workspace(session)
    headers = {"Authorization": f"Bearer {builders.make_key(session, ws)}"}
    other = builders.make_integration(session, builders.make_workspace(session))
    session.commit()
    for params, status in (
        ({"days": 0}, 400),
        ({"days": 366}, 400),
        ({"integration_id": "nope"}, 400),
        ({"integration_id": str(other.id)}, 404),
    ):
        response = client.get("/v1/analytics/growth", params=params, headers=headers)
        assert response.status_code == status, (params, response.text)
        assert "error" in response.json()
