"""A Bluesky post registered by its bsky.app URL (the author's handle) and the same post
found by discovery (the author's DID) are one tracked post, not two."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.posts.models import PostTarget
from openpost.posts.schemas import PostCreate
from openpost.posts.service import register_post
from openpost.refresh import discovery, runner
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock


@pytest.fixture
def fake(now: Clock) -> FakeBluesky:
    return FakeBluesky()


@pytest.fixture
def rt(collect_settings: Settings, engine: Engine, fake: FakeBluesky) -> Iterator[Runtime]:
    settings = collect_settings.model_copy(update={"bluesky_api_base_url": "http://bsky.test"})
    made = Runtime.from_settings(
        settings, factory=make_sessionmaker(engine), transports={"bluesky": fake.transport()}
    )
    yield made
    made.close()


def test_registered_by_url_then_discovered_is_one_post(
    session: Session, rt: Runtime, fake: FakeBluesky, now: Clock
) -> None:
    actor = fake.add_account("alice.bsky.social", display_name="Alice")
    posts = [
        fake.add_post(actor, text=f"post {n}", created_at=NOW - timedelta(hours=1 + n), likes=n)
        for n in range(4)
    ]
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(
        session,
        workspace,
        platform="bluesky",
        username=actor.handle,
        external_account_id=actor.did,
    )
    url = f"https://bsky.app/profile/{actor.handle}/post/{posts[2].rkey}"
    body = PostCreate.model_validate(
        {"targets": [{"integration_id": str(integration.id), "post_url": url}]}
    )
    register_post(session, workspace.id, body, now=NOW)
    session.commit()

    jobs = runner.plan_discoveries(rt, NOW)
    (result,) = [discovery.run(rt.factory, rt.clients, rt.policy, job) for job in jobs]
    assert result.discovered == 3  # the other three; the registered one is already tracked
    tracked = session.scalars(
        select(PostTarget.platform_post_id).where(PostTarget.integration_id == integration.id)
    ).all()
    assert sorted(str(t) for t in tracked) == sorted(p.uri for p in posts)
    assert session.scalar(select(func.count()).select_from(PostTarget)) == 4
