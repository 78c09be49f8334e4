"""``openpost backup``: what it refuses, and the pg_dump hint on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from openpost.cli import app
from openpost.core.db import make_engine
from openpost.core.migrate import upgrade


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"OPENPOST_ENV": "test", "OPENPOST_DATA_DIR": str(tmp_path / "data"), **extra}


def test_sqlite_backup_is_a_whole_checked_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'openpost.db'}")
    upgrade(engine)
    engine.dispose()
    target = tmp_path / "backup.db"
    done = CliRunner().invoke(app, ["backup", "--to", str(target)], env=_env(tmp_path))
    assert done.exit_code == 0, done.output
    assert "integrity ok" in done.stdout
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"snapshots", "integrations", "alembic_version"} <= tables
    finally:
        conn.close()

    again = CliRunner().invoke(app, ["backup", "--to", str(target)], env=_env(tmp_path))
    assert again.exit_code == 1
    assert "exists (use --force" in again.stderr
    forced = CliRunner().invoke(app, ["backup", "--to", str(target), "--force"], env=_env(tmp_path))
    assert forced.exit_code == 0, forced.output
    assert not (tmp_path / ".backup.db.partial").exists()


def test_no_database_yet_is_an_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["backup", "--to", str(tmp_path / "b.db")], env=_env(tmp_path))
    assert done.exit_code == 1
    assert "no database at" in done.stderr


def test_postgres_names_pg_dump_and_hides_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://openpost:s3cret@db.internal:5432/openpost"
    done = CliRunner().invoke(
        app,
        ["backup", "--to", "/backups/op.dump"],
        env=_env(tmp_path, OPENPOST_DATABASE_URL=url),
    )
    assert done.exit_code == 2
    assert (
        "pg_dump --format=custom --file=/backups/op.dump "
        "'postgresql://openpost:***@db.internal:5432/openpost'" in done.stderr
    )
    assert "s3cret" not in done.output
