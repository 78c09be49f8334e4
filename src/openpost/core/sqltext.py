"""Output values formatted by the database, for read paths that only pass them on.

Building a ``uuid.UUID`` or a ``datetime`` per column, then turning it back into text, costs
more than the query on the analytics pages; the database writes the same text in C.

- ``uuid_text(col)``: a UUID as the cheapest text the engine has, which ``canonical_uuid``
  turns into what ``str(UUID)`` writes (``8-4-4-4-12``, lowercase): PostgreSQL writes that
  itself; SQLite stores 32 hex digits, and dashing them in SQL (five ``substr`` a UUID) cost
  more than slicing them in Python (about 4 ms against 1 ms on a 500-row page).
- ``time_text(col)``: a UTC column as ``YYYY-MM-DDTHH:MM:SSZ``, what ``timefmt.format_time``
  writes (truncated to the second, never rounded).
- ``json_text(col)``: a JSON column's stored text, unparsed. PostgreSQL's ``jsonb`` text is
  always valid JSON; SQLite keeps whatever text was written (a bare number even as a
  number: a ``JSON`` column has numeric affinity, hence the CAST there too), hence:
- ``raw_time(col)``: a time column as the driver gives it, unconverted: SQLite's stored text
  (``YYYY-MM-DD HH:MM:SS[.ffffff]``, naive UTC), psycopg's aware ``datetime``. For values
  read once per target and cached, where even ``time_text``'s formatting is wasted per row.
- ``json_is_valid(col)``: true when ``json_text`` is RFC 8259 JSON (always on PostgreSQL;
  SQLite's ``json_valid``, which refuses ``NaN`` and friends that Python's ``json`` writes).

Each is a SQL function element: it compiles per dialect and caches like any column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

Column = ColumnElement[Any] | QueryableAttribute[Any]


class _TextOut(FunctionElement[str]):
    type = String()
    inherit_cache = True


class _UuidText(_TextOut):
    name = "uuid_text"
    inherit_cache = True


class _TimeText(_TextOut):
    name = "time_text"
    inherit_cache = True


class _JsonText(_TextOut):
    name = "json_text"
    inherit_cache = True


class _JsonIsValid(FunctionElement[int]):
    type = Integer()  # 1/0 or True/False as the driver gives it: no per-row conversion
    name = "json_is_valid"
    inherit_cache = True


def uuid_text(column: Column) -> ColumnElement[str]:
    return _UuidText(column)


def time_text(column: Column) -> ColumnElement[str]:
    return _TimeText(column)


class _RawTime(FunctionElement[Any]):
    type = NullType()  # no result processing: whatever the driver returns
    name = "raw_time"
    inherit_cache = True


def raw_time(column: Column) -> ColumnElement[Any]:
    return _RawTime(column)


@compiles(_RawTime)
def _raw_time(element: _RawTime, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(element, compiler, **kw)


def json_text(column: Column) -> ColumnElement[str]:
    return _JsonText(column)


def json_is_valid(column: Column) -> ColumnElement[int]:
    return _JsonIsValid(column)


def _arg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_UuidText)
@compiles(_JsonText)
def _cast_text(element: _TextOut, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_arg(element, compiler, **kw)} AS TEXT)"


@compiles(_UuidText, "sqlite")
def _uuid_sqlite(element: _UuidText, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(element, compiler, **kw)  # stored as 32 lowercase hex digits


def canonical_uuid(text: str) -> str:
    """``uuid_text``'s value as ``str(UUID)`` writes it."""
    if len(text) == 36:
        return text
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@compiles(_TimeText)
def _time_postgresql(element: _TimeText, compiler: SQLCompiler, **kw: Any) -> str:
    column = _arg(element, compiler, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


@compiles(_TimeText, "sqlite")
def _time_sqlite(element: _TimeText, compiler: SQLCompiler, **kw: Any) -> str:
    column = _arg(element, compiler, **kw)  # stored as naive UTC: YYYY-MM-DD HH:MM:SS.ffffff
    return f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || 'Z'"


@compiles(_JsonIsValid)
def _valid_postgresql(element: _JsonIsValid, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_arg(element, compiler, **kw)} IS NOT NULL)"


@compiles(_JsonIsValid, "sqlite")
def _valid_sqlite(element: _JsonIsValid, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_valid({_arg(element, compiler, **kw)})"
