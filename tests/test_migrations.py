"""The migrations build exactly the models' schema, and every step can be undone and redone."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from openpost.core.db import make_engine
from openpost.core.migrate import alembic_config, downgrade, upgrade
from openpost.models import Base

PG_SERVER = os.environ.get("OPENPOST_TEST_DATABASE_URL", "")


def differences(engine: Engine) -> list[object]:
    """Alembic's autogenerate comparison: what a new migration would have to do."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def has_snapshot_guard(engine: Engine) -> bool:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            query = "SELECT count(*) FROM pg_trigger WHERE tgname = 'snapshots_append_only'"
        else:
            query = (
                "SELECT count(*) FROM sqlite_master "
                "WHERE type = 'trigger' AND name = 'snapshots_append_only'"
            )
        return bool(conn.execute(text(query)).scalar_one())


@pytest.fixture
def blank_engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the engine under test, separate from the session's one."""
    if not PG_SERVER:
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield engine
        engine.dispose()
        return
    server = make_url(PG_SERVER)
    name = f"openpost_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrated_database_matches_the_models(migrated_engine: Engine) -> None:
    diff = differences(migrated_engine)
    assert diff == [], (
        "the migrations and the models disagree; write a migration for these "
        f"differences (or import the model in openpost/models.py): {diff}"
    )


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite:///:memory:")))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_every_table_of_the_models_is_created(migrated_engine: Engine) -> None:
    created = set(inspect(migrated_engine).get_table_names())
    assert set(Base.metadata.tables) <= created
    assert created - set(Base.metadata.tables) == {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(blank_engine: Engine) -> None:
    upgrade(blank_engine)
    assert differences(blank_engine) == []
    assert has_snapshot_guard(blank_engine)

    downgrade(blank_engine, "base")
    assert set(inspect(blank_engine).get_table_names()) <= {"alembic_version"}
    assert not has_snapshot_guard(blank_engine)
    if blank_engine.dialect.name == "postgresql":
        with blank_engine.connect() as conn:
            leftover = conn.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'snapshots_append_only'")
            ).scalar_one()
        assert leftover == 0

    upgrade(blank_engine)
    assert differences(blank_engine) == []
    assert has_snapshot_guard(blank_engine)


def test_each_step_down_and_up(blank_engine: Engine) -> None:
    """Every revision's downgrade undoes its upgrade, one step at a time."""
    script = ScriptDirectory.from_config(alembic_config(blank_engine))
    revisions = [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]
    assert revisions, "no migrations found"
    tables_at: dict[str, set[str]] = {}
    for revision in revisions:
        upgrade(blank_engine, revision)
        tables_at[revision] = set(inspect(blank_engine).get_table_names())
    for index in range(len(revisions) - 1, 0, -1):
        downgrade(blank_engine, revisions[index - 1])
        after = set(inspect(blank_engine).get_table_names())
        assert after == tables_at[revisions[index - 1]], revisions[index]
        upgrade(blank_engine, revisions[index])
        assert set(inspect(blank_engine).get_table_names()) == tables_at[revisions[index]]
        downgrade(blank_engine, revisions[index - 1])
    upgrade(blank_engine)
    assert differences(blank_engine) == []
