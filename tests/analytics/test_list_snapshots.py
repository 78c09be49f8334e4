"""GET /v1/analytics: the workspace's snapshots in (captured_at desc, id desc) order, paged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading, append_snapshots
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.posts.models import PostTarget
from openpost.retention.permits import permitted
from openpost.workspaces.models import Workspace
from tests import builders
from tests.builders import World

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
FIELDS = {
    "id",
    "post_target_id",
    "integration_id",
    "post_id",
    "platform",
    "impressions",
    "likes",
    "comments",
    "shares",
    "platform_data",
    "captured_at",
    "provisional",
}


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


@dataclass
class Account:
    workspace: Workspace
    headers: dict[str, str]
    integrations: list[Integration]
    targets: list[PostTarget]


def make_account(session: Session, targets: int = 2) -> Account:
    """A workspace with a twitter and a bluesky integration and ``targets`` post targets."""
    workspace = builders.make_workspace(session)
    key = builders.make_key(session, workspace)
    twitter = builders.make_integration(session, workspace, platform="twitter")
    bluesky = builders.make_integration(session, workspace, platform="bluesky")
    made: list[PostTarget] = []
    while len(made) < targets:
        _, pair = builders.make_post(session, workspace, [twitter, bluesky])
        made.extend(pair)
    return Account(
        workspace, {"Authorization": f"Bearer {key}"}, [twitter, bluesky], made[:targets]
    )


def snap(session: Session, target: PostTarget, captured_at: datetime, **metrics: Any) -> uuid.UUID:
    """Append one snapshot (a unique capture key, so equal times are allowed) and return its id."""
    reading = Reading(
        workspace_id=target.workspace_id,
        integration_id=target.integration_id,
        post_target_id=target.id,
        captured_at=captured_at,
        capture_key=uuid.uuid4().hex,
        impressions=metrics.get("impressions", 100),
        likes=metrics.get("likes", 10),
        comments=metrics.get("comments", 1),
        shares=metrics.get("shares", 0),
        platform_data=metrics.get("platform_data", {}),
    )
    assert append_snapshots(session, [reading]) == 1
    found = session.scalar(
        select(Snapshot.id).where(
            Snapshot.post_target_id == target.id, Snapshot.capture_key == reading.capture_key
        )
    )
    assert found is not None
    return found


def get(client: TestClient, account: Account, **params: Any) -> Any:
    response = client.get("/v1/analytics", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: TestClient, account: Account, **params: Any) -> list[list[str]]:
    """Follow next_cursor to the end; the ids of each page."""
    pages = []
    cursor = None
    while True:
        body = get(client, account, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([row["id"] for row in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "paging does not terminate"


def expected_order(rows: list[tuple[datetime, uuid.UUID]]) -> list[str]:
    return [str(row_id) for _, row_id in sorted(rows, reverse=True)]


# --- shape -------------------------------------------------------------------------------


def test_rows_have_the_documented_shape(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=1)
    target = account.targets[0]
    snapshot_id = snap(
        session,
        target,
        NOW - timedelta(hours=1, microseconds=250_000),
        impressions=3281,
        likes=142,
        comments=12,
        shares=4,
    )
    session.commit()

    body = get(client, account)
    assert set(body) == {"data", "next_cursor"}
    assert body["next_cursor"] is None
    assert body["data"] == [
        {
            "id": str(snapshot_id),
            "post_target_id": str(target.id),
            "integration_id": str(target.integration_id),
            "post_id": str(target.post_id),
            "platform": "twitter",
            "impressions": 3281,
            "likes": 142,
            "comments": 12,
            "shares": 4,
            "platform_data": {},
            "captured_at": "2026-04-16T08:59:59Z",
            # Published two hours earlier: inside X's 24 h settle time (SPEC §9.2).
            "provisional": True,
        }
    ]
    assert set(body["data"][0]) == FIELDS


def test_unreported_metrics_are_null_and_zero_is_zero(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=2)
    snap(session, account.targets[1], NOW, impressions=None, likes=0, comments=None, shares=0)
    session.commit()
    (row,) = get(client, account)["data"]
    assert row["platform"] == "bluesky"
    assert (row["impressions"], row["likes"], row["comments"], row["shares"]) == (None, 0, None, 0)


def test_platform_data_passes_through_unchanged(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=1)
    platform_data = {
        "retweet_count": 3,
        "quote_count": 1,
        "bookmark_count": 0,
        "impression_count": 3281,
        "impressions_kind": "views",
        "nested": {"list": [1, 2.5, None, True, "ü 😀"], "empty": {}},
        "text": 'quote " and \\ backslash',
    }
    snap(session, account.targets[0], NOW, platform_data=platform_data)
    session.commit()
    assert get(client, account)["data"][0]["platform_data"] == platform_data


def test_only_the_callers_workspace_is_listed(
    client: TestClient, world: World, session: Session
) -> None:
    body = client.get("/v1/analytics", headers=world.b.headers).json()
    assert {row["post_id"] for row in body["data"]} == {str(world.b.post.id)}
    assert {row["integration_id"] for row in body["data"]} == {str(world.b.integration.id)}
    ids_of_a = session.scalars(
        select(Snapshot.id).where(Snapshot.workspace_id == world.a.workspace.id)
    ).all()
    assert len(ids_of_a) == 2
    assert not {str(i) for i in ids_of_a} & {row["id"] for row in body["data"]}


# --- days --------------------------------------------------------------------------------


def test_days_bounds_the_window(client: TestClient, session: Session, frozen: datetime) -> None:
    account = make_account(session, targets=1)
    target = account.targets[0]
    ages = {
        "1d": timedelta(days=1),
        "30d": timedelta(days=30),
        "30d+1s": timedelta(days=30, seconds=1),
        "100d": timedelta(days=100),
        "365d": timedelta(days=365),
        "366d": timedelta(days=366),
    }
    ids = {name: str(snap(session, target, NOW - age)) for name, age in ages.items()}
    session.commit()

    def listed(**params: Any) -> set[str]:
        return {row["id"] for row in get(client, account, **params)["data"]}

    assert listed() == {ids["1d"], ids["30d"]}
    assert listed(days=30) == {ids["1d"], ids["30d"]}
    assert listed(days=1) == {ids["1d"]}
    assert listed(days=31) == {ids["1d"], ids["30d"], ids["30d+1s"]}
    assert listed(days=365) == set(ids.values()) - {ids["366d"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "x"}, "days"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"integration_id": "nope"}, "integration_id"),
        ({"cursor": "c" * 201}, "cursor"),
    ],
)
def test_out_of_range_parameters_are_400(
    client: TestClient, world: World, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/analytics", headers=world.a.headers, params=params)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert field in response.json()["error"]


def test_garbage_cursor_is_400(client: TestClient, world: World) -> None:
    for cursor in ("garbage", "", "MTox", "%%%"):
        response = client.get("/v1/analytics", headers=world.a.headers, params={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json() == {"error": "cursor is invalid"}


# --- integration filter ------------------------------------------------------------------


def test_integration_filter(client: TestClient, session: Session, frozen: datetime) -> None:
    account = make_account(session, targets=4)
    by_integration: dict[uuid.UUID, set[str]] = {}
    for n, target in enumerate(account.targets):
        snapshot_id = snap(session, target, NOW - timedelta(minutes=n))
        by_integration.setdefault(target.integration_id, set()).add(str(snapshot_id))
    session.commit()

    for integration in account.integrations:
        body = get(client, account, integration_id=str(integration.id))
        assert {row["id"] for row in body["data"]} == by_integration[integration.id]
        assert {row["integration_id"] for row in body["data"]} == {str(integration.id)}


def test_integration_filter_with_no_snapshots_is_empty_not_404(
    client: TestClient, session: Session
) -> None:
    account = make_account(session, targets=0)
    session.commit()
    body = get(client, account, integration_id=str(account.integrations[0].id))
    assert body == {"data": [], "next_cursor": None}


def test_integration_of_another_workspace_is_404(client: TestClient, world: World) -> None:
    for integration_id in (world.b.integration.id, uuid.uuid4()):
        response = client.get(
            "/v1/analytics",
            headers=world.a.headers,
            params={"integration_id": str(integration_id)},
        )
        assert response.status_code == 404
        assert response.json() == {"error": "integration not found"}


# --- order and paging --------------------------------------------------------------------


def test_newest_first_and_ties_broken_by_id_desc(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=4)
    rows = []
    same_second = NOW - timedelta(hours=2)
    for target in account.targets:
        rows.append((same_second, snap(session, target, same_second)))
        # A sub-second reading is recorded to the second, so it ties with the one above.
        rows.append((same_second, snap(session, target, same_second + timedelta(microseconds=7))))
        later = NOW - timedelta(minutes=5)
        rows.append((later, snap(session, target, later)))
    session.commit()

    body = get(client, account)
    assert [row["id"] for row in body["data"]] == expected_order(rows)
    # What the client sees agrees with the order: captured_at desc, then id desc.
    seen = [(row["captured_at"], uuid.UUID(row["id"])) for row in body["data"]]
    assert seen == sorted(seen, reverse=True)


def test_limit_and_cursor_walk_every_row_once(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=2)
    rows = [
        (
            NOW - timedelta(minutes=n // 2),
            snap(session, account.targets[n % 2], NOW - timedelta(minutes=n // 2)),
        )
        for n in range(7)
    ]
    session.commit()

    pages = walk(client, account, limit=2)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [row_id for page in pages for row_id in page] == expected_order(rows)

    # A limit that divides the rows exactly ends without an empty page.
    assert [len(page) for page in walk(client, account, limit=7)] == [7]
    assert [len(page) for page in walk(client, account, limit=1)] == [1] * 7


def test_cursor_combines_with_filters(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=4)
    twitter = account.integrations[0]
    rows = []
    for n in range(12):
        target = account.targets[n % 4]
        at = NOW - timedelta(days=n * 3)
        snapshot_id = snap(session, target, at)
        if target.integration_id == twitter.id and n * 3 <= 20:
            rows.append((at, snapshot_id))
    session.commit()

    pages = walk(client, account, limit=1, days=20, integration_id=str(twitter.id))
    assert [row_id for page in pages for row_id in page] == expected_order(rows)


def test_default_limit_is_500(client: TestClient, session: Session, frozen: datetime) -> None:
    account = make_account(session, targets=1)
    readings = [
        Reading(
            workspace_id=account.workspace.id,
            integration_id=account.targets[0].integration_id,
            post_target_id=account.targets[0].id,
            captured_at=NOW - timedelta(minutes=n),
            capture_key=f"k{n}",
            impressions=n,
            likes=None,
            comments=None,
            shares=None,
        )
        for n in range(501)
    ]
    append_snapshots(session, readings)
    session.commit()
    body = get(client, account)
    assert len(body["data"]) == 500
    assert body["next_cursor"] is not None
    rest = get(client, account, cursor=body["next_cursor"])
    assert [row["impressions"] for row in rest["data"]] == [500]
    assert rest["next_cursor"] is None


# --- the paging property -----------------------------------------------------------------

# Few distinct seconds, so equal captured_at values (ties) are common.
snapshot_sets = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=5)),
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=snapshot_sets, limit=st.integers(min_value=1, max_value=6))
def test_paging_visits_every_row_exactly_once_in_order(
    client: TestClient, session: Session, spec: list[tuple[int, int]], limit: int
) -> None:
    """Whatever the rows and the limit, following next_cursor lists each row once, in order.

    Each example gets its own workspace and deletes it afterwards, so examples never see
    each other's rows though they share the test's database.
    """
    account = make_account(session, targets=4)
    base = clock.now().replace(microsecond=0) - timedelta(hours=1)
    try:
        rows = []
        for target_index, second in spec:
            at = base - timedelta(seconds=second)
            rows.append((at, snap(session, account.targets[target_index], at)))
        session.commit()

        pages = walk(client, account, limit=limit)
        visited = [row_id for page in pages for row_id in page]
        assert visited == expected_order(rows)
        assert len(set(visited)) == len(rows)
        assert all(len(page) == limit for page in pages[:-1])
        assert 0 < len(pages[-1]) <= limit or not rows
    finally:
        session.rollback()
        with permitted(session, "workspace delete"):
            session.execute(delete(Workspace).where(Workspace.id == account.workspace.id))
        session.commit()
