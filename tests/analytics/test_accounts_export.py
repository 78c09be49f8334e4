"""GET /v1/analytics/export?view=accounts (SPEC §9.4): every account snapshot in range,
newest first, empty cell for "not reported", 0 for a measured zero; the range, integration
and platform filters; post filters refused; another workspace's integration a 404."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.accounts.export import ACCOUNT_COLUMNS
from openpost.core import clock
from tests import builders
from tests.builders import add_account_snapshot

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def _rows(client: TestClient, headers: dict[str, str], **params: str) -> list[list[str]]:
    response = client.get(
        "/v1/analytics/export", params={"view": "accounts", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "openpost-analytics-accounts-2026-04-16.csv" in response.headers["content-disposition"]
    assert response.text.endswith("\r\n")
    return list(csv.reader(io.StringIO(response.text)))


def test_account_rows_newest_first_with_null_apart_from_zero(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    workspace = builders.make_workspace(session)
    headers = {"Authorization": f"Bearer {builders.make_key(session, workspace)}"}
    x = builders.make_integration(session, workspace, platform="twitter", username="=alice")
    yt = builders.make_integration(session, workspace, platform="youtube", username="chan")
    old = add_account_snapshot(session, x, NOW - 40 * DAY, followers=1)
    zero = add_account_snapshot(
        session, x, NOW - 2 * DAY, followers=0, following=0, posts=0,
        platform_data={"followers_count": 0, "b": 1},
    )  # fmt: skip
    hidden = add_account_snapshot(session, yt, NOW - DAY, followers=None, following=None, posts=3)
    session.commit()
    header, *rows = _rows(client, headers)
    assert tuple(header) == ACCOUNT_COLUMNS
    assert rows == [
        [str(hidden.id), "2026-04-15T10:00:00Z", str(yt.id), "youtube", "chan", "", "", "3",
         "{}"],
        [str(zero.id), "2026-04-14T10:00:00Z", str(x.id), "twitter", "'=alice", "0", "0", "0",
         '{"b":1,"followers_count":0}'],
    ]  # fmt: skip
    every = _rows(client, headers, days="365")[1:]
    assert [r[0] for r in every] == [str(hidden.id), str(zero.id), str(old.id)]
    assert [r[0] for r in _rows(client, headers, integration_id=str(x.id))[1:]] == [str(zero.id)]
    assert [r[0] for r in _rows(client, headers, platform="youtube")[1:]] == [str(hidden.id)]
    ranged = _rows(client, headers, since="2026-03-01T00:00:00Z", until="2026-04-15T00:00:00Z")
    assert [r[0] for r in ranged[1:]] == [str(zero.id), str(old.id)]


def test_post_filters_are_refused_and_foreign_integrations_are_404(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    workspace = builders.make_workspace(session)
    headers = {"Authorization": f"Bearer {builders.make_key(session, workspace)}"}
    other = builders.make_workspace(session)
    theirs = builders.make_integration(session, other)
    session.commit()
    for params, status in (
        ({"post_id": "0193b0c2-0000-7000-8000-000000000000"}, 400),
        ({"search": "launch"}, 400),
        ({"integration_id": str(theirs.id)}, 404),
    ):
        response = client.get(
            "/v1/analytics/export", params={"view": "accounts", **params}, headers=headers
        )
        assert response.status_code == status, (params, response.text)
        assert set(response.json()) == {"error"}
