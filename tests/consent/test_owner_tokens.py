"""Renewing owners' tokens is generic too: the tiny provider's rotating refresh tokens,
renewed a day ahead (its own margin), two workers at once spending the refresh token once
under the row lock, a refusal raising ``TokenRefused`` with the credentials kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.consent.tokens import OwnerTokens
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.base import PermissionRequired
from openpost.platforms.consent import TokenRefused
from tests import builders
from tests.consent.tiny import LONG_LIFETIME, TinyProvider, tiny_consent
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
KEY, SECRET = "tiny-app", "tiny-app-secret-value"
CONSENT = tiny_consent(KEY, SECRET)


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def provider(now: Clock) -> TinyProvider:
    provider = TinyProvider(KEY, SECRET, "https://analytics.example.com/cb", now=now)
    provider.add_account("acct-7", "tinyowner", "Tiny Owner")
    return provider


def connect(
    session: Session, settings: Settings, provider: TinyProvider, *, platform: str = "pinterest"
) -> tuple[Integration, dict[str, Any]]:
    issued = provider.issue("acct-7")
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform=platform)
    credentials = {
        "kind": "tiny_oauth2",
        "integration_id": str(integration.id),
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "expires_at": format_time(NOW + LONG_LIFETIME),
        "scope": "posts.read,account.read",
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


def source(engine: Engine, settings: Settings, provider: TinyProvider) -> OwnerTokens:
    return OwnerTokens(
        make_sessionmaker(engine),
        settings,
        consents=[CONSENT],
        transports={"pinterest": provider.transport()},
    )


def test_renewal_waits_for_the_platforms_own_margin_then_rotates(
    session: Session, engine: Engine, settings: Settings, provider: TinyProvider, now: Clock
) -> None:
    integration, before = connect(session, settings, provider)
    tokens = source(engine, settings, provider)
    now.advance(LONG_LIFETIME - timedelta(days=2))  # two days left: more than its one-day margin
    assert tokens(before, force=False) is before
    assert provider.calls["token"] == 0

    now.advance(timedelta(days=1, seconds=1))  # inside the margin
    after = tokens(before, force=False)
    assert provider.calls["token"] == 1
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] == format_time(now() + LONG_LIFETIME)
    assert after["refresh_expires_at"] == format_time(now() + timedelta(days=180))
    assert after["kind"] == "tiny_oauth2"
    assert after["integration_id"] == str(integration.id)
    assert stored(session, settings, integration) == after
    assert provider.refresh_tokens[before["refresh_token"]].used  # rotated away


def test_force_renews_a_token_the_platform_rejected(
    session: Session, engine: Engine, settings: Settings, provider: TinyProvider
) -> None:
    integration, before = connect(session, settings, provider)
    after = source(engine, settings, provider)(before, force=True)
    assert after["access_token"] != before["access_token"]
    assert stored(session, settings, integration) == after


def test_two_workers_at_once_spend_the_rotating_refresh_token_once(
    session: Session, engine: Engine, settings: Settings, provider: TinyProvider
) -> None:
    """Two token sources (as two processes: no shared in-process lock) renew the same
    credentials at once while the provider answers slowly: the second waits on the row lock
    and takes the first one's tokens instead of spending the rotated refresh token."""
    integration, before = connect(session, settings, provider)
    provider.slow = 0.5
    workers = [source(engine, settings, provider) for _ in range(2)]
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
        thread.join(timeout=20)
    assert failures == []
    assert provider.calls["token"] == 1
    first, second = results
    assert first == second
    assert first["access_token"] != before["access_token"]
    assert stored(session, settings, integration) == first
    assert not provider.refresh_tokens[first["refresh_token"]].used


def test_a_refused_renewal_is_token_refused_and_keeps_the_credentials(
    session: Session, engine: Engine, settings: Settings, provider: TinyProvider
) -> None:
    integration, before = connect(session, settings, provider)
    provider.refresh_tokens[before["refresh_token"]].used = True  # revoked by the owner
    with pytest.raises(TokenRefused) as refused:
        source(engine, settings, provider)(before, force=True)
    assert isinstance(refused.value, PermissionRequired)  # → needs_refresh in collection
    assert refused.value.code == "tiny_token_refused"
    assert before["refresh_token"] not in refused.value.message
    assert stored(session, settings, integration) == before


def test_credentials_of_another_kind_or_row_are_not_renewed(
    session: Session, engine: Engine, settings: Settings, provider: TinyProvider
) -> None:
    tokens = source(engine, settings, provider)
    x_like = {"kind": "x_oauth2", "integration_id": "x", "refresh_token": "r"}
    assert tokens(x_like, force=True) is x_like  # no consent of that kind here
    mismatched, credentials = connect(session, settings, provider, platform="tiktok")
    with pytest.raises(PermissionRequired) as caught:
        tokens(credentials, force=True)  # the row is another platform's
    assert caught.value.code == "tiny_user_token_missing"
    assert provider.calls["token"] == 0
    assert stored(session, settings, mismatched) == credentials
