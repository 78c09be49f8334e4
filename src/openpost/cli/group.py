"""The top ``openpost`` group: help that reads well, and expected failures as one line.

Every command and group hangs under this one, so what is done here holds for commands
added later in their own modules too.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

# Typer 0.29 carries its own copy of click; its commands and contexts are these classes.
from typer._click import Command, Context
from typer.core import TyperArgument, TyperGroup, TyperOption

# What an option's value is, in the help's type column, when the option names none itself.
VALUE_LABELS = {"str": "TEXT", "int": "N", "float": "NUMBER", "Path": "PATH"}


class OpenPostGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        label_options(self)

    def invoke(self, ctx: Context) -> Any:
        from openpost.cli.common import database_error, fail

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            if isinstance(exc, ProgrammingError) and "does not exist" not in str(exc.orig):
                raise  # a bug, not a condition of the database: keep its traceback
            fail(database_error(exc, _database_url()))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            fail(f"cannot reach Redis (OPENPOST_QUEUE_URL, OPENPOST_RATE_LIMIT_STORAGE_URL): {exc}")


def _database_url() -> str:
    from openpost.config import Settings

    try:
        return Settings().effective_database_url
    except ValueError:
        return "OPENPOST_DATABASE_URL"


class _UntypedArgument(TyperArgument):
    """An argument whose help shows its name and text only (its name says what it is)."""

    def display_type_rich(self, ctx: Context) -> str | None:  # noqa: ARG002 - the override's signature
        return None


def label_options(command: Command) -> None:
    """Flags show no type; other options show a word (`TEXT`, `N`) instead of `<str>`."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            label_options(sub)
    help_option = command.get_help_option(Context(command))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if not isinstance(param, TyperOption | TyperArgument) or param.metavar is not None:
            continue
        if isinstance(param, TyperArgument):
            param.metavar = (param.name or "value").upper()
            param.__class__ = _UntypedArgument
        elif param.is_flag:
            param.metavar = ""
        else:
            param.metavar = VALUE_LABELS.get(param.bare_type(), "VALUE")
