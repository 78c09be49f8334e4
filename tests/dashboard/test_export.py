"""The dashboard's "Export CSV" is the API's export, byte for byte, for the same filters."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from tests.builders import World, add_snapshot, make_integration, make_post
from tests.dashboard.conftest import Members, sign_in


def _window(timezone: str, days: int) -> dict[str, str]:
    zone = ZoneInfo(timezone)
    today = clock.now().astimezone(zone).date()

    def midnight(offset: int) -> str:
        moment = datetime.combine(today + timedelta(days=offset), time(0), tzinfo=zone)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"since": midnight(1 - days), "until": midnight(1)}


def test_export_links_download_the_apis_bytes(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    world.a.workspace.timezone = "America/New_York"
    other = make_integration(session, world.a.workspace, platform="bluesky")
    post, (target,) = make_post(
        session, world.a.workspace, [other], content='=cmd|"/c calc"!A1, with "quotes"'
    )
    add_snapshot(session, target, clock.now() - timedelta(days=3), impressions=None, likes=4)
    add_snapshot(session, target, clock.now() - timedelta(days=40), impressions=None, likes=1)
    session.commit()
    sign_in(client, session, members.a["viewer"])
    window = _window("America/New_York", 7)
    cases = [
        ("/export.csv?range=7&view=snapshots", {**window, "view": "snapshots"}),
        ("/export.csv?range=7&view=latest", {**window, "view": "latest"}),
        (
            f"/export.csv?range=7&view=snapshots&integration={other.id}",
            {**window, "view": "snapshots", "integration_id": str(other.id)},
        ),
        (f"/export.csv?post={post.id}&days=90", {"post_id": str(post.id), "days": "90"}),
    ]
    for dashboard_url, api_params in cases:
        page = client.get(dashboard_url)
        api = client.get("/v1/analytics/export?" + urlencode(api_params), headers=world.a.headers)
        assert page.status_code == 200, page.text
        assert api.status_code == 200, api.text
        assert page.content == api.content, dashboard_url
        assert page.headers["content-type"] == api.headers["content-type"]
        assert page.headers["content-disposition"].startswith("attachment")
    whole = client.get("/export.csv?range=90&view=snapshots").text
    assert whole.count("\r\n") == 1 + 4  # the header, tenant A's two readings and these two
    assert str(world.b.post.id) not in whole
