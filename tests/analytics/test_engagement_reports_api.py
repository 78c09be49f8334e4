"""GET /v1/analytics/tags and /posting-times: shapes as documented, null vs 0, bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from tests import builders


def _validate(client: TestClient, name: str, body: Any) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    components = client.get("/openapi.json").json()["components"]
    schema = {**components["schemas"][name], "components": components}
    jsonschema_rs.validator_for(schema).validate(body)


def test_tags_and_posting_times(client: TestClient, session: Session) -> None:
    workspace = builders.make_workspace(session)
    key = builders.make_key(session, workspace)
    headers = {"Authorization": f"Bearer {key}"}
    sky = builders.make_integration(session, workspace, platform="bluesky")
    now = clock.now()
    published = now - timedelta(days=3)
    _, (zero,) = builders.make_post(session, workspace, [sky], published_at=published, tags=["a"])
    builders.add_snapshot(
        session, zero, published + timedelta(hours=24), impressions=None, likes=0, comments=0,
        shares=0,
    )  # fmt: skip
    _, (blank,) = builders.make_post(session, workspace, [sky], published_at=published, tags=["b"])
    builders.add_snapshot(
        session, blank, published + timedelta(hours=24), impressions=None, likes=None,
        comments=None, shares=None,
    )  # fmt: skip
    session.commit()

    response = client.get("/v1/analytics/tags", headers=headers)
    assert response.status_code == 200
    body = response.json()
    _validate(client, "TagReportEnvelope", body)
    rows = {row["tag"]: row for row in body["data"]["tags"]}
    # a measured zero stays 0; no counters at all is null; no views: no rate
    assert rows["a"] == {
        "tag": "a",
        "posts": 1,
        "posts_reporting": 1,
        "total_engagements": 0,
        "median_engagements": 0.0,
        "engagement_rate": None,
        "rate_impressions": None,
    }
    assert (rows["b"]["posts"], rows["b"]["posts_reporting"]) == (1, 0)
    assert rows["b"]["total_engagements"] is None
    assert rows["b"]["median_engagements"] is None
    assert body["data"]["untagged"] is None

    response = client.get("/v1/analytics/posting-times", headers=headers)
    assert response.status_code == 200
    body = response.json()
    _validate(client, "PostingTimesEnvelope", body)
    data = body["data"]
    assert (data["posts"], data["posts_measured"], data["min_posts"]) == (2, 1, 5)
    assert len(data["weekdays"]) == 7
    assert len(data["hours"]) == 24
    (cell,) = data["cells"]
    assert (cell["posts"], cell["too_few"], cell["median_engagements"]) == (1, True, None)
    assert data["timezone"] == "UTC"

    for path in ("/v1/analytics/tags", "/v1/analytics/posting-times"):
        assert client.get(path, params={"days": 0}, headers=headers).status_code == 400
        assert client.get(path, params={"integration_id": "x"}, headers=headers).status_code == 400
        assert client.get(path, params={"days": 1}, headers=headers).json()["data"]["posts"] == 0
