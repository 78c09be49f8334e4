"""``openpost export``: the analytics CSV of ``GET /v1/analytics/export``, byte for byte."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from openpost.analytics.export import CsvExport, View, open_export, parse_request
from openpost.cli.common import fail, load_settings, open_engine
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.core.errors import AppError
from openpost.core.ids import parse_uuid
from openpost.workspaces.service import get_workspace


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    workspace: Annotated[str, typer.Option(metavar="ID", help="Workspace id.")],
    days: Annotated[
        str | None, typer.Option(metavar="N", help="Days back to include (1-365, default 30).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Start, RFC 3339 with an offset (inclusive)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="TIME", help="End, RFC 3339 with an offset (exclusive; needs --since)."
        ),
    ] = None,
    integration: Annotated[
        str | None, typer.Option(metavar="ID", help="Only this integration id.")
    ] = None,
    post: Annotated[str | None, typer.Option(metavar="ID", help="Only this post id.")] = None,
    view: Annotated[
        str,
        typer.Option(
            metavar="VIEW",
            help="`snapshots` (every snapshot), `latest` (one row a target) or `accounts` "
            "(every account snapshot).",
        ),
    ] = View.snapshots.value,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="TIME",
            help="The file as it was then (RFC 3339 with an offset; readings captured by then).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."
        ),
    ] = None,
) -> None:
    """Export analytics as CSV: the same file as GET /v1/analytics/export."""
    settings = load_settings()
    engine = open_engine(settings, migrate=False)
    factory = make_sessionmaker(engine)
    try:
        now = clock.now()
        day_count = _days(days)
        with factory() as session:
            workspace_id = get_workspace(session, parse_uuid(workspace, "workspace")).id
            request = parse_request(
                now=now,
                days=day_count,
                since=since,
                until=until,
                integration_id=integration,
                post_id=post,
                view=view,
                as_of=as_of,
            )
            csv = open_export(session, factory, workspace_id, request, now=now)
        if output is None:
            _to_stdout(csv)
        else:
            _to_file(csv, output)
    except AppError as exc:
        fail(exc.message)
    finally:
        engine.dispose()


def _days(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        fail("days must be an integer between 1 and 365")


def _write(
    chunks: Iterator[bytes], sink: BinaryIO, csv: CsvExport, progress: Progress | None
) -> None:
    task = progress.add_task("exporting", total=None) if progress is not None else None
    for chunk in chunks:
        sink.write(chunk)
        if progress is not None and task is not None:
            progress.update(task, completed=csv.progress.rows)


def _to_stdout(csv: CsvExport) -> None:
    stdout = typer.get_binary_stream("stdout")
    try:
        _write(csv.chunks, stdout, csv, None)
        stdout.flush()
    except BrokenPipeError:
        # The reader left (``| head``): stop quietly; nothing more can be written.
        with suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None


def _to_file(csv: CsvExport, output: Path) -> None:
    """Write beside ``output`` and rename at the end: a failed export leaves no half file."""
    partial = output.with_name(f".{output.name}.part")
    console = Console(stderr=True)
    show = console.is_terminal
    progress = (
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
        )
        if show
        else None
    )
    try:
        with progress if progress is not None else nullcontext(), partial.open("wb") as sink:
            _write(csv.chunks, sink, csv, progress)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write {output}: {exc.strerror or exc}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if show:
        console.print(
            f"wrote {csv.progress.rows:,} rows to {output}", highlight=False, soft_wrap=True
        )
