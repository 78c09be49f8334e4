"""``openpost retention apply|runs``: what a person at the terminal sees, and what it records."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.core.ids import new_id
from tests import builders

runner = CliRunner()


def _count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Snapshot)) or 0


def _arrange(session: Session) -> str:
    """One post read every 30 minutes for 12 days: 10 whole days older than 2 days."""
    workspace = builders.make_workspace(session, name="Acme")
    integration = builders.make_integration(session, workspace)
    start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=12)
    _, (target,) = builders.make_post(session, workspace, [integration], published_at=start)
    for step in range(12 * 48):
        builders.add_snapshot(session, target, start + step * timedelta(minutes=30), likes=step)
    session.commit()
    return str(workspace.id)


def test_dry_run_then_apply_then_runs(env: dict[str, str], session: Session) -> None:
    from openpost.cli import app

    workspace_id = _arrange(session)
    total = _count(session)

    dry = runner.invoke(app, ["retention", "apply", "--older-than", "2", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"Acme ({workspace_id}), readings before" in dry.stdout
    assert "post snapshots: would remove 460 of 480, 20 kept" in dry.stdout  # 10 days x 46
    assert "dry run: nothing was removed" in dry.stdout
    assert _count(session) == total

    done = runner.invoke(
        app,
        ["retention", "apply", "--older-than", "2", "--workspace", workspace_id, "--json"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    (payload,) = json.loads(done.stdout)["data"]
    assert payload["post_snapshots"] == {"examined": 480, "removed": 460}
    assert payload["dry_run"] is False
    assert _count(session) == total - 460

    runs = runner.invoke(app, ["retention", "runs", "--json"], env=env)
    assert runs.exit_code == 0, runs.output
    listed = json.loads(runs.stdout)["data"]
    assert [(r["dry_run"], r["snapshots_removed"], r["status"]) for r in listed] == [
        (False, 460, "done"),
        (True, 460, "done"),
    ]
    assert listed[0]["id"] == payload["run_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "0"], "Invalid value for '--older-than'"),
        (["--older-than", "3", "--workspace", "nope"], "--workspace must be a UUID"),
        (["--older-than", "3", "--workspace", str(new_id())], "no workspace"),
    ],
)
def test_bad_input_is_one_line_and_removes_nothing(
    env: dict[str, str], session: Session, args: list[str], message: str
) -> None:
    from openpost.cli import app

    _arrange(session)
    total = _count(session)
    result = runner.invoke(app, ["retention", "apply", *args], env=env)
    assert result.exit_code != 0
    assert message in result.output
    assert _count(session) == total
