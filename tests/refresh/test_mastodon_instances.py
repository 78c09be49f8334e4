"""Mastodon limits are per instance: a spent window on one instance holds back only the
accounts on that instance, and the status says which."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.refresh import runner, service
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from openpost.workspaces.models import Workspace
from tests import builders
from tests.refresh.conftest import NOW, Clock, no_discovery_today, track

MINUTE = timedelta(minutes=1)


@pytest.fixture
def fake(now: Clock) -> FakeMastodon:
    return FakeMastodon(version="4.3.2")


@pytest.fixture
def rt(collect_settings: Settings, engine: Engine, fake: FakeMastodon) -> Iterator[Runtime]:
    # One fake answers for every instance (the base URL override); the instance each account
    # lives on still decides its credential key, its rate window and its pauses.
    settings = collect_settings.model_copy(
        update={
            "mastodon_api_base_url": "http://127.0.0.1:8083",
            "mastodon_allow_private_addresses": True,
        }
    )
    made = Runtime.from_settings(
        settings, factory=make_sessionmaker(engine), transports={"mastodon": fake.transport()}
    )
    yield made
    made.close()


def _account(
    session: Session,
    workspace: Workspace,
    fake: FakeMastodon,
    name: str,
    instance: str,
    due_in: list[timedelta],
) -> tuple[Integration, list[str]]:
    """An account with a read post due after each of ``due_in``."""
    account = fake.add_account(name)
    integration = builders.make_integration(
        session,
        workspace,
        platform="mastodon",
        username=f"{name}@{instance}",
        external_account_id=account.id,
    )
    no_discovery_today(session, integration)
    ids = []
    for n, wait in enumerate(due_in):
        status = fake.add_status(account, created_at=NOW - timedelta(hours=2 + n), favourites=n)
        track(
            session,
            integration,
            status.id,
            published_at=status.created_at,
            next_due_at=NOW + wait,
            last_attempt_at=NOW - timedelta(hours=1),
            last_success_at=NOW - timedelta(hours=1),
        )
        ids.append(status.id)
    return integration, ids


def _statuses_asked(fake: FakeMastodon, since: int) -> set[str]:
    return {i for call in fake.requests[since:] for i in call.params.get("id[]", [])}


def test_a_spent_window_holds_back_only_its_instance(
    session: Session, rt: Runtime, fake: FakeMastodon, now: Clock
) -> None:
    now_due, later = [timedelta(0)] * 3, [2 * MINUTE] * 3
    workspace = builders.make_workspace(session)
    _, alice_ids = _account(session, workspace, fake, "alice", "a.example", now_due + later)
    _, bob_ids = _account(session, workspace, fake, "bob", "b.example", later)
    session.commit()

    fake.set_rate_limit(1)  # a.example's one call spends its window (remaining 0)
    first = runner.sweep(rt, now.at)
    assert (first.requests, first.written) == (1, 3)
    assert _statuses_asked(fake, 0) == set(alice_ids[:3])
    spent = session.get(PlatformState, "mastodon:a.example/metrics", populate_existing=True)
    assert spent is not None
    assert spent.paused_until == NOW + 5 * MINUTE
    assert session.get(PlatformState, "mastodon", populate_existing=True) is None

    # Two minutes on, alice's other posts and bob's are due. a.example is still paused;
    # b.example is another server with its own window, and is read.
    fake.set_rate_limit(300)
    now.advance(2 * MINUTE)
    asked = len(fake.requests)
    second = runner.sweep(rt, now.at)
    assert second.paused == {"mastodon:a.example": 3}
    assert _statuses_asked(fake, asked) == set(bob_ids)
    assert second.written == 3

    status = service.collection_status(session, rt.settings, workspace.id, now=now.at)
    (platform,) = status["platforms"]
    assert platform["paused"] is False  # one instance's window does not stop Mastodon
    assert [(p["scope"], p["endpoint"], p["until"]) for p in platform["pauses"]] == [
        ("mastodon:a.example", "metrics", "2026-04-16T10:05:00Z")
    ]
    pauses = {i["username"]: [p["scope"] for p in i["pauses"]] for i in status["integrations"]}
    assert pauses == {"alice@a.example": ["mastodon:a.example"], "bob@b.example": []}

    # Once a.example's window resets, alice's held posts go.
    now.advance(4 * MINUTE)
    asked = len(fake.requests)
    third = runner.sweep(rt, now.at)
    assert (third.paused, third.written) == ({}, 3)
    assert _statuses_asked(fake, asked) == set(alice_ids[3:])
