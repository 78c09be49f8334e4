"""Where a benchmark's data lives: a SQLite file, or a dedicated PostgreSQL database.

Each (engine, size) pair gets its own database so 10^5 and 10^6 can be kept side by side:
``bench/.work/sqlite-100000.db`` or the PostgreSQL database ``openpost_bench_100000``.
A JSON file beside it records what the seeder wrote (``Meta``); without it the database
counts as absent and is seeded again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK_DIR = BENCH_DIR / ".work"
DEFAULT_PG_SERVER = os.environ.get(
    "OPENPOST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ("sqlite", "postgresql")


@dataclass
class Meta:
    """What the seeder wrote, read back by the benchmarks."""

    engine: str
    requested: int
    snapshots: int
    seeded_at: str
    seed_seconds: float
    rows: dict[str, int]
    workspace_id: str
    api_key: str
    integration_id: str
    post_id: str
    other_keys: list[str] = field(default_factory=list)
    schema_revision: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, raw: str) -> Meta:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class BenchDatabase:
    engine: str
    snapshots: int
    work_dir: Path
    pg_server_url: str
    name: str

    @property
    def path(self) -> Path:
        return self.work_dir / f"{self.name}.db"

    @property
    def meta_path(self) -> Path:
        return self.work_dir / f"{self.name}.json"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL the service is given."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.path}"
        return (
            make_url(self.pg_server_url)
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    @property
    def conninfo(self) -> str:
        """The same PostgreSQL database as a libpq URL, for psycopg and psql."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def meta(self) -> Meta | None:
        if not self.meta_path.exists():
            return None
        if self.engine == "sqlite" and not self.path.exists():
            return None
        if self.engine == "postgresql" and not self._pg_exists():
            return None
        return Meta.from_json(self.meta_path.read_text())

    def write_meta(self, meta: Meta) -> None:
        self.meta_path.write_text(meta.to_json())

    def create_empty(self) -> None:
        """Remove any previous copy and create an empty database."""
        self.drop()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.engine == "postgresql":
            self._pg_admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self.meta_path.unlink(missing_ok=True)
        if self.engine == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def connect(self) -> Any:
        """A plain DB-API connection (``sqlite3`` or ``psycopg``, no SQLAlchemy) in which
        each read runs in its own implicit transaction, as each API request does."""
        if self.engine == "sqlite":
            return sqlite3.connect(self.path)
        return psycopg.connect(self.conninfo, autocommit=True)

    def _pg_exists(self) -> bool:
        admin = create_engine(self.pg_server_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.name}
                ).scalar()
        finally:
            admin.dispose()
        return found is not None

    def _pg_admin(self, statement: str) -> None:
        admin = create_engine(self.pg_server_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()


def locate(
    engine: str,
    snapshots: int,
    *,
    work_dir: Path = DEFAULT_WORK_DIR,
    pg_server_url: str = DEFAULT_PG_SERVER,
    name: str | None = None,
    prefix: str | None = None,
) -> BenchDatabase:
    """The database for ``snapshots``: named ``name``, or ``prefix`` + the size (default
    prefixes ``sqlite-`` and ``openpost_bench_``)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if prefix is None:
        prefix = "sqlite-" if engine == "sqlite" else "openpost_bench_"
    return BenchDatabase(engine, snapshots, work_dir, pg_server_url, name or f"{prefix}{snapshots}")
