"""Answering while the database cannot: 503 ``{"error": …}`` with ``Retry-After``.

A database that is restarting, unreachable, out of disk space (SQLite's ``SQLITE_FULL``)
or locked past the busy timeout is an outage of a part, not a bug in the request: the
client is told to come back, and the request's transaction was rolled back whole. The
pool replaces connections that died with the server (``core.db``), so the service
recovers by itself when the database answers again.

What counts: SQLAlchemy's ``OperationalError`` (the DB-API's errors about the database's
operation rather than the statement: connection refused or lost, server shutting down,
disk full, database locked), ``InterfaceError`` (a connection already closed), any DB-API
error that invalidated its connection, and the pool's own ``TimeoutError`` (no connection
free in time). Integrity or programming errors stay 500s: those are bugs.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc

log = logging.getLogger("openpost.db")

RETRY_AFTER_SECONDS = 5
MESSAGE = "the database is unavailable; try again shortly"


# The exception classes the application's handler is registered for.
HANDLED: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError)


def is_database_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(error, sa_exc.DBAPIError) and bool(error.connection_invalidated)


def describe(error: BaseException) -> str:
    """The DB-API error's first line, without the statement or its parameters (which may
    carry key hashes or tokens)."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0] if text else ''}"[:300]


def note(error: BaseException, where: str) -> None:
    log.warning("database unavailable", extra={"where": where, "error": describe(error)})
