"""Owners' X tokens during collection: refreshed before they expire (or after a 401), the
rotated refresh token stored, two workers never losing it, a refused refresh marking the
integration ``needs_refresh``. Against the fake X in-process, on the real capture path."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.consent.tokens import OwnerTokens
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.consent import REFRESH_MARGIN
from openpost.platforms.x.fake import FakeAccount, FakeX
from openpost.refresh import runner
from openpost.refresh.models import RefreshState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import Clock, make_runtime, no_discovery_today, track, x_integration

CLIENT_ID, SECRET = "client-1", "client-secret-1"
SCOPE = "tweet.read users.read offline.access"


@pytest.fixture
def oauth_settings(collect_settings: Settings) -> Settings:
    return collect_settings.model_copy(
        update={
            "x_client_id": CLIENT_ID,
            "x_client_secret": SECRET,
            "public_base_url": "https://analytics.example.com",
        }
    )


@pytest.fixture
def owner(fake_x: FakeX) -> FakeAccount:
    fake_x.add_oauth_client(CLIENT_ID, SECRET, "https://analytics.example.com/cb")
    return fake_x.add_account("openpost")


def connect(
    session: Session, settings: Settings, fake: FakeX, owner: FakeAccount
) -> tuple[Integration, dict[str, Any]]:
    """An integration holding the owner's freshly issued tokens, sealed as the flow stores them."""
    issued = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    workspace = builders.make_workspace(session)
    integration = x_integration(session, workspace, owner)
    credentials = {
        "kind": "x_oauth2",
        "integration_id": str(integration.id),
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "expires_at": format_time(fake.now() + timedelta(seconds=issued["expires_in"])),
        "scope": SCOPE,
    }
    integration.credentials_encrypted = Sealer(settings.effective_secret_key).seal(credentials)
    no_discovery_today(session, integration)
    session.commit()
    return integration, credentials


def stored(session: Session, settings: Settings, integration: Integration) -> dict[str, Any]:
    session.expire_all()
    sealed = session.scalar(
        select(Integration.credentials_encrypted).where(Integration.id == integration.id)
    )
    assert sealed is not None
    return Sealer(settings.effective_secret_key).open(sealed)


def tracked_post(
    session: Session, fake: FakeX, owner: FakeAccount, integration: Integration
) -> str:
    post = fake.add_post(owner, created_at=fake.now() - timedelta(days=2), impressions=70)
    track(session, integration, post.id, published_at=post.created_at)
    session.commit()
    return post.id


def latest_snapshot(session: Session, integration: Integration) -> Snapshot | None:
    return session.scalars(
        select(Snapshot)
        .where(Snapshot.integration_id == integration.id)
        .order_by(Snapshot.captured_at.desc())
    ).first()


def test_a_fresh_token_is_used_as_it_is(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, owner: FakeAccount
) -> None:
    integration, _ = connect(session, oauth_settings, fake_x, owner)
    tracked_post(session, fake_x, owner, integration)
    rt = make_runtime(oauth_settings, engine, fake_x)
    runner.sweep(rt, fake_x.now())
    assert fake_x.calls("oauth2_token") == []
    snapshot = latest_snapshot(session, integration)
    assert snapshot is not None
    assert "non_public_metrics" in snapshot.platform_data


def test_a_token_near_expiry_is_refreshed_first_and_the_rotated_one_stored(
    session: Session,
    engine: Engine,
    oauth_settings: Settings,
    fake_x: FakeX,
    owner: FakeAccount,
    now: Clock,
) -> None:
    integration, before = connect(session, oauth_settings, fake_x, owner)
    now.advance(timedelta(hours=2) - REFRESH_MARGIN + timedelta(seconds=1))
    tracked_post(session, fake_x, owner, integration)
    rt = make_runtime(oauth_settings, engine, fake_x)
    runner.sweep(rt, now())

    [refresh] = fake_x.calls("oauth2_token")
    assert refresh.params == {"grant_type": "refresh_token"}
    after = stored(session, oauth_settings, integration)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] == format_time(now() + timedelta(hours=2))
    assert after["integration_id"] == str(integration.id)
    assert fake_x.oauth.refresh_tokens[before["refresh_token"]].used  # rotated away
    assert not fake_x.oauth.refresh_tokens[after["refresh_token"]].used
    reads = fake_x.calls("tweets_lookup")
    assert [r.context for r in reads] == [f"user:{owner.id}"]
    assert reads[0].status == 200
    snapshot = latest_snapshot(session, integration)
    assert snapshot is not None
    assert snapshot.platform_data["non_public_metrics"]["impression_count"] == 70


def test_a_401_refreshes_and_retries_the_read_once(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, owner: FakeAccount
) -> None:
    integration, before = connect(session, oauth_settings, fake_x, owner)
    del fake_x.user_tokens[before["access_token"]]  # X stopped accepting it early
    tracked_post(session, fake_x, owner, integration)
    rt = make_runtime(oauth_settings, engine, fake_x)
    runner.sweep(rt, fake_x.now())

    assert [r.status for r in fake_x.calls("tweets_lookup")] == [401, 200]
    assert len(fake_x.calls("oauth2_token")) == 1
    assert stored(session, oauth_settings, integration)["access_token"] != before["access_token"]
    assert latest_snapshot(session, integration) is not None


@pytest.mark.parametrize("error", ["invalid_request", "invalid_grant"])
def test_a_refused_refresh_marks_the_integration_needs_refresh(
    session: Session,
    engine: Engine,
    oauth_settings: Settings,
    fake_x: FakeX,
    owner: FakeAccount,
    now: Clock,
    error: str,
) -> None:
    fake_x.oauth.refused_error = error
    integration, before = connect(session, oauth_settings, fake_x, owner)
    fake_x.oauth.refresh_tokens[before["refresh_token"]].used = True  # revoked by the owner
    now.advance(timedelta(hours=2))
    tracked_post(session, fake_x, owner, integration)
    rt = make_runtime(oauth_settings, engine, fake_x)
    runner.sweep(rt, now())

    session.expire_all()
    assert session.get(Integration, integration.id).status == "needs_refresh"  # type: ignore[union-attr]
    state = session.scalars(select(RefreshState)).one()
    assert state.outcome == "permission_required"
    assert state.error_code == "x_token_refused"
    assert before["refresh_token"] not in (state.error_message or "")
    assert fake_x.calls("tweets_lookup") == []  # never read with a dead token
    assert stored(session, oauth_settings, integration) == before  # kept until reconnected


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, owner: FakeAccount
) -> None:
    """Two token sources (two processes: no shared in-process lock) refresh the same stale
    credentials at once; the token endpoint answers slowly so they overlap. The row lock
    makes the second wait and take the first one's tokens instead of spending the (already
    rotated) refresh token."""
    integration, before = connect(session, oauth_settings, fake_x, owner)
    factory = make_sessionmaker(engine)
    fake_x.inject("slow", endpoint="oauth2_token", delay=0.5)
    workers = [
        OwnerTokens(factory, oauth_settings, transports={"twitter": fake_x.transport()})
        for _ in range(2)
    ]
    results: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def refresh(source: OwnerTokens) -> None:
        try:
            results.append(source(before, force=True))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=refresh, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert failures == []
    assert len(fake_x.calls("oauth2_token")) == 1
    first, second = results
    assert first["access_token"] == second["access_token"] != before["access_token"]
    after = stored(session, oauth_settings, integration)
    assert after == first
    assert not fake_x.oauth.refresh_tokens[after["refresh_token"]].used


def test_credentials_without_a_refresh_token_are_never_refreshed(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, owner: FakeAccount
) -> None:
    source = OwnerTokens(
        make_sessionmaker(engine), oauth_settings, transports={"twitter": fake_x.transport()}
    )
    plain = {"access_token": "t"}
    assert source(plain, force=True) is plain
    assert fake_x.calls("oauth2_token") == []


def test_runtime_wires_the_token_source_into_the_x_client(
    oauth_settings: Settings, engine: Engine, fake_x: FakeX
) -> None:
    rt = Runtime.from_settings(oauth_settings, factory=make_sessionmaker(engine))
    try:
        assert isinstance(rt.clients.user_tokens, OwnerTokens)
    finally:
        rt.close()
