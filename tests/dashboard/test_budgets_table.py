"""The integrations page's platform table: rate windows, per-instance pauses and each
platform's daily budget in its own unit, as the status API reports them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from openpost.refresh.models import PlatformState
from tests.builders import World, make_integration
from tests.dashboard.conftest import Members, sign_in

# 17:00 UTC = 09:00 in Los Angeles: YouTube's quota day is the 26th, back at 08:00 UTC.
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)


@pytest.fixture
def fixed_clock() -> Iterator[None]:
    clock.set_clock(lambda: NOW)
    yield
    clock.set_clock(None)


def _row(html: str, platform: str) -> str:
    table = html[html.index('id="budgets-table"') :]
    badge = rf'<span class="badge platform" data-platform="{platform}">'
    match = re.search(rf'<th scope="row">{badge}.*?</th>(.*?)</tr>', table, re.S)
    assert match is not None, platform
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_budgets_show_windows_instance_pauses_and_units(
    client: TestClient, session: Session, world: World, members: Members, fixed_clock: None
) -> None:
    workspace = world.a.workspace
    make_integration(session, workspace, platform="youtube", username="@openpost")
    make_integration(session, workspace, platform="mastodon", username="a@one.example")
    make_integration(session, workspace, platform="mastodon", username="b@two.example")
    session.add_all(
        [
            PlatformState(
                key="twitter/metrics",
                rate_limit=15,
                rate_remaining=3,
                rate_reset_at=NOW + timedelta(minutes=10),
                reads_today=0,
            ),
            PlatformState(key="youtube", budget_day="2026-11-26", reads_today=120),
            PlatformState(
                key="mastodon:one.example/metrics",
                rate_limit=300,
                rate_remaining=0,
                rate_reset_at=NOW + timedelta(minutes=4),
                paused_until=NOW + timedelta(minutes=4),
                pause_reason="rate_window_spent",
                pause_message="the platform's rate window is spent until its reset",
                reads_today=0,
            ),
        ]
    )
    session.commit()
    sign_in(client, session, members.a["viewer"])

    page = client.get("/integrations")
    assert page.status_code == 200, page.text
    assert _row(page.text, "twitter").startswith("ok 3 of 15 left, resets 2026-11-26 17:10 UTC")
    assert _row(page.text, "youtube") == (
        "ok none 120 of 10,000 quota units, resets 2026-11-27 08:00 UTC"
    )
    mastodon = _row(page.text, "mastodon")
    assert mastodon.startswith("ok mastodon:one.example metrics paused until 2026-11-26 17:04")
    assert "0 of 300 left, resets 2026-11-26 17:04 UTC" in mastodon
    assert mastodon.endswith("0 posts")
