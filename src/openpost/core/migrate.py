"""Run Alembic programmatically: ``openpost db upgrade``, the commands and the tests use this."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# Concurrent upgrades on PostgreSQL (two `serve --no-worker` starting at once) queue on
# this advisory lock; the second then finds the schema current and changes nothing.
_PG_MIGRATION_LOCK = 0x6F70_6D69  # "opmi"


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against this version's migrations."""

    current: str | None  # None: no schema at all
    head: str
    known: bool  # False: the database is at a revision this version does not have

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.current is None:
            return "the database has no tables yet"
        if not self.known:
            return (
                f"the database is at revision {self.current}, which this version of "
                f"openpost does not know (newest here: {self.head}); upgrade openpost"
            )
        if self.up_to_date:
            return f"the database is up to date (revision {self.head})"
        return f"the database is at revision {self.current}; this version needs {self.head}"


@dataclass(frozen=True, slots=True)
class UpgradeResult:
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        if self.before is None:
            return f"created the database schema (revision {self.after})"
        if self.changed:
            return f"migrated the database from revision {self.before} to {self.after}"
        return f"the database is up to date (revision {self.after})"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_state(engine: Engine) -> SchemaState:
    """Read the database's revision (connects; raises SQLAlchemy's error if it cannot)."""
    scripts = _scripts()
    head = scripts.get_current_head()
    assert head is not None, "no migrations found"
    with engine.connect() as connection:
        current = _current(connection)
    known = current is None or current in {script.revision for script in scripts.walk_revisions()}
    return SchemaState(current=current, head=head, known=known)


def upgrade(engine: Engine, revision: str = "head") -> UpgradeResult:
    """Bring the schema at ``engine`` up to ``revision``; say what changed."""
    config = alembic_config(engine)
    # Alembic announces each step at INFO; callers say what happened in one line instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": _PG_MIGRATION_LOCK})
        before = _current(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = _current(connection)
    assert after is not None
    return UpgradeResult(before=before, after=after)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
