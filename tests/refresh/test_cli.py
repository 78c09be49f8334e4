"""``openpost refresh --once [--workspace] [--now] [--dry-run]`` against the fake X server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.analytics.models import Snapshot
from openpost.cli import app
from openpost.platforms.fakes import LiveServer
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeX, seed
from openpost.refresh.models import DiscoveryState, RefreshState
from tests import builders
from tests.refresh.conftest import NOW, Clock, x_integration

T = "2026-04-16T10:00:00Z"


@pytest.fixture
def env(database_url: str, tmp_path: Any, fake_x: FakeX) -> Iterator[dict[str, str]]:
    with LiveServer(fake_x.app) as server:
        yield {
            "OPENPOST_ENV": "test",
            "OPENPOST_DATABASE_URL": database_url,
            "OPENPOST_DATA_DIR": str(tmp_path),
            "OPENPOST_X_API_BASE_URL": server.url,
            "OPENPOST_X_BEARER_TOKEN": DEFAULT_APP_TOKEN,
            "OPENPOST_LOG_LEVEL": "WARNING",
        }


@pytest.fixture
def account(session: Session, fake_x: FakeX, now: Clock) -> FakeAccount:
    found = seed(fake_x, posts=60)
    x_integration(session, builders.make_workspace(session), found)
    session.commit()
    return found


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, ["refresh", *args], env=env)


def snapshot_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Snapshot)) or 0


def test_dry_run_calls_nothing_and_writes_nothing(
    session: Session, env: dict[str, str], fake_x: FakeX, account: FakeAccount
) -> None:
    result = run(env, "--once", "--dry-run", "--now", T, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["dry_run"] is True
    assert plan["discoveries"] == 1
    assert fake_x.requests == []
    assert snapshot_count(session) == 0
    assert session.scalar(select(func.count()).select_from(DiscoveryState)) == 0


def test_sweeps_discover_then_refresh_only_what_is_due(
    session: Session, env: dict[str, str], fake_x: FakeX, account: FakeAccount
) -> None:
    first = run(env, "--once", "--now", T, "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["discovered_posts"] == 50
    assert summary["snapshots_written"] == 50  # the discovery read's counters
    assert summary["requests"] == 0  # nothing else was due

    later = (NOW + timedelta(minutes=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = json.loads(run(env, "--once", "--dry-run", "--now", later, "--json").output)
    due = session.scalar(
        select(func.count())
        .select_from(RefreshState)
        .where(RefreshState.next_due_at <= NOW + timedelta(minutes=31))
    )
    assert due == 6  # the posts under 24 h old (fresh: every 30 min)
    # read today already (by discovery): X bills a post once per UTC day
    assert (plan["targets"], plan["requests"], plan["budget_spend"]) == (6, 1, {"twitter": 0})
    assert plan["estimated_cost_usd"] == 0.0
    tomorrow = (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = json.loads(run(env, "--once", "--dry-run", "--now", tomorrow, "--json").output)
    assert plan["budget_spend"] == {"twitter": plan["targets"]}
    assert plan["estimated_cost_usd"] == round(0.005 * plan["targets"], 4)

    second = json.loads(run(env, "--once", "--now", later, "--json").output)
    assert (second["targets"], second["requests"], second["snapshots_written"]) == (6, 1, 6)
    assert second["outcomes"] == {"ok": 6}
    assert snapshot_count(session) == 56


def test_human_summary(env: dict[str, str], account: FakeAccount) -> None:
    result = run(env, "--once", "--now", T)
    assert result.exit_code == 0, result.output
    assert "discovery: 1 integration(s), 50 new post(s)" in result.output
    assert "snapshots written: 50" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "use --once"),
        (("--once", "--workspace", "nope"), "--workspace must be a UUID"),
        (("--once", "--now", "yesterday"), "--now must be an ISO 8601 timestamp"),
    ],
)
def test_bad_arguments(env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = run(env, *args)
    assert result.exit_code == 1
    assert message in result.output


def test_workspace_filter(
    session: Session, env: dict[str, str], fake_x: FakeX, account: FakeAccount
) -> None:
    other = builders.make_workspace(session)
    session.commit()
    result = run(env, "--once", "--now", T, "--workspace", str(other.id), "--json")
    assert json.loads(result.output)["discoveries"] == 0
    assert fake_x.requests == []
