"""Test harness: one migrated database per test session, emptied after every test.

The engine is SQLite by default. Set ``OPENPOST_TEST_DATABASE_URL`` to a PostgreSQL
server URL (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) to run the same
suite on PostgreSQL: a fresh database is created per session (and per xdist worker).
With ``CI=true`` an unreachable PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.db import Base, make_engine, make_sessionmaker
from openpost.core.migrate import upgrade
from openpost.retention.models import MaintenancePermit
from tests import builders

PG_URL = os.environ.get("OPENPOST_TEST_DATABASE_URL", "")


def _loopback_only(address: object) -> None:
    host = address[0] if isinstance(address, tuple) else str(address)
    if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and "/" not in host:
        raise RuntimeError(f"tests may only open sockets to loopback, not {host!r}")


@pytest.fixture(autouse=True, scope="session")
def _no_outside_network() -> Iterator[None]:
    """Rule of the house: tests talk to loopback only."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _loopback_only(address)
        return original(self, address)  # type: ignore[arg-type]

    socket.socket.connect = guarded  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


def _create_pg_database(server_url: str, worker: str) -> str:
    url = make_url(server_url)
    name = f"openpost_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    if PG_URL:
        url = _create_pg_database(PG_URL, worker_id)
        yield url
        _drop_pg_database(PG_URL, url)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "openpost.db"
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        # Past the readings' delete guard (migration 0009), as retention does; the permit
        # goes with the rest.
        conn.execute(
            MaintenancePermit.__table__.insert().values(
                id=uuid.uuid4(), reason="test cleanup", created_at=datetime.now(UTC)
            )
        )
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    yield migrated_engine
    _empty_all_tables(migrated_engine)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-0123456789",
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for arranging data; builders flush, the test commits when it needs to."""
    factory = make_sessionmaker(engine)
    with factory() as db:
        yield db


@pytest.fixture
def world(session: Session) -> builders.World:
    """Two workspaces with a key, integrations, a post and snapshots each."""
    return builders.build_world(session)
