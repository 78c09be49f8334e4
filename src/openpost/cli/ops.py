"""``openpost backup`` and ``openpost secrets reseal``: operating the stored data."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from openpost.cli.common import emit, fail, load_settings
from openpost.config import Settings
from openpost.core.crypto import Sealer
from openpost.core.db import make_engine, make_sessionmaker, transaction

secrets_app = typer.Typer(help="Secrets stored at rest.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.add_typer(secrets_app, name="secrets")


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        fail("the database is in memory: there is nothing to back up")
    return Path(url.database)


def _pg_dump_hint(settings: Settings, target: Path) -> str:
    url = make_url(settings.effective_database_url).set(drivername="postgresql")
    shown = url.render_as_string(hide_password=True)
    return (
        "the database is PostgreSQL: back it up with pg_dump, e.g.\n"
        f"  pg_dump --format=custom --file={target} '{shown}'\n"
        "and restore with pg_restore (docs/operations.md, Backups)"
    )


def backup(
    to: Annotated[Path, typer.Option("--to", help="The file to write (a SQLite database).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Copy the SQLite database to FILE, consistently, while the service runs.

    Uses SQLite's online backup API: the copy is the database as of one committed moment
    (writers go on meanwhile), checked with `PRAGMA integrity_check` before it replaces
    FILE. On PostgreSQL it prints the pg_dump command to use instead (exit code 2).
    """
    settings = load_settings()
    source = _sqlite_path(settings)
    if source is None:
        typer.echo(_pg_dump_hint(settings, to), err=True)
        raise typer.Exit(2)
    if not source.exists():
        fail(f"no database at {source}")
    if to.exists() and not force:
        fail(f"{to} exists (use --force to replace it)")
    started = time.monotonic()
    partial = to.with_name(f".{to.name}.partial")
    partial.unlink(missing_ok=True)
    typer.echo(f"backing up {source} …", err=True)
    try:
        pages = _copy(source, partial)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        fail(f"backup failed: {exc}")
    os.replace(partial, to)
    payload: dict[str, Any] = {
        "source": str(source),
        "file": str(to),
        "pages": pages,
        "bytes": to.stat().st_size,
        "integrity": "ok",
        "seconds": round(time.monotonic() - started, 3),
    }
    emit(
        as_json,
        payload,
        f"backed up {source} to {to}: {pages} pages, {payload['bytes']} bytes, "
        f"integrity ok, {payload['seconds']} s",
    )


def _copy(source: Path, target: Path) -> int:
    """One backup step over the whole database: it reads inside one read transaction (in
    WAL mode writers are not blocked), so the copy is one committed state. (A copy in
    several steps restarts whenever another process writes, which under a running
    collector may be forever.)"""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    writer = sqlite3.connect(target)
    try:
        reader.execute("PRAGMA busy_timeout=30000")
        reader.backup(writer, pages=-1)
        pages = int(writer.execute("PRAGMA page_count").fetchone()[0])
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        found = writer.execute("PRAGMA integrity_check").fetchall()
        if found != [("ok",)]:
            raise sqlite3.DatabaseError(f"integrity check of the copy: {found[:5]}")
    finally:
        writer.close()
        reader.close()
    return pages


@secrets_app.command("reseal")
def reseal(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Re-seal every stored token with the current OPENPOST_SECRET_KEY.

    Tokens sealed under a key of OPENPOST_SECRET_KEY_PREVIOUS are rewritten under the
    current one, a page at a time (safe to run while the service runs, and to run again).
    Prints progress on stderr and a summary; tokens that no configured key opens are
    listed by row id (those integrations must be reconnected).
    """
    from openpost.integrations import sealing

    settings = load_settings()
    sealer = Sealer.from_settings(settings)
    engine = make_engine(settings.effective_database_url)
    factory = make_sessionmaker(engine)
    report: dict[str, Any] = {}
    overall = sealing.ResealCount()
    try:
        for sealed in sealing.SEALED:
            with transaction(factory) as session:
                expected = sealing.total(session, sealed)
            count, after = sealing.ResealCount(), None
            while True:
                with transaction(factory) as session:
                    page, after = sealing.reseal_page(
                        session, sealer, sealed, after=after, limit=batch_size
                    )
                count.add(page)
                typer.echo(f"{sealed.name}: {count.seen}/{expected}", err=True)
                if after is None:
                    break
            overall.add(count)
            report[sealed.name] = _counted(count)
    finally:
        engine.dispose()
    report["total"] = _counted(overall)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        for name, counted in report.items():
            typer.echo(
                f"{name}: {counted['resealed']} resealed, {counted['current']} already current, "
                f"{counted['changed']} changed meanwhile, {len(counted['unreadable'])} unreadable"
            )
        for name in (s.name for s in sealing.SEALED):
            for row_id in report[name]["unreadable"]:
                typer.echo(f"unreadable under every configured key: {name} {row_id}")
    if overall.unreadable:
        raise typer.Exit(1)


def _counted(count: Any) -> dict[str, Any]:
    return {
        "seen": count.seen,
        "resealed": count.resealed,
        "current": count.current,
        "changed": count.changed,
        "unreadable": [str(row_id) for row_id in count.unreadable],
    }
