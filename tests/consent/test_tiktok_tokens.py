"""TikTok's rotating refresh tokens through the generic refresher (``consent.tokens``)
against the fake TikTok, on the test database (SQLite, or PostgreSQL with
``OPENPOST_TEST_DATABASE_URL``): the new refresh token is stored with the new access token,
two workers refreshing at once spend the refresh token once (the fake kills the old one, so
a second spend would be refused), and a refresh token past its 180 days is ``TokenRefused``
without a call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.consent.tokens import OwnerTokens, owner_credentials
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.base import PermissionRequired
from openpost.platforms.consent import TokenRefused, token_set
from openpost.platforms.tiktok.client import TikTokClient
from openpost.platforms.tiktok.fake import FakeTikTok, FakeUser
from openpost.platforms.tiktok.oauth import CONSENT, SCOPES
from tests import builders
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
KEY, SECRET = "tiktok-key", "tiktok-secret-value"


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake(now: Clock) -> FakeTikTok:
    fake = FakeTikTok(now=now)
    fake.add_oauth_client(KEY, SECRET, "https://analytics.example.com/integrations/tiktok/callback")
    return fake


@pytest.fixture
def owner(fake: FakeTikTok) -> FakeUser:
    return fake.add_user("openpost")


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "tiktok_client_id": KEY,
            "tiktok_client_secret": SECRET,
            "tiktok_api_base_url": "https://open.tiktokapis.test",
        }
    )


def connect(
    session: Session, settings: Settings, fake: FakeTikTok, owner: FakeUser
) -> tuple[Integration, dict[str, Any]]:
    issued = fake.issue_tokens(owner, client_key=KEY, scope=",".join(SCOPES))
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="tiktok")
    credentials = {
        **owner_credentials(CONSENT, token_set(issued, NOW)),
        "integration_id": str(integration.id),
    }
    integration.credentials_encrypted = Sealer(settings.effective_secret_key).seal(credentials)
    session.commit()
    return integration, credentials


def stored(session: Session, settings: Settings, integration: Integration) -> dict[str, Any]:
    session.expire_all()
    sealed = session.scalar(
        select(Integration.credentials_encrypted).where(Integration.id == integration.id)
    )
    assert sealed is not None
    return Sealer(settings.effective_secret_key).open(sealed)


def source(engine: Engine, settings: Settings, fake: FakeTikTok) -> OwnerTokens:
    return OwnerTokens(
        make_sessionmaker(engine),
        settings,
        consents=[CONSENT],
        transports={"tiktok": fake.transport()},
    )


def test_an_expiring_token_is_renewed_and_the_rotated_refresh_token_stored(
    session: Session,
    engine: Engine,
    app_settings: Settings,
    fake: FakeTikTok,
    owner: FakeUser,
    now: Clock,
) -> None:
    integration, before = connect(session, app_settings, fake, owner)
    assert before["expires_at"] == "2026-04-16T12:00:00Z"  # two hours
    assert before["refresh_expires_at"] == "2026-10-13T10:00:00Z"  # 180 days
    tokens = source(engine, app_settings, fake)
    assert tokens(before, force=False) is before  # not due yet
    now.advance(timedelta(hours=2) - timedelta(minutes=4))  # inside the five-minute margin
    after = tokens(before, force=False)
    assert fake.oauth.refreshes == 1
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_expires_at"] == "2026-10-13T11:56:00Z"
    assert stored(session, app_settings, integration) == after
    assert fake.oauth.refresh_tokens[before["refresh_token"]].used  # the old one is dead
    assert not fake.oauth.refresh_tokens[after["refresh_token"]].used


def test_a_client_read_with_a_rejected_token_renews_it_through_the_database(
    session: Session,
    engine: Engine,
    app_settings: Settings,
    fake: FakeTikTok,
    owner: FakeUser,
) -> None:
    integration, before = connect(session, app_settings, fake, owner)
    video = fake.add_video(owner, views=7)
    fake.expire_token(before["access_token"])
    client = TikTokClient(
        base_url="https://open.tiktokapis.test",
        transport=fake.transport(),
        user_tokens=source(engine, app_settings, fake),
    )
    with client:
        result = client.fetch_metrics([video.id], credentials=before)
    assert result.readings[video.id].impressions == 7
    assert result.calls == 2  # the refused read, then the read with the renewed token
    assert [r.status for r in fake.calls("video_query")] == [401, 200]
    assert stored(session, app_settings, integration)["refresh_token"] != before["refresh_token"]


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(
    session: Session,
    engine: Engine,
    app_settings: Settings,
    fake: FakeTikTok,
    owner: FakeUser,
) -> None:
    """Two token sources (as two processes: no shared in-process lock) renew the same
    credentials at once while TikTok answers slowly. The second waits on the row lock and
    takes the first one's tokens: had it spent the old refresh token too, the fake would
    refuse it (``invalid_grant``) and the connection would be lost."""
    integration, before = connect(session, app_settings, fake, owner)
    fake.inject("slow", endpoint="oauth_token", delay=0.5, times=2)
    workers = [source(engine, app_settings, fake) for _ in range(2)]
    results: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def renew(worker: OwnerTokens) -> None:
        try:
            results.append(worker(before, force=True))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=renew, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert fake.oauth.refreshes == 1
    token_calls = fake.calls("oauth_token")
    assert [r.status for r in token_calls] == [200]
    first, second = results
    assert first == second
    assert stored(session, app_settings, integration) == first
    assert fake.oauth.refresh_tokens[before["refresh_token"]].used
    assert not fake.oauth.refresh_tokens[first["refresh_token"]].used  # the live one is kept


def test_spending_a_rotated_refresh_token_again_is_refused(
    session: Session,
    engine: Engine,
    app_settings: Settings,
    fake: FakeTikTok,
    owner: FakeUser,
) -> None:
    """What the lock prevents: the old refresh token, used again, is ``invalid_grant``."""
    integration, before = connect(session, app_settings, fake, owner)
    source(engine, app_settings, fake)(before, force=True)
    stale = {**stored(session, app_settings, integration), "refresh_token": before["refresh_token"]}
    stale["access_token"] = "act.someone-else-renewed"
    integration.credentials_encrypted = Sealer(app_settings.effective_secret_key).seal(stale)
    session.commit()
    with pytest.raises(TokenRefused) as refused:
        source(engine, app_settings, fake)(stale, force=True)
    assert refused.value.code == "tiktok_token_refused"
    assert before["refresh_token"] not in refused.value.message


def test_a_refresh_token_past_its_180_days_is_refused_without_a_call(
    session: Session,
    engine: Engine,
    app_settings: Settings,
    fake: FakeTikTok,
    owner: FakeUser,
    now: Clock,
) -> None:
    integration, before = connect(session, app_settings, fake, owner)
    now.advance(timedelta(days=180, minutes=1))
    with pytest.raises(TokenRefused) as refused:
        source(engine, app_settings, fake)(before, force=False)
    assert isinstance(refused.value, PermissionRequired)  # → needs_refresh in collection
    assert fake.calls("oauth_token") == []
    assert stored(session, app_settings, integration) == before
    # Without the stored expiry, TikTok itself refuses the dead refresh token.
    del before["refresh_expires_at"]
    integration.credentials_encrypted = Sealer(app_settings.effective_secret_key).seal(before)
    session.commit()
    with pytest.raises(TokenRefused):
        source(engine, app_settings, fake)(before, force=False)
    assert [r.status for r in fake.calls("oauth_token")] == [400]
