"""``openpost workspace|key|user`` create and list, and the database's state at each command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openpost.cli import app
from openpost.core.db import make_engine
from openpost.core.migrate import schema_state
from openpost.workspaces.models import User
from openpost.workspaces.service import verify_password

runner = CliRunner()


def _run(env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_lists_show_what_was_created_and_never_a_key(
    env: dict[str, str], client: TestClient
) -> None:
    assert _run(env, "workspace", "list", "--json") == {"data": []}
    assert _run(env, "workspace", "list").strip() == "no workspaces"
    first = _run(env, "workspace", "create", "--name", "First", "--json")
    second = _run(env, "workspace", "create", "--name", "Second", "--mode", "test", "--json")
    listed = _run(env, "workspace", "list", "--json")["data"]
    assert [w["id"] for w in listed] == [first["id"], second["id"]]
    assert listed[1] == second
    table = _run(env, "workspace", "list").splitlines()
    assert table[0].split() == ["id", "name", "mode", "timezone", "created_at"]
    assert table[2].split()[:3] == [second["id"], "Second", "test"]

    used = _run(env, "key", "create", "--workspace", first["id"], "--name", "ci", "--json")
    revoked = _run(env, "key", "create", "--workspace", first["id"], "--name", "old", "--json")
    _run(env, "key", "create", "--workspace", second["id"], "--name", "other", "--json")
    auth = {"Authorization": f"Bearer {used['key']}"}
    assert client.get("/v1/posts", headers=auth).status_code == 200
    _run(env, "key", "revoke", revoked["id"])

    keys = _run(env, "key", "list", "--workspace", first["id"], "--json")["data"]
    assert [k["name"] for k in keys] == ["old", "ci"]  # newest first, this workspace only
    assert set(keys[0]) == {"id", "name", "last4", "created_at", "last_used_at", "revoked_at"}
    by_name = {k["name"]: k for k in keys}
    assert by_name["ci"]["last4"] == used["key"][-4:]
    assert by_name["ci"]["last_used_at"] is not None
    assert by_name["ci"]["revoked_at"] is None
    assert by_name["old"]["revoked_at"] is not None
    assert by_name["old"]["last_used_at"] is None
    text = _run(env, "key", "list", "--workspace", first["id"])
    for listing in (json.dumps(keys), text):
        assert used["key"] not in listing
        assert revoked["key"] not in listing
        assert used["key"][:-4] not in listing
    assert used["key"][-4:] in text


def test_user_create_for_an_existing_user_never_prints_a_password_that_does_not_work(
    env: dict[str, str], engine: Engine
) -> None:
    ws = _run(env, "workspace", "create", "--name", "W", "--json")["id"]
    other = _run(env, "workspace", "create", "--name", "V", "--json")["id"]
    created = _run(env, "user", "create", "--email", "Ann@Example.com", "--workspace", ws, "--json")
    assert created["created_user"] is True
    password = created["password"]

    def stored_hash() -> str:
        with Session(engine) as session:
            user = session.scalars(select(User).where(User.email == "ann@example.com")).one()
            return user.password_hash

    assert verify_password(stored_hash(), password)

    again = runner.invoke(
        app, ["user", "create", "--email", "ann@example.com", "--workspace", other], env=env
    )
    assert again.exit_code == 0, again.output
    assert "password:" not in again.stdout
    assert "already had a login and keeps its password" in again.stdout
    assert verify_password(stored_hash(), password)
    as_json = _run(
        env, "user", "create", "--email", "ann@example.com", "--workspace", other, "--json"
    )
    assert "password" not in as_json
    assert (as_json["created_user"], as_json["password_changed"]) == (False, False)

    changed = _run(
        env, "user", "create", "--email", "ann@example.com", "--workspace", other,
        "--password", "a-new-password", "--json",
    )  # fmt: skip
    assert changed["password_changed"] is True
    assert verify_password(stored_hash(), "a-new-password")
    assert not verify_password(stored_hash(), password)

    short = runner.invoke(
        app,
        ["user", "create", "--email", "ann@example.com", "--workspace", ws, "--password", "short"],
        env=env,
    )
    assert short.exit_code == 1
    assert short.stderr.strip() == "error: password must be at least 8 characters"
    assert verify_password(stored_hash(), "a-new-password")

    members = _run(env, "user", "list", "--workspace", other, "--json")["data"]
    assert [(m["email"], m["role"]) for m in members] == [("ann@example.com", "viewer")]
    assert set(members[0]) == {"user_id", "email", "role", "member_since"}
    assert "ann@example.com" in _run(env, "user", "list", "--workspace", ws)


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    return {
        "OPENPOST_ENV": "test",
        "OPENPOST_DATA_DIR": str(tmp_path),
        "OPENPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
    }


SOME_ID = "0190e0c0-0000-7000-8000-000000000000"


@pytest.mark.parametrize(
    "command",
    [
        ["workspace", "create", "--name", "x"],
        ["workspace", "list"],
        ["key", "create", "--workspace", SOME_ID, "--name", "x"],
        ["key", "list", "--workspace", SOME_ID],
        ["key", "revoke", SOME_ID],
        ["user", "create", "--email", "a@b.co", "--workspace", SOME_ID],
        ["user", "list", "--workspace", SOME_ID],
        ["export", "--workspace", SOME_ID],
        ["worker"],
    ],
)
def test_commands_on_a_database_without_tables_say_to_upgrade_it(
    empty_env: dict[str, str], command: list[str]
) -> None:
    result = runner.invoke(app, command, env=empty_env)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert result.stderr.startswith("error: the database has no tables yet (sqlite:///")
    assert "run `openpost db upgrade`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_says_what_it_did(empty_env: dict[str, str]) -> None:
    first = runner.invoke(app, ["db", "upgrade"], env=empty_env)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("created the database schema (revision ")
    second = runner.invoke(app, ["db", "upgrade"], env=empty_env)
    assert second.stdout.startswith("the database is up to date (revision ")
    engine = make_engine(empty_env["OPENPOST_DATABASE_URL"])
    assert schema_state(engine).up_to_date
    engine.dispose()
    assert runner.invoke(app, ["workspace", "list"], env=empty_env).exit_code == 0


def test_refresh_dry_run_on_a_new_database_prints_only_its_answer(
    empty_env: dict[str, str],
) -> None:
    result = runner.invoke(app, ["refresh", "--once", "--dry-run", "--json"], env=empty_env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dry_run"] is True
    assert result.stderr.strip().splitlines() == [
        f"openpost: created the database schema (revision {_head(empty_env)})"
    ]
    again = runner.invoke(app, ["refresh", "--once", "--dry-run"], env=empty_env)
    assert again.stdout.startswith("sweep at ")
    assert again.stderr == ""


def _head(env: dict[str, str]) -> str:
    engine = make_engine(env["OPENPOST_DATABASE_URL"])
    head = schema_state(engine).head
    engine.dispose()
    return head


@pytest.mark.parametrize(
    "command", [["workspace", "list"], ["db", "upgrade"], ["demo"], ["refresh", "--once"]]
)
def test_an_unreachable_database_is_one_line_with_its_password_hidden(
    empty_env: dict[str, str], command: list[str]
) -> None:
    url = "postgresql+psycopg://openpost:hunter2@127.0.0.1:9/openpost?connect_timeout=2"
    result = runner.invoke(app, command, env={**empty_env, "OPENPOST_DATABASE_URL": url})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: cannot use the database at postgresql+psycopg://openpost:***@")
    assert "OPENPOST_DATABASE_URL" in line
    assert "hunter2" not in result.output
