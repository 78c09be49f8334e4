"""``openpost export``: the API's CSV, byte for byte, to stdout or a file; clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.cli import app
from openpost.core import clock
from tests import builders
from tests.builders import World

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[None]:
    clock.set_clock(lambda: NOW)
    yield
    clock.set_clock(None)


@dataclass
class Data:
    workspace_id: str
    integration_id: str
    post_id: str
    headers: dict[str, str]


@pytest.fixture
def data(session: Session, frozen: None) -> Data:
    workspace = builders.make_workspace(session)
    key = builders.make_key(session, workspace)
    x = builders.make_integration(session, workspace, username="@openpost")
    sky = builders.make_integration(session, workspace, platform="bluesky", username="ok, fine")
    post, targets = builders.make_post(
        session, workspace, [x, sky], content='=cmd|"/c calc"!A1\r\nsecond line'
    )
    for hours, target in ((3, targets[0]), (2, targets[1]), (1, targets[0])):
        builders.add_snapshot(
            session,
            target,
            NOW - timedelta(hours=hours),
            impressions=None if target is targets[1] else 10 * hours,
            likes=0,
            platform_data={"zeta": hours, "alpha": "ünïcode"},
        )
    session.commit()
    return Data(str(workspace.id), str(x.id), str(post.id), {"Authorization": f"Bearer {key}"})


def run(database_url: str, *args: str, **env: str) -> Result:
    environment = {"OPENPOST_DATABASE_URL": database_url, "OPENPOST_ENV": "test", **env}
    return CliRunner().invoke(app, ["export", *args], env=environment)


@pytest.mark.parametrize(
    ("cli", "api"),
    [
        ([], {}),
        (["--view", "latest"], {"view": "latest"}),
        (["--days", "1", "--integration", "{integration}"],
         {"days": 1, "integration_id": "{integration}"}),
        (["--post", "{post}", "--view", "latest"], {"post_id": "{post}", "view": "latest"}),
        (["--since", "2026-04-16T09:30:00+02:00", "--until", "2026-04-16T09:30:00Z"],
         {"since": "2026-04-16T09:30:00+02:00", "until": "2026-04-16T09:30:00Z"}),
        (["--as-of", "2026-04-16T08:30:00Z"], {"as_of": "2026-04-16T08:30:00Z"}),
        (["--as-of", "2026-04-16T08:30:00Z", "--view", "latest"],
         {"as_of": "2026-04-16T08:30:00Z", "view": "latest"}),
    ],
)  # fmt: skip
def test_stdout_is_the_api_body_byte_for_byte(
    database_url: str,
    client: TestClient,
    data: Data,
    cli: list[str],
    api: dict[str, object],
) -> None:
    ids = {"integration": data.integration_id, "post": data.post_id}
    args = [arg.format(**ids) for arg in cli]
    params = {k: v.format(**ids) if isinstance(v, str) else v for k, v in api.items()}
    response = client.get("/v1/analytics/export", params=params, headers=data.headers)
    assert response.status_code == 200, response.text
    assert response.content.count(b"\r\n") >= 2  # a header and at least one record

    result = run(database_url, "--workspace", data.workspace_id, *args)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == response.content
    assert result.stderr == ""


def test_output_file_gets_the_same_bytes_quietly_when_not_a_terminal(
    database_url: str, client: TestClient, data: Data, tmp_path: Path
) -> None:
    target = tmp_path / "export.csv"
    result = run(database_url, "--workspace", data.workspace_id, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b""
    assert result.stderr == ""
    api = client.get("/v1/analytics/export", headers=data.headers)
    assert target.read_bytes() == api.content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_progress_goes_to_a_terminal_stderr(database_url: str, data: Data, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    result = run(database_url, "--workspace", data.workspace_id, "-o", str(target), FORCE_COLOR="1")
    assert result.exit_code == 0, result.output
    assert "exporting 3 rows" in result.stderr
    assert f"wrote 3 rows to {target}\n" in result.stderr
    assert target.read_bytes().count(b"\r\n") == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "nope"], "error: workspace must be a UUID"),
        (["--workspace", "00000000-0000-0000-0000-000000000000"], "error: workspace not found"),
        (["--days", "abc"], "error: days must be an integer between 1 and 365"),
        (["--days", "400"], "error: days must be between 1 and 365"),
        (["--view", "everything"], "error: view must be 'snapshots', 'latest' or 'accounts'"),
        (["--until", "2026-04-16T00:00:00Z"], "error: until needs since"),
        (["--since", "2026-04-16"], "error: since must carry a timezone offset"),
        (["--since", "2026-04-16T00:00:00Z", "--days", "3"],
         "error: days cannot be combined with since/until"),
        (["--integration", "123"], "error: integration_id must be a UUID"),
        (["--as-of", "2999-01-01T00:00:00Z"], "error: as_of is in the future"),
        (["--post", "00000000-0000-0000-0000-000000000000"], "error: post not found"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(
    database_url: str, data: Data, args: list[str], message: str
) -> None:
    if "--workspace" not in args:
        args = ["--workspace", data.workspace_id, *args]
    result = run(database_url, *args)
    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_another_workspaces_integration_is_not_found(database_url: str, world: World) -> None:
    result = run(
        database_url,
        "--workspace",
        str(world.a.workspace.id),
        "--integration",
        str(world.b.integration.id),
    )
    assert result.exit_code == 1
    assert result.stderr == "error: integration not found\n"


def test_unwritable_output_is_a_clear_error(database_url: str, data: Data, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "export.csv"
    result = run(database_url, "--workspace", data.workspace_id, "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot write {target}")
    assert not target.exists()
