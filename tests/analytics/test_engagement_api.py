"""SPEC §9.5 on ``GET /v1/analytics/post/{id}``: engagement fields on targets and totals.

Runs on SQLite and, with ``OPENPOST_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.analytics import engagement_followers
from tests.analytics.test_post_metrics import NOW, Setup, frozen, m

__all__ = ["frozen"]  # the fixture, imported for these tests

FIELDS = ("engagements", "engagement_rate", "engagement_rate_by_followers")


def fields(body: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(body[f] for f in FIELDS)


def test_target_and_totals_fields(client: TestClient, session: Session, frozen: datetime) -> None:
    setup = Setup(session, ("twitter", "bluesky", "mastodon"))
    setup.snap(0, NOW - timedelta(hours=2), **m(1000, 10, 0, 1))
    setup.snap(0, NOW - timedelta(hours=1), **m(1500, 12, 3, 0))
    setup.snap(1, NOW - timedelta(hours=1), **m(None, 7, 2, None))  # no impressions
    setup.snap(2, NOW - timedelta(hours=1), **m(0, 0, 0, 0))  # measured zeros
    body = setup.fetch(client)

    assert fields(setup.target(body, 0)) == (15, 0.01, None)  # 15 / 1500
    assert fields(setup.target(body, 1)) == (9, None, None)  # no views: no rate
    assert fields(setup.target(body, 2)) == (0, None, None)  # 0 engagements, 0 views
    # Σ 24 engagements; the rate pools the targets reporting both: (15 + 0) / (1500 + 0)
    assert fields(body["totals"]) == (24, 0.01, None)
    # the delta object is unchanged: four metrics only
    assert set(body["delta"]) == {"impressions", "likes", "comments", "shares"}


def test_null_when_nothing_is_reported(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session, ("twitter", "bluesky"))
    setup.snap(0, NOW - timedelta(hours=1), **m(500, None, None, None))
    body = setup.fetch(client)
    assert fields(setup.target(body, 0)) == (None, None, None)
    assert fields(setup.target(body, 1)) == (None, None, None)  # never read
    assert fields(body["totals"]) == (None, None, None)


def test_zero_engagements_is_a_zero_rate(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    setup = Setup(session)
    setup.snap(0, NOW - timedelta(hours=1), **m(800, 0, 0, 0))
    body = setup.fetch(client)
    assert fields(setup.target(body, 0)) == (0, 0.0, None)
    assert fields(body["totals"]) == (0, 0.0, None)


def test_rate_by_followers_through_the_seam(
    client: TestClient, session: Session, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Followers come through ``engagement_followers.followers_at`` at the latest reading's
    time: with the accounts package connected there, the rates follow."""
    setup = Setup(session, ("twitter", "bluesky", "mastodon"))
    latest = NOW - timedelta(hours=1)
    setup.snap(0, NOW - timedelta(hours=3), **m(100, 1, 0, 0))
    setup.snap(0, latest, **m(2000, 40, 8, 2))
    setup.snap(1, latest, **m(None, 9, 1, None))
    setup.snap(2, latest, **m(None, 3, 0, 0))
    known = {setup.integrations[0].id: 5000, setup.integrations[1].id: 0}
    asked: list[tuple[list[uuid.UUID], datetime]] = []

    def followers_at(
        session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID], at: datetime
    ) -> dict[uuid.UUID, int | None]:
        assert workspace_id == setup.workspace.id
        asked.append((ids, at))
        return {i: known.get(i) for i in ids}

    monkeypatch.setattr(engagement_followers, "followers_at", followers_at)
    body = setup.fetch(client)
    assert len(asked) == 1
    assert set(asked[0][0]) == {i.id for i in setup.integrations}
    assert asked[0][1].replace(tzinfo=None) == latest.replace(tzinfo=None)
    assert fields(setup.target(body, 0)) == (50, 0.025, 0.01)  # 50 / 5000
    assert fields(setup.target(body, 1)) == (10, None, None)  # 0 followers: no rate
    assert fields(setup.target(body, 2)) == (3, None, None)  # unknown
    # Σ engagements ÷ Σ followers over targets with both: (50 + 10) / (5000 + 0)
    assert fields(body["totals"]) == (63, 0.025, 0.012)


def test_unconnected_seam_knows_no_followers(session: Session) -> None:
    readings = [(uuid.uuid4(), NOW)]
    assert engagement_followers.followers_at_readings(session, uuid.uuid4(), readings) == {}


def test_the_answer_matches_the_openapi_document(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    setup = Setup(session, ("twitter", "bluesky"))
    setup.snap(0, NOW - timedelta(hours=1), **m(1500, 12, 3, 0))
    body = {"data": setup.fetch(client)}
    document = client.get("/openapi.json").json()
    components = document["components"]
    schema = {**components["schemas"]["PostMetricsEnvelope"], "components": components}
    jsonschema_rs.validator_for(schema).validate(body)
    target = components["schemas"]["TargetMetricsOut"]
    totals = components["schemas"]["PostTotalsOut"]
    for name in FIELDS:
        assert name in target["required"]
        assert name in totals["required"]
        assert "null" in str(target["properties"][name])
    assert (
        "over the targets that report both"
        in totals["properties"]["engagement_rate"]["description"]
    )
    assert "fraction" in target["properties"]["engagement_rate"]["description"]
    bad = {"data": {**body["data"], "totals": {**body["data"]["totals"], "engagement_rate": -1}}}
    assert not jsonschema_rs.validator_for(schema).is_valid(bad)
