"""Every setting is checked at start, in every command: one line naming it, exit code 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openpost.cli import app
from openpost.config import Settings

SOME_ID = "0190e0c0-0000-7000-8000-000000000000"

# (variable, value, words the one line must carry besides the variable's name)
BAD_SETTINGS = [
    ("OPENPOST_API_RATE_LIMIT", "lots", ["600/minute", "'lots'"]),
    ("OPENPOST_API_RATE_LIMIT", "0/minute", ["at least 1"]),
    ("OPENPOST_API_RATE_LIMIT", "5/fortnight", ["<count>/<period>"]),
    ("OPENPOST_QUEUE_URL", "sqlite:////tmp/queue.db", ["redis://", "empty"]),
    ("OPENPOST_RATE_LIMIT_STORAGE_URL", "memcached://cache:11211", ["redis://", "memory://"]),
    ("OPENPOST_DATABASE_URL", "mysql://db/openpost", ["not supported", "postgresql+psycopg://"]),
    ("OPENPOST_DATABASE_URL", "/var/lib/openpost.db", ["not a database URL", "sqlite:///"]),
    ("OPENPOST_DATABASE_URL", "postgresql+psycopg2://db/x", ["not supported"]),
    ("OPENPOST_LOG_LEVEL", "chatty", ["DEBUG", "INFO"]),
    ("OPENPOST_X_API_BASE_URL", "api.x.com", ["https://"]),
    ("OPENPOST_BLUESKY_API_BASE_URL", "ftp://appview", ["https://"]),
    ("OPENPOST_MASTODON_API_BASE_URL", "mastodon.social", ["https://"]),
    ("OPENPOST_PUBLIC_BASE_URL", "analytics.example.com", ["https://"]),
    ("OPENPOST_X_OAUTH_AUTHORIZE_URL", "https://", ["https://"]),
    ("OPENPOST_WORKER_THREADS", "0", ["greater than or equal to 1"]),
    ("OPENPOST_WORKER_THREADS", "many", ["integer"]),
    ("OPENPOST_IDEMPOTENCY_TTL_HOURS", "1000", ["less than or equal to 720"]),
    ("OPENPOST_SCHEDULER_INTERVAL_SECONDS", "0.01", ["greater than or equal to 0.2"]),
    ("OPENPOST_MAX_BODY_BYTES", "10", ["1024"]),
    ("OPENPOST_BLUESKY_BATCH_SIZE", "26", ["25"]),
    ("OPENPOST_MASTODON_ALLOW_PRIVATE_ADDRESSES", "perhaps", ["boolean"]),
    ("OPENPOST_ENV", "staging", ["production"]),
    ("OPENPOST_RETRY_BASE_SECONDS", "99999", ["OPENPOST_RETRY_MAX_SECONDS"]),
    ("OPENPOST_TIER_FRESH_HOURS", "200", ["OPENPOST_TIER_RECENT_DAYS"]),
]

COMMANDS = [
    ["serve"],
    ["serve", "--no-worker"],
    ["worker"],
    ["demo"],
    ["db", "upgrade"],
    ["refresh", "--once", "--dry-run"],
    ["workspace", "list"],
    ["workspace", "create", "--name", "x"],
    ["key", "list", "--workspace", SOME_ID],
    ["user", "list", "--workspace", SOME_ID],
    ["export", "--workspace", SOME_ID],
]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port in use: were a bad setting let through, `serve` would stop there, not hang."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def base_env(tmp_path: Path, busy_port: int) -> dict[str, str]:
    # An empty database: were a bad setting let through, the worker and the admin commands
    # would stop on "run `openpost db upgrade`" (exit 1), never run on.
    return {
        "OPENPOST_ENV": "test",
        "OPENPOST_DATA_DIR": str(tmp_path),
        "OPENPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "OPENPOST_PORT": str(busy_port),
    }


# The two of issue 11 and one of each kind go through every command; the rest through two.
EVERY_COMMAND = {
    ("OPENPOST_API_RATE_LIMIT", "lots"),
    ("OPENPOST_QUEUE_URL", "sqlite:////tmp/queue.db"),
    ("OPENPOST_DATABASE_URL", "mysql://db/openpost"),
    ("OPENPOST_WORKER_THREADS", "0"),
    ("OPENPOST_X_API_BASE_URL", "api.x.com"),
}


@pytest.mark.parametrize(("variable", "value", "words"), BAD_SETTINGS)
def test_a_bad_setting_stops_every_command_with_one_line(
    base_env: dict[str, str], variable: str, value: str, words: list[str]
) -> None:
    runner = CliRunner()
    commands = (
        COMMANDS
        if (variable, value) in EVERY_COMMAND
        else [["serve", "--no-worker"], ["workspace", "list"]]
    )
    for command in commands:
        result = runner.invoke(app, command, env={**base_env, variable: value})
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (command, lines)
        assert lines[0].startswith("error: ")
        assert variable in lines[0], (command, lines[0])
        for word in words:
            assert word in lines[0], (command, lines[0])
        assert "Traceback" not in result.output
        assert result.stdout == ""


def test_each_bad_setting_has_its_own_line(base_env: dict[str, str]) -> None:
    env = {**base_env, "OPENPOST_API_RATE_LIMIT": "lots", "OPENPOST_QUEUE_URL": "sqlite://"}
    result = CliRunner().invoke(app, ["workspace", "list"], env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "OPENPOST_QUEUE_URL",
        "OPENPOST_API_RATE_LIMIT",
    ]


def test_secret_values_are_never_echoed(base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "OPENPOST_QUEUE_URL": "sqlite://:hunter2-queue@host/q",
        "OPENPOST_DATABASE_URL": "mysql://root:hunter2-db@db/x",
        "OPENPOST_SECRET_KEY": "hunter2",
    }
    result = CliRunner().invoke(app, ["workspace", "list"], env=env)
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "OPENPOST_QUEUE_URL" in result.stderr
    assert "OPENPOST_DATABASE_URL" in result.stderr


def test_a_file_as_data_dir_is_refused(base_env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "not-a-dir"
    file.write_text("")
    result = CliRunner().invoke(
        app, ["db", "upgrade"], env={**base_env, "OPENPOST_DATA_DIR": str(file)}
    )
    assert result.exit_code == 2
    assert "OPENPOST_DATA_DIR: is a file" in result.stderr


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("database_url", " postgresql://u@db/x ", "postgresql://u@db/x"),
        ("database_url", "sqlite://", "sqlite://"),
        ("database_url", "sqlite:///:memory:", "sqlite:///:memory:"),
        ("queue_url", "rediss://cache:6380/1", "rediss://cache:6380/1"),
        ("queue_url", "unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("rate_limit_storage_url", "memory://", "memory://"),
        ("rate_limit_storage_url", "redis://cache:6379/2", "redis://cache:6379/2"),
        ("api_rate_limit", "10 per second", "10 per second"),
        ("log_level", "warning", "WARNING"),
        ("x_api_base_url", "http://127.0.0.1:8081/", "http://127.0.0.1:8081/"),
        ("mastodon_api_base_url", "", ""),
        ("public_base_url", "https://analytics.example.com/", "https://analytics.example.com"),
    ],
)
def test_the_accepted_forms_are_accepted(field: str, value: str, stored: str) -> None:
    settings = Settings(env="test", **{field: value})  # type: ignore[arg-type]
    assert getattr(settings, field) == stored
