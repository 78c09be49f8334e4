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
import threading
import time

from sqlalchemy import exc as sa_exc

log = logging.getLogger("openpost.db")

RETRY_AFTER_SECONDS = 5
LOG_EVERY_SECONDS = 5.0
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


class _Throttle:
    """At most one log line per ``seconds``: an outage under traffic fails every request,
    and one line per request would bury everything else. Each line says how many it
    stands for."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._last: float | None = None
        self._quiet = 0

    def passes(self) -> int | None:
        """How many were held back since the last line, or ``None`` to hold this one."""
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self.seconds:
                self._quiet += 1
                return None
            held, self._last, self._quiet = self._quiet, now, 0
            return held


_THROTTLE = _Throttle(LOG_EVERY_SECONDS)


def note(error: BaseException, where: str) -> None:
    held = _THROTTLE.passes()
    if held is None:
        return
    log.warning(
        "database unavailable",
        extra={"where": where, "error": describe(error), "since_last_line": held},
    )
