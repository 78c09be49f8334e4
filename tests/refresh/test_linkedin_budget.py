"""LinkedIn's daily budgets in the planner: calls per UTC day for the app and for each
member's token. A page's posts share a call per batch; a member's post costs one call per
metric. The planner never plans beyond either day's calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.linkedin.fake import FakeLinkedIn
from openpost.refresh import planner
from openpost.refresh.budgets import budget_for, credential_row
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, track

H = timedelta(hours=1)


def _runtime(settings: Settings, engine: Engine, *, app: int, member: int) -> Runtime:
    tuned = settings.model_copy(
        update={
            "linkedin_client_id": "cid",
            "linkedin_client_secret": "secret",
            "linkedin_daily_app_calls": app,
            "linkedin_daily_member_calls": member,
        }
    )
    fake = FakeLinkedIn()
    return Runtime.from_settings(
        tuned, factory=make_sessionmaker(engine), transports={"linkedin": fake.transport()}
    )


@pytest.fixture
def rt(collect_settings: Settings, engine: Engine, now: Clock) -> Iterator[Runtime]:
    made = _runtime(collect_settings, engine, app=30, member=10)
    yield made
    made.close()


def _integration(session: Session, settings: Settings, urn: str) -> Integration:
    workspace = builders.make_workspace(session)
    sealed = Sealer.from_settings(settings).seal({"kind": "linkedin_oauth2", "access_token": "t"})
    return builders.make_integration(
        session,
        workspace,
        platform="linkedin",
        username=urn,
        external_account_id=urn,
        credentials_encrypted=sealed,
    )


def test_member_posts_cost_their_metrics_and_the_member_day_holds(
    session: Session, rt: Runtime
) -> None:
    member = _integration(session, rt.settings, "urn:li:person:abc")
    page = _integration(session, rt.settings, "urn:li:organization:42")
    for n in range(5):  # 5 member posts: 4 calls each, but the member may make 10 a day
        track(session, member, f"urn:li:share:{100 + n}", published_at=NOW - (n + 1) * H)
    for n in range(45):  # 45 page posts: ⌈45/20⌉ = 3 calls
        track(session, page, f"urn:li:share:{500 + n}", published_at=NOW - (n + 1) * H)
    session.flush()

    budget = budget_for(rt.settings, "linkedin")
    assert (
        budget.cost(5, 20, "urn:li:person:abc"),
        budget.cost(45, 20, "urn:li:organization:42"),
    ) == (20, 3)
    assert budget.capacity(10, 20, "urn:li:person:abc") == 2

    result = planner.plan(session, rt.settings, rt.policy, rt.clients, NOW)
    member_key = f"linkedin:user:{member.id}"
    page_key = f"linkedin:user:{page.id}"
    assert len(result.chosen[member_key]) == 2  # 2 posts x 4 metrics = 8 ≤ 10
    assert len(result.chosen[page_key]) == 45
    assert result.spend == {"linkedin": 8 + 3}
    assert result.credential_spend == {member_key: 8, page_key: 3}
    assert result.over_budget == {"linkedin": 3}
    planner.claim(session, result, lease_until=NOW + H)
    app = session.get(PlatformState, "linkedin", populate_existing=True)
    own = session.get(PlatformState, credential_row(member_key), populate_existing=True)
    assert app is not None
    assert own is not None
    assert (app.budget_day, app.reads_today, own.reads_today) == ("2026-04-16", 11, 8)

    # Two hours later (leases over) the member has 2 calls left: not one post's worth.
    later = planner.plan(session, rt.settings, rt.policy, rt.clients, NOW + 2 * H)
    assert member_key not in later.chosen
    # At 00:00 UTC both days start again.
    midnight = planner.plan(
        session, rt.settings, rt.policy, rt.clients, datetime(2026, 4, 17, tzinfo=UTC)
    )
    assert len(midnight.chosen[member_key]) == 2


def test_the_app_day_caps_every_account_together(
    collect_settings: Settings, engine: Engine, session: Session, now: Clock
) -> None:
    rt = _runtime(collect_settings, engine, app=6, member=0)
    try:
        first = _integration(session, rt.settings, "urn:li:person:one")
        second = _integration(session, rt.settings, "urn:li:person:two")
        for integration in (first, second):
            for n in range(3):
                track(
                    session,
                    integration,
                    f"urn:li:share:{n}{integration.id.int % 97}",
                    published_at=NOW - (n + 1) * H,
                )
        session.flush()
        result = planner.plan(session, rt.settings, rt.policy, rt.clients, NOW)
        assert sum(len(t) for t in result.chosen.values()) == 1  # 6 calls: one post of 4
        assert result.spend == {"linkedin": 4}
        assert sum(result.spend.values()) <= 6
    finally:
        rt.close()
