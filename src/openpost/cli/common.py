"""Helpers shared by CLI commands: settings, the database, a unit of work, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from openpost.config import Settings, describe_errors
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.errors import AppError
from openpost.core.migrate import UpgradeResult, schema_state, upgrade

SETTINGS_EXIT_CODE = 2  # a bad OPENPOST_* value: the process never started


def load_settings() -> Settings:
    """Settings from the environment; each bad setting is one line on stderr, exit code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        for line in describe_errors(exc):
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A line for the person at the terminal, on stderr (stdout may be JSON or CSV)."""
    typer.echo(f"openpost: {message}", err=True)


def shown_url(url: str) -> str:
    """A database or Redis URL fit to print: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def database_error(exc: OperationalError | InterfaceError | ProgrammingError, url: str) -> str:
    """One line for a database that cannot be used; no SQL, no traceback."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return (
            f"the database at {shown_url(url)} has no tables yet ({reason}): "
            "run `openpost db upgrade`"
        )
    return f"cannot use the database at {shown_url(url)} (OPENPOST_DATABASE_URL): {reason}"


def open_engine(settings: Settings, *, migrate: bool) -> Engine:
    """An engine on a database whose schema is current.

    ``migrate``: bring the schema up to date, saying on stderr what changed. Otherwise the
    command stops with a message when ``openpost db upgrade`` is needed: only ``serve``,
    ``demo``, ``refresh --once`` and ``db upgrade`` change a schema.
    """
    url = settings.effective_database_url
    try:
        engine = make_engine(url)
    except OSError as exc:
        fail(f"cannot open the database at {shown_url(url)}: {exc.strerror or exc}")
    try:
        if migrate:
            report_upgrade(upgrade(engine))
            return engine
        state = schema_state(engine)
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        fail(database_error(exc, url))
    if not state.up_to_date:
        engine.dispose()
        if not state.known:
            fail(state.describe())
        fail(
            f"{state.describe()} ({shown_url(url)}): run `openpost db upgrade` first"
            " (`openpost serve` also does it as it starts)"
        )
    return engine


def report_upgrade(result: UpgradeResult) -> None:
    if result.changed:
        note(result.describe())


@contextmanager
def unit_of_work(settings: Settings | None = None) -> Iterator[Session]:
    """One committed transaction; ``AppError`` becomes a one-line error and exit code 1."""
    settings = settings or load_settings()
    engine = open_engine(settings, migrate=False)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except AppError as exc:
        fail(exc.message)
    except (OperationalError, InterfaceError) as exc:
        fail(database_error(exc, settings.effective_database_url))
    finally:
        engine.dispose()


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    """Print one JSON object (``--json``) or a human line."""
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        typer.echo(text)


def emit_rows(as_json: bool, rows: list[dict[str, Any]], columns: list[str], noun: str) -> None:
    """Print ``{"data": [...]}`` (``--json``) or an aligned table (``-`` for empty values)."""
    if as_json:
        sys.stdout.write(json.dumps({"data": rows}) + "\n")
        return
    if not rows:
        typer.echo(f"no {noun}")
        return
    cells = [columns, *[["-" if row[c] is None else str(row[c]) for c in columns] for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def require_queue(huey_storage: object, queue_url: str) -> None:
    """Stop at start, in one line, when the Redis job queue cannot be reached.

    Later outages are huey's to retry; a process that could never reach its queue should
    not start and log a traceback a second.
    """
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    connection = getattr(huey_storage, "conn", None)
    if not isinstance(connection, Redis):
        return  # SQLite under the data dir: nothing to reach
    try:
        connection.ping()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        fail(f"cannot reach Redis at {shown_url(queue_url)} (OPENPOST_QUEUE_URL): {exc}")
