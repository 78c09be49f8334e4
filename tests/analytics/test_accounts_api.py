"""GET /v1/analytics/accounts and /v1/analytics/accounts/{integration_id} (SPEC §9.4): the
same conventions as the snapshot endpoints: newest first, keyset cursor, ``days``, 404 across
workspaces, null ≠ 0; growth per local day of the workspace's timezone; ``followers_at``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.accounts.service import followers_at
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.workspaces.models import Workspace
from tests import builders
from tests.builders import add_account_snapshot

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
ROW = {
    "id",
    "integration_id",
    "platform",
    "username",
    "followers",
    "following",
    "posts",
    "platform_data",
    "captured_at",
}
DAY = timedelta(days=1)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def _tenant(
    session: Session, timezone: str = "UTC"
) -> tuple[Workspace, dict[str, str], Integration, Integration]:
    workspace = builders.make_workspace(session, timezone=timezone)
    key = builders.make_key(session, workspace)
    x = builders.make_integration(session, workspace, platform="twitter", username="alice")
    yt = builders.make_integration(session, workspace, platform="youtube", username="chan")
    return workspace, {"Authorization": f"Bearer {key}"}, x, yt


def _get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_rows_are_exact_newest_first_and_keep_null_apart_from_zero(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    _, headers, x, yt = _tenant(session)
    add_account_snapshot(session, x, NOW - 2 * DAY, followers=0, following=0, posts=0)
    add_account_snapshot(
        session, yt, NOW - DAY, followers=None, following=None, posts=4,
        platform_data={"hiddenSubscriberCount": True, "videoCount": 4},
    )  # fmt: skip
    session.commit()
    body = _get(client, headers, "/v1/analytics/accounts")
    assert set(body) == {"data", "next_cursor"}
    assert body["next_cursor"] is None
    rows = body["data"]
    assert [set(r) for r in rows] == [ROW, ROW]
    first, second = rows
    assert first["integration_id"] == str(yt.id)
    assert (first["platform"], first["username"]) == ("youtube", "chan")
    assert (first["followers"], first["following"], first["posts"]) == (None, None, 4)
    assert first["platform_data"] == {"hiddenSubscriberCount": True, "videoCount": 4}
    assert first["captured_at"] == "2026-04-15T10:00:00Z"
    assert (second["followers"], second["following"], second["posts"]) == (0, 0, 0)


def test_days_and_integration_id_filter(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    _, headers, x, yt = _tenant(session)
    add_account_snapshot(session, x, NOW - 40 * DAY, followers=1)
    add_account_snapshot(session, x, NOW - 5 * DAY, followers=2)
    add_account_snapshot(session, yt, NOW - DAY, followers=3)
    session.commit()
    followers = [r["followers"] for r in _get(client, headers, "/v1/analytics/accounts")["data"]]
    assert followers == [3, 2]
    every = _get(client, headers, "/v1/analytics/accounts", days=365)["data"]
    assert [r["followers"] for r in every] == [3, 2, 1]
    mine = _get(client, headers, "/v1/analytics/accounts", integration_id=str(x.id), days=3)
    assert mine["data"] == []
    mine = _get(client, headers, "/v1/analytics/accounts", integration_id=str(x.id), days=60)
    assert [r["followers"] for r in mine["data"]] == [2, 1]


def test_the_cursor_walks_every_row_once_even_within_one_second(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    _, headers, x, yt = _tenant(session)
    for n in range(7):
        add_account_snapshot(session, x, NOW - n * timedelta(hours=1), followers=n)
        add_account_snapshot(session, yt, NOW - n * timedelta(hours=1), followers=100 + n)
    session.commit()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = _get(client, headers, "/v1/analytics/accounts", **params)
        seen += [r["id"] for r in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 14
    whole = [r["id"] for r in _get(client, headers, "/v1/analytics/accounts")["data"]]
    assert seen == whole


@pytest.mark.parametrize(
    "params",
    [{"days": 0}, {"days": 366}, {"limit": 0}, {"limit": 501}, {"cursor": "nope"},
     {"integration_id": "not-a-uuid"}],
)  # fmt: skip
def test_bad_parameters_are_400(
    client: TestClient, session: Session, frozen: datetime, params: dict[str, Any]
) -> None:
    _, headers, _, _ = _tenant(session)
    session.commit()
    response = client.get("/v1/analytics/accounts", params=params, headers=headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}


def test_another_workspaces_integration_is_404_on_both(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    _, headers, _, _ = _tenant(session)
    _, _, theirs, _ = _tenant(session)
    add_account_snapshot(session, theirs, NOW - DAY)
    session.commit()
    for path, params in (
        ("/v1/analytics/accounts", {"integration_id": str(theirs.id)}),
        (f"/v1/analytics/accounts/{theirs.id}", {}),
        (f"/v1/analytics/accounts/{uuid.uuid4()}", {}),
    ):
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"error": "integration not found"}
    assert _get(client, headers, "/v1/analytics/accounts")["data"] == []


def test_detail_latest_delta_growth_per_local_day_and_periods(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    # Tokyo is UTC+9: NOW (10:00Z) is 19:00 on 2026-04-16 there.
    _, headers, x, _ = _tenant(session, timezone="Asia/Tokyo")
    add_account_snapshot(session, x, NOW - 5 * DAY, followers=80, following=10, posts=1)
    add_account_snapshot(session, x, NOW - 2 * DAY, followers=100, following=10, posts=3)
    # 2026-04-15T16:00Z is 01:00 on the 16th in Tokyo: the same local day as the next one.
    add_account_snapshot(
        session, x, NOW - timedelta(hours=18), followers=104, following=None, posts=None
    )
    add_account_snapshot(session, x, NOW - timedelta(hours=1), followers=110, following=9, posts=5)
    session.commit()
    body = _get(client, headers, f"/v1/analytics/accounts/{x.id}", days=3)["data"]
    assert (body["followers"], body["following"], body["posts"]) == (110, 9, 5)
    assert body["captured_at"] == "2026-04-16T09:00:00Z"
    assert body["delta"] == {"followers": 6, "following": None, "posts": None}
    assert body["timezone"] == "Asia/Tokyo"
    growth = body["growth"]
    assert [d["date"] for d in growth] == ["2026-04-14", "2026-04-15", "2026-04-16"]
    # The 14th holds the reading of 2026-04-14T10:00Z (19:00 local) against the one before.
    assert growth[0] == {"date": "2026-04-14", "followers": 20, "following": 0, "posts": 2,
                         "readings": 1}  # fmt: skip
    assert growth[1] == {"date": "2026-04-15", "followers": None, "following": None,
                         "posts": None, "readings": 0}  # fmt: skip
    assert growth[2] == {"date": "2026-04-16", "followers": 10, "following": -1, "posts": 2,
                         "readings": 2}  # fmt: skip
    assert [s["followers"] for s in body["snapshots"]] == [110, 104, 100]
    period, before = body["period"], body["previous_period"]
    # The last 3 days against the reading before them (2026-04-11), which is also the
    # first (and only) reading of the 3 days before: compared with itself there.
    assert (period["followers"], period["following"], period["posts"]) == (30, -1, 4)
    assert (period["from_reading"], period["to_reading"]) == (
        "2026-04-11T10:00:00Z",
        "2026-04-16T09:00:00Z",
    )
    assert (before["followers"], before["following"], before["posts"]) == (0, 0, 0)
    assert before["from_reading"] == before["to_reading"] == "2026-04-11T10:00:00Z"


def test_detail_of_an_account_never_read_is_all_null(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    _, headers, x, _ = _tenant(session)
    session.commit()
    body = _get(client, headers, f"/v1/analytics/accounts/{x.id}", days=2)["data"]
    assert (body["followers"], body["following"], body["posts"]) == (None, None, None)
    assert body["captured_at"] is None
    assert body["delta"] == {"followers": None, "following": None, "posts": None}
    assert [d["readings"] for d in body["growth"]] == [0, 0]
    assert body["snapshots"] == []
    assert body["period"]["followers"] is None


def test_followers_at_takes_the_latest_snapshot_at_or_before_the_time(
    session: Session, frozen: datetime
) -> None:
    workspace, _, x, yt = _tenant(session)
    _, _, theirs, _ = _tenant(session)
    silent = builders.make_integration(session, workspace, platform="bluesky")
    add_account_snapshot(session, x, NOW - 2 * DAY, followers=50)
    add_account_snapshot(session, x, NOW - DAY, followers=60)
    add_account_snapshot(session, yt, NOW - DAY, followers=None)  # hidden: unknown
    add_account_snapshot(session, theirs, NOW - DAY, followers=999)
    session.commit()
    ids = [x.id, yt.id, silent.id, theirs.id]
    assert followers_at(session, workspace.id, ids, NOW) == {
        x.id: 60, yt.id: None, silent.id: None, theirs.id: None
    }  # fmt: skip
    assert followers_at(session, workspace.id, [x.id], NOW - DAY)[x.id] == 60  # at: included
    assert followers_at(session, workspace.id, [x.id], NOW - DAY - timedelta(seconds=1)) == {
        x.id: 50
    }
    assert followers_at(session, workspace.id, [x.id], NOW - 3 * DAY) == {x.id: None}
