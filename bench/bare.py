"""The baseline: the service's own SQL, run directly through the database driver.

``capture`` calls a service function once on a SQLAlchemy session and records every
statement it sends to the driver, with the parameters exactly as bound (SQLAlchemy's
SQLite form: ``?`` placeholders, UUIDs as 32 hex digits; psycopg: ``%(name)s``). ``replay``
runs those statements on a plain ``sqlite3`` or ``psycopg`` connection and fetches every
row: what the API costs beyond that is its overhead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from openpost.core.db import make_engine, make_sessionmaker


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any


def capture(database_url: str, call: Callable[[Session], Any]) -> tuple[list[Statement], Any]:
    """Run ``call(session)`` once; return the statements it issued and what it returned."""
    engine = make_engine(database_url)
    statements: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        statements.append(Statement(sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with make_sessionmaker(engine)() as session:
            result = call(session)
            session.rollback()
    finally:
        engine.dispose()
    return statements, result


def replay(connection: Any, statements: list[Statement]) -> list[list[Any]]:
    """Run each statement on a DB-API connection and fetch all its rows."""
    results = []
    cursor = connection.cursor()
    try:
        for statement in statements:
            cursor.execute(statement.sql, statement.params)
            results.append(cursor.fetchall())
    finally:
        cursor.close()
    return results
