"""Threads' long-lived token renewed by the consent machinery (``OwnerTokens``): it has no
refresh token, so the access token renews itself once it is within Threads' margin (30
days of expiry), and the renewed token is stored sealed; a collection read through the
client asks first; a refused token stays refused (``TokenRefused``: reconnect)."""

from __future__ import annotations

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
from openpost.platforms.consent import TokenRefused, TokenSet
from openpost.platforms.threads.client import MediaIds, ThreadsClient
from openpost.platforms.threads.fake import FakeThreads, FakeUser
from openpost.platforms.threads.oauth import CONSENT
from tests import builders
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
APP, SECRET = "threads-app", "threads-app-secret-value"


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake(now: Clock) -> FakeThreads:
    fake = FakeThreads()
    fake.add_app(APP, SECRET, "https://analytics.example.com/integrations/threads/callback")
    return fake


@pytest.fixture
def owner(fake: FakeThreads) -> FakeUser:
    return fake.add_user("openpost")


@pytest.fixture
def configured(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "threads_client_id": APP,
            "threads_client_secret": SECRET,
            "threads_api_base_url": "http://fake-threads.test",
            "public_base_url": "https://analytics.example.com",
        }
    )


def connect(
    session: Session, settings: Settings, fake: FakeThreads, owner: FakeUser, *, age: timedelta
) -> tuple[Integration, dict[str, Any]]:
    issued = fake.issue_token(owner, client_id=APP, age=age)
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(
        session, workspace, platform="threads", external_account_id=owner.id
    )
    tokens = TokenSet(issued["access_token"], None, issued["expires_at"], "threads_basic")
    credentials = {
        **owner_credentials(CONSENT, tokens),
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


def tokens(engine: Engine, settings: Settings, fake: FakeThreads) -> OwnerTokens:
    return OwnerTokens(
        make_sessionmaker(engine),
        settings,
        consents=[CONSENT],
        transports={"threads": fake.transport()},
    )


def test_a_token_within_thirty_days_of_expiry_is_renewed_before_the_read(
    session: Session,
    engine: Engine,
    configured: Settings,
    fake: FakeThreads,
    owner: FakeUser,
    now: Clock,
) -> None:
    integration, credentials = connect(session, configured, fake, owner, age=timedelta(days=31))
    media = fake.add_media(owner, likes=9)
    client = ThreadsClient(
        base_url="http://fake-threads.test",
        transport=fake.transport(),
        user_tokens=tokens(engine, configured, fake),
        media_ids=MediaIds(),
    )
    result = client.fetch_metrics([media.id], credentials=credentials)
    assert result.readings[media.id].likes == 9
    assert fake.refreshes == 1
    renewed = stored(session, configured, integration)
    assert renewed["access_token"] != credentials["access_token"]
    assert renewed["refresh_token"] is None
    assert renewed["expires_at"] == "2026-06-15T09:59:04Z"  # 5,183,944 s from now
    (read,) = fake.calls("insights")
    assert read.context == owner.id
    # The renewed token is used from now on: no second renewal.
    client.fetch_metrics([media.id], credentials=renewed)
    assert fake.refreshes == 1


def test_a_young_token_is_used_as_it_is(
    session: Session, engine: Engine, configured: Settings, fake: FakeThreads, owner: FakeUser
) -> None:
    _integration, credentials = connect(session, configured, fake, owner, age=timedelta(days=2))
    source = tokens(engine, configured, fake)
    assert source(credentials, force=False) is credentials
    assert fake.calls("refresh") == []


def test_a_revoked_token_cannot_renew_and_the_owner_must_reconnect(
    session: Session, engine: Engine, configured: Settings, fake: FakeThreads, owner: FakeUser
) -> None:
    integration, credentials = connect(session, configured, fake, owner, age=timedelta(days=40))
    fake.revoke(credentials["access_token"])
    with pytest.raises(TokenRefused):
        tokens(engine, configured, fake)(credentials, force=False)
    assert stored(session, configured, integration) == credentials  # kept until reconnected
