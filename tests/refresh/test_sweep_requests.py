"""What one sweep sends to the open platforms, counted by their fakes' request logs:

- a pause recorded by an earlier discovery job of the sweep (YouTube's spent quota, a
  Bluesky or Mastodon window answered with 429) stops every later discovery job of that
  platform (or instance) before it calls: zero more requests in the sweep;
- the sweep summary (``openpost refresh --once --json``) and the request metric count every
  request a capture made, Mastodon's per-status reads on a pre-4.3 instance included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.cli import app
from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.fakes import LiveServer
from openpost.platforms.mastodon.client import SHARED_MEMORY
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import runner
from openpost.refresh.metrics import WORK
from openpost.refresh.models import DiscoveryState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, no_account_read_today, no_discovery_today, track

HOUR = timedelta(hours=1)
OPEN_SETTINGS = {
    "bluesky_api_base_url": "http://bsky.test",
    "mastodon_api_base_url": "http://127.0.0.1:8083",
    "mastodon_allow_private_addresses": True,
    "youtube_api_base_url": "http://youtube.test/youtube/v3",
    "youtube_api_key": DEFAULT_API_KEY,
}


@dataclass
class Accounts:
    """A platform's fake with three accounts on one credential (one instance on Mastodon),
    and what makes the platform refuse the first discovery and pause."""

    platform: str
    fake: Any
    accounts: list[tuple[str, str]]  # (username, external id)
    refuse: Callable[[], None]
    reason: str


def _youtube() -> Accounts:
    fake = FakeYouTube()
    channels = [fake.add_channel(f"chan{n}") for n in range(3)]
    for channel in channels:
        fake.add_video(channel, published_at=NOW - HOUR)
    accounts = [(f"chan{n}", c.id) for n, c in enumerate(channels)]
    return Accounts("youtube", fake, accounts, fake.exhaust_quota, "youtube_quota_exceeded")


def _bluesky() -> Accounts:
    fake = FakeBluesky()
    actors = [fake.add_account(f"user{n}.bsky.social") for n in range(3)]
    for actor in actors:
        fake.add_post(actor, created_at=NOW - HOUR)
    accounts = [(a.handle, a.did) for a in actors]
    return Accounts(
        "bluesky", fake, accounts, lambda: fake.set_rate_limit(0), "bluesky_rate_limited"
    )


def _mastodon() -> Accounts:
    fake = FakeMastodon()
    found = [fake.add_account(f"user{n}") for n in range(3)]
    for account in found:
        fake.add_status(account, created_at=NOW - HOUR)
    accounts = [(f"{a.username}@one.example", a.id) for a in found]
    return Accounts(
        "mastodon", fake, accounts, lambda: fake.set_rate_limit(0), "mastodon_rate_limited"
    )


@pytest.fixture(params=[_youtube, _bluesky, _mastodon], ids=["youtube", "bluesky", "mastodon"])
def arranged(request: pytest.FixtureRequest, now: Clock) -> Accounts:
    made: Accounts = request.param()
    return made


def _runtime(settings: Settings, engine: Engine, platform: str, fake: Any) -> Runtime:
    return Runtime.from_settings(
        settings.model_copy(update=OPEN_SETTINGS),
        factory=make_sessionmaker(engine),
        transports={platform: fake.transport()},
    )


def test_a_pause_recorded_in_a_sweep_stops_the_later_discoveries_before_they_call(
    session: Session, collect_settings: Settings, engine: Engine, arranged: Accounts, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    integrations = [
        builders.make_integration(
            session,
            workspace,
            platform=arranged.platform,
            username=username,
            external_account_id=external,
        )
        for username, external in arranged.accounts
    ]
    for integration in integrations:  # a test of discoveries: no account read today
        no_account_read_today(session, integration)
    session.commit()
    arranged.refuse()
    rt = _runtime(collect_settings, engine, arranged.platform, arranged.fake)
    try:
        summary = runner.sweep(rt, now.at)
    finally:
        rt.close()

    # The first discovery called and was refused; the two after it did not call at all.
    assert len(arranged.fake.requests) == 1, [r.path for r in arranged.fake.requests]
    assert summary.discoveries == 3
    assert summary.discovery_requests == 1
    assert summary.discovery_held == 2
    session.expire_all()
    states = [session.get(DiscoveryState, i.id) for i in integrations]
    for state in states:  # each waits for the pause's end, under the platform's reason
        assert state is not None
        assert (state.outcome, state.error_code) == ("rate_limited", arranged.reason)
        assert state.next_due_at is not None
        assert state.next_due_at > now.at

    # A second sweep while the pause lasts calls nothing either.
    arranged.fake.requests.clear()
    rt = _runtime(collect_settings, engine, arranged.platform, arranged.fake)
    try:
        runner.sweep(rt, now.advance(timedelta(seconds=1)))
    finally:
        rt.close()
    assert arranged.fake.requests == []


# ---- every request is counted -------------------------------------------------------------


@pytest.fixture
def old_instance(now: Clock) -> Iterator[FakeMastodon]:
    SHARED_MEMORY.clear()  # the process-wide memory of old instances starts empty
    yield FakeMastodon(version="4.2.10")  # no GET /api/v1/statuses?id[]=
    SHARED_MEMORY.clear()


def _track_three(session: Session, fake: FakeMastodon) -> list[str]:
    account = fake.add_account("alice")
    integration = builders.make_integration(
        session,
        builders.make_workspace(session),
        platform="mastodon",
        username="alice@old.example",
        external_account_id=account.id,
    )
    no_discovery_today(session, integration)
    ids = []
    for n in range(3):
        status = fake.add_status(account, created_at=NOW - (n + 2) * HOUR, favourites=n)
        track(session, integration, status.id, published_at=status.created_at)
        ids.append(status.id)
    session.commit()
    return ids


def _metric(endpoint: str) -> float:
    labels = {"platform": "mastodon", "endpoint": endpoint}
    return WORK.registry.get_sample_value("openpost_platform_requests_total", labels) or 0.0


def test_the_sweep_counts_each_fallback_read_of_an_old_instance(
    session: Session,
    collect_settings: Settings,
    engine: Engine,
    old_instance: FakeMastodon,
    now: Clock,
) -> None:
    _track_three(session, old_instance)
    before = _metric("metrics")
    rt = _runtime(collect_settings, engine, "mastodon", old_instance)
    try:
        summary = runner.sweep(rt, now.at)
    finally:
        rt.close()
    # The missing multi-status endpoint, then one read per status.
    assert [r.endpoint for r in old_instance.requests] == ["statuses"] + ["status"] * 3
    assert (summary.batches, summary.requests, summary.written) == (1, 4, 3)
    assert _metric("metrics") - before == 4


def test_the_cli_summary_counts_every_request(
    session: Session, database_url: str, tmp_path: Any, old_instance: FakeMastodon, now: Clock
) -> None:
    _track_three(session, old_instance)
    with LiveServer(old_instance.app) as server:
        env = {
            "OPENPOST_ENV": "test",
            "OPENPOST_DATABASE_URL": database_url,
            "OPENPOST_DATA_DIR": str(tmp_path),
            "OPENPOST_MASTODON_API_BASE_URL": server.url,
            "OPENPOST_MASTODON_ALLOW_PRIVATE_ADDRESSES": "true",
            "OPENPOST_LOG_LEVEL": "WARNING",
        }
        at = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
        result = CliRunner().invoke(app, ["refresh", "--once", "--now", at, "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert len(old_instance.requests) == 4
    assert (summary["batches"], summary["requests"], summary["snapshots_written"]) == (1, 4, 3)
    assert (summary["discovery_requests"], summary["discoveries_held_by_pause"]) == (0, 0)


def test_a_fallback_cut_short_by_a_429_counts_the_requests_it_made(
    session: Session,
    collect_settings: Settings,
    engine: Engine,
    old_instance: FakeMastodon,
    now: Clock,
) -> None:
    _track_three(session, old_instance)
    old_instance.set_rate_limit(3)  # the refused multi-status read and two statuses, then 429
    before = _metric("metrics")
    rt = _runtime(collect_settings, engine, "mastodon", old_instance)
    try:
        summary = runner.sweep(rt, now.at)
    finally:
        rt.close()
    assert [r.status for r in old_instance.requests] == [404, 200, 200, 429]
    assert (summary.requests, summary.written) == (4, 0)
    assert summary.outcomes == {"rate_limited": 3}
    assert _metric("metrics") - before == 4
