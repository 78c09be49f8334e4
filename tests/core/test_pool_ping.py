"""Pooled connections are tested before use only after sitting idle (``core.db``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from openpost.core import db


def _pooled_connection_killed(database_url: str) -> tuple[Engine, Any]:
    """An engine whose one pooled connection was closed underneath the pool after use."""
    engine = db.make_engine(database_url)
    raw = engine.raw_connection()
    dead = raw.dbapi_connection
    raw.close()  # back to the pool, marked as just used
    assert dead is not None
    dead.close()  # as a database restart or an idle timeout would
    return engine, dead


def test_idle_connection_that_died_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, dead = _pooled_connection_killed(database_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle for long
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
            assert connection.connection.dbapi_connection is not dead
    finally:
        engine.dispose()


def test_recently_used_connection_is_not_pinged(database_url: str) -> None:
    """The trade-off: no round trip for a connection used moments ago, so one that died
    since fails its statement; the pool then replaces it and the next checkout works."""
    engine, dead = _pooled_connection_killed(database_url)
    try:
        with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
            assert connection.connection.dbapi_connection is not dead
    finally:
        engine.dispose()
