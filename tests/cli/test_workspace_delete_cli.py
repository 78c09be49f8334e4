"""``openpost workspace delete``: what a person at the terminal sees, and that --yes is needed."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.analytics.models import Snapshot
from openpost.workspaces.models import Workspace
from tests.builders import World

runner = CliRunner()


def _readings(session: Session, workspace_id: uuid.UUID) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(Snapshot).where(Snapshot.workspace_id == workspace_id)
        )
        or 0
    )


def test_without_yes_it_shows_what_would_go_and_removes_nothing(
    env: dict[str, str], session: Session, world: World
) -> None:
    from openpost.cli import app

    a = world.a.workspace.id
    result = runner.invoke(app, ["workspace", "delete", "--workspace", str(a)], env=env)
    assert result.exit_code == 1
    assert f"would remove workspace Tenant A ({a}):" in result.stdout
    assert "  snapshots: 2" in result.stdout
    assert "  api keys: 1" in result.stdout
    assert "nothing was removed: pass --yes" in result.stderr
    assert _readings(session, a) == 2
    assert session.get(Workspace, a) is not None


def test_with_yes_it_removes_the_workspace(
    env: dict[str, str], session: Session, world: World
) -> None:
    from openpost.cli import app

    a, b = world.a.workspace.id, world.b.workspace.id
    result = runner.invoke(
        app, ["workspace", "delete", "--workspace", str(a), "--yes", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["workspace_id"] == str(a)
    assert payload["name"] == "Tenant A"
    assert payload["removed"]["snapshots"] == 2
    assert payload["removed"]["account_snapshots"] == 1
    assert payload["removed"]["post_targets"] == 1
    assert _readings(session, a) == 0
    assert _readings(session, b) == 2
    assert session.get(Workspace, a) is None

    listed = runner.invoke(app, ["workspace", "list", "--json"], env=env)
    assert [w["id"] for w in json.loads(listed.stdout)["data"]] == [str(b)]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("not-a-uuid", "--workspace"),
        (str(uuid.UUID(int=7)), "no workspace 00000000-0000-0000-0000-000000000007"),
    ],
)
def test_a_bad_or_unknown_id_is_one_line_and_exit_1(
    env: dict[str, str], world: World, given: str, message: str
) -> None:
    from openpost.cli import app

    for extra in ([], ["--yes"]):
        result = runner.invoke(app, ["workspace", "delete", "--workspace", given, *extra], env=env)
        assert result.exit_code == 1
        assert message in result.stderr
        assert "Traceback" not in result.output
