"""``as_of`` (SPEC §9.6): an answer as of T is the answer the API gave at T, byte for byte.

A month of collection is simulated: a test-mode workspace (synthetic Bluesky and Mastodon
accounts: posts appear, counters grow, some posts are deleted) swept every 6 hours with
the sweep's own clock (what ``openpost refresh --once --now T`` runs). After each sweep the
API is asked, with the process clock at that moment, for the workspace's snapshots (paged)
and for each post's metrics; the bodies are recorded. When the month is over, every
recorded request is asked again with ``as_of`` = the moment it was first asked, and must
answer the same bytes. Retention then thins the history, and answers within what it kept
(the last week, untouched) are still the same bytes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.core.pagination import encode_cursor
from openpost.core.timefmt import format_time
from openpost.posts.models import Post
from openpost.refresh.runner import Runtime, sweep
from openpost.retention.service import apply
from openpost.workspaces.models import Workspace
from tests import builders

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STEP = timedelta(hours=6)
DAYS = 30


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The month asks a few thousand questions within one simulated minute or two."""
    return settings.model_copy(update={"api_rate_limit": "1000000/minute"})


@pytest.fixture
def frozen() -> Iterator[Clock]:
    source = Clock(START)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


Recorded = list[tuple[str, datetime, int, bytes]]


def _ask(client: TestClient, headers: dict[str, str], path: str) -> tuple[int, bytes]:
    answer = client.get(path, headers=headers)
    return answer.status_code, answer.content


def _with_as_of(path: str, at: datetime) -> str:
    return f"{path}{'&' if '?' in path else '?'}as_of={format_time(at)}"


@pytest.fixture
def month(
    engine: Engine, settings: Settings, session: Session, client: TestClient, frozen: Clock
) -> tuple[Recorded, dict[str, str], list[str]]:
    workspace = builders.make_workspace(session, mode="test", name="Replay")
    key = builders.make_key(session, workspace)
    integrations = [
        builders.make_integration(session, workspace, platform=platform, synthetic=True)
        for platform in ("bluesky", "mastodon")
    ]
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    runtime = Runtime.from_settings(settings, factory=make_sessionmaker(engine))
    rng = random.Random(16)  # noqa: S311 - which questions to ask, not secrets
    recorded: Recorded = []
    try:
        at = START
        while at < START + timedelta(days=DAYS):
            frozen.at = at
            sweep(runtime, at, clock_now=lambda at=at: at)  # type: ignore[misc]
            # Asked at the sweep's instant, or some minutes after it (before the next).
            asked = at + timedelta(minutes=rng.choice([0, 0, 17, 359]))
            frozen.at = asked
            paths = [
                f"/v1/analytics?days={rng.choice([1, 7, 30])}&limit=40",
                f"/v1/analytics/accounts?days={rng.choice([1, 7, 30])}&limit=3",
                *(
                    f"/v1/analytics/accounts/{i.id}?days={rng.choice([1, 7, 30])}"
                    for i in integrations
                ),
            ]
            session.expire_all()
            posts = [
                str(p)
                for p in session.scalars(select(Post.id).where(Post.workspace_id == workspace.id))
            ]
            paths += [
                f"/v1/analytics/post/{post}?days={rng.choice([1, 3, 30])}"
                for post in rng.sample(posts, min(4, len(posts)))
            ]
            if len(recorded) % 3 == 0:  # the export's three views, now and then
                view = rng.choice(["snapshots", "latest", "accounts"])
                paths.append(f"/v1/analytics/export?view={view}&days={rng.choice([1, 7, 30])}")
            for path in paths:
                status, body = _ask(client, headers, path)
                recorded.append((path, asked, status, body))
                # Follow the cursor once: later pages replay too.
                if "limit=" in path and b'"next_cursor":"' in body:
                    cursor = body.split(b'"next_cursor":"')[1].split(b'"')[0].decode()
                    page_two = f"{path}&cursor={cursor}"
                    status, body = _ask(client, headers, page_two)
                    recorded.append((page_two, asked, status, body))
            at += STEP
    finally:
        runtime.close()
    session.expire_all()
    all_posts = [
        str(p) for p in session.scalars(select(Post.id).where(Post.workspace_id == workspace.id))
    ]
    return recorded, headers, all_posts


def test_every_answer_of_the_month_replays_byte_for_byte(
    month: tuple[Recorded, dict[str, str], list[str]],
    client: TestClient,
    session: Session,
    frozen: Clock,
) -> None:
    recorded, headers, _ = month
    frozen.at = START + timedelta(days=DAYS + 3)
    # The month is rich enough to mean something: many posts, pages, OK answers.
    assert len({path for path, *_ in recorded if "/post/" in path}) >= 20
    assert sum(1 for path, *_ in recorded if "cursor=" in path) >= 20
    assert sum(1 for path, *_ in recorded if "/accounts?" in path and "cursor=" in path) >= 20
    assert sum(1 for path, *_ in recorded if "/accounts/" in path) >= 200
    for view in ("snapshots", "latest", "accounts"):
        exports = [body for path, _, _, body in recorded if f"export?view={view}" in path]
        assert len(exports) >= 5, view
        assert max(body.count(b"\r\n") for body in exports) > 20, view  # rows, not headers
    failed = [(p, s, b[:200]) for p, _, s, b in recorded if s != 200]
    assert failed == []
    mismatches = [
        (path, format_time(asked))
        for path, asked, status, body in recorded
        if _ask(client, headers, _with_as_of(path, asked)) != (status, body)
    ]
    assert mismatches == [], f"{len(mismatches)} of {len(recorded)} differ: {mismatches[:5]}"


def test_a_post_created_after_as_of_was_not_found_then(
    month: tuple[Recorded, dict[str, str], list[str]],
    client: TestClient,
    session: Session,
    frozen: Clock,
) -> None:
    _, headers, posts = month
    frozen.at = START + timedelta(days=DAYS + 1)
    session.expire_all()
    newest = session.scalars(
        select(Post)
        .where(Post.id.in_([uuid.UUID(p) for p in posts]))
        .order_by(Post.created_at.desc())
    ).first()
    assert newest is not None
    before = newest.created_at - timedelta(seconds=1)
    status, body = _ask(client, headers, _with_as_of(f"/v1/analytics/post/{newest.id}", before))
    assert status == 404
    assert b"post not found" in body
    status, _ = _ask(
        client, headers, _with_as_of(f"/v1/analytics/post/{newest.id}", newest.created_at)
    )
    assert status == 200


def test_after_retention_answers_within_what_it_kept_are_unchanged(
    month: tuple[Recorded, dict[str, str], list[str]],
    engine: Engine,
    client: TestClient,
    frozen: Clock,
) -> None:
    recorded, headers, _ = month
    end = START + timedelta(days=DAYS)
    frozen.at = end
    # The last week is untouched by a 7-day retention; answers as of then, over a day,
    # read only kept readings.
    kept = [
        (path, asked, status, body)
        for path, asked, status, body in recorded
        if asked >= end - timedelta(days=5) and "days=1&" in path and "cursor=" not in path
    ]
    assert kept
    factory = make_sessionmaker(engine)
    with factory() as db:
        workspace_id = db.scalars(select(Workspace.id).where(Workspace.name == "Replay")).one()
    outcome = apply(factory, workspace_id, 7, dry_run=False, now=end)
    assert outcome.counts["post snapshots"].removed > 0
    for path, asked, status, body in kept:
        assert _ask(client, headers, _with_as_of(path, asked)) == (status, body), path


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "as_of must be an ISO 8601 timestamp"),
        ("2026-03-02T08:00:00", "as_of must carry a timezone offset"),
        ("2999-01-01T00:00:00Z", "as_of is in the future"),
        ("0001-01-01T00:00:00Z", "as_of must be on or after 2000-01-01"),
    ],
)
def test_a_bad_as_of_is_a_400_with_a_message(client: TestClient, value: str, message: str) -> None:
    from tests.builders import build_tenant

    factory_session = client.app.state.sessionmaker()  # type: ignore[attr-defined]
    tenant = build_tenant(factory_session, "Bad input")
    factory_session.commit()
    for path in (
        "/v1/analytics",
        f"/v1/analytics/post/{tenant.post.id}",
        "/v1/analytics/accounts",
        f"/v1/analytics/accounts/{tenant.integration.id}",
    ):
        answer = client.get(path, params={"as_of": value}, headers=tenant.headers)
        assert answer.status_code == 400, (path, answer.text)
        assert message in answer.json()["error"]


def test_a_deleted_target_reads_as_published_before_and_deleted_after(
    client: TestClient, session: Session, frozen: Clock
) -> None:
    tenant = builders.build_tenant(session, "Deletions")
    target = tenant.targets[0]
    readings = session.scalars(
        select(Snapshot.captured_at)
        .where(Snapshot.post_target_id == target.id)
        .order_by(Snapshot.captured_at)
    ).all()
    gone_at = readings[-1] + timedelta(hours=2)
    target.status = "deleted"
    target.deleted_at = gone_at
    session.commit()
    frozen.at = gone_at + timedelta(days=1)
    path = f"/v1/analytics/post/{tenant.post.id}"

    before = client.get(_with_as_of(path, gone_at - timedelta(seconds=1)), headers=tenant.headers)
    (then,) = before.json()["data"]["targets"]
    assert then["status"] == "published"
    assert then["refresh"]["outcome"] == "ok"
    assert then["refresh"]["last_success_at"] == format_time(readings[-1])
    assert then["refresh"]["next_refresh_at"] is not None

    after = client.get(_with_as_of(path, gone_at), headers=tenant.headers)
    (now,) = after.json()["data"]["targets"]
    assert now["status"] == "deleted"
    assert now["refresh"] == {
        "outcome": "not_found",
        "next_refresh_at": None,
        "last_success_at": format_time(readings[-1]),
    }
    # The counters are the last reading's either way, and its delta over the one before.
    assert now["likes"] == then["likes"] == 12
    assert now["delta"] == then["delta"]


def test_before_its_first_reading_a_target_is_pending_since_the_post_was_registered(
    client: TestClient, session: Session, frozen: Clock
) -> None:
    tenant = builders.build_tenant(session, "Pending")
    first = session.scalar(
        select(Snapshot.captured_at)
        .where(Snapshot.post_target_id == tenant.targets[0].id)
        .order_by(Snapshot.captured_at)
    )
    assert first is not None
    tenant.post.created_at = first - timedelta(hours=3)
    session.commit()
    frozen.at = first + timedelta(days=1)
    answer = client.get(
        _with_as_of(f"/v1/analytics/post/{tenant.post.id}", first - timedelta(minutes=1)),
        headers=tenant.headers,
    )
    assert answer.status_code == 200
    body = answer.json()["data"]
    (target,) = body["targets"]
    assert target["refresh"] == {
        "outcome": "pending",
        "next_refresh_at": format_time(tenant.post.created_at),
        "last_success_at": None,
    }
    assert target["captured_at"] is None
    assert target["likes"] is None
    assert target["snapshots"] == []
    assert set(body["totals"].values()) == {None}  # nothing was known yet


def test_an_integration_filter_before_the_integration_existed_is_a_404(
    client: TestClient, session: Session, frozen: Clock
) -> None:
    tenant = builders.build_tenant(session, "Filter")
    session.commit()
    created = tenant.integration.created_at
    frozen.at = created + timedelta(days=1)
    path = f"/v1/analytics?integration_id={tenant.integration.id}"
    early = client.get(_with_as_of(path, created - timedelta(seconds=1)), headers=tenant.headers)
    assert early.status_code == 404
    assert early.json()["error"] == "integration not found"
    assert client.get(_with_as_of(path, created), headers=tenant.headers).status_code == 200


def test_a_cursor_past_as_of_still_stops_at_as_of(
    client: TestClient, session: Session, frozen: Clock
) -> None:
    """A cursor from a later answer, with an earlier ``as_of``: nothing after as_of."""
    frozen.at = START
    tenant = builders.build_tenant(session, "Cursor")  # readings at -60 and -30 minutes
    session.commit()
    cursor = encode_cursor(START + timedelta(hours=1), uuid.UUID(int=0))
    as_of = START - timedelta(minutes=45)
    for path in (
        f"/v1/analytics?days=1&cursor={cursor}",
        f"/v1/analytics/accounts?days=1&cursor={cursor}",
    ):
        answer = client.get(_with_as_of(path, as_of), headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        times = [row["captured_at"] for row in answer.json()["data"]]
        assert times == [format_time(START - timedelta(hours=1))], path
