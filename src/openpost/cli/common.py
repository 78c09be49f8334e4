"""Helpers shared by CLI commands: settings, a unit of work, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.errors import AppError


def load_settings() -> Settings:
    """Settings from the environment; a bad setting is a clear message, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        ]
        fail("invalid settings:\n" + "\n".join(lines))


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def unit_of_work(settings: Settings | None = None) -> Iterator[Session]:
    """One committed transaction; ``AppError`` becomes a one-line error and exit code 1."""
    settings = settings or load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except AppError as exc:
        fail(exc.message)
    finally:
        engine.dispose()


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    """Print one JSON object (``--json``) or a human line."""
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        typer.echo(text)
