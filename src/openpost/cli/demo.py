"""``openpost demo``: create (or top up) the demo workspace, print a key and a login."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openpost.cli.common import emit, load_settings, unit_of_work
from openpost.core import clock
from openpost.core.db import make_engine
from openpost.core.migrate import upgrade
from openpost.workspaces.demo import DEMO_TIMEZONE, seed_demo

BASE_URL = "http://127.0.0.1:8000"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("seeding demo targets", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create (or reuse) the test-mode demo workspace; print an API key and a login.

    Migrates the database, then seeds synthetic integrations, 90 days of posts and their
    snapshot history. A second run reuses the workspace, tops its history up to now and
    prints a new key (keys are shown once and cannot be recovered).
    """
    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    with unit_of_work(settings) as session, _progress() as progress:
        result = seed_demo(
            session,
            clock.now(),
            x_freshness=timedelta(hours=settings.x_freshness_window_hours),
            discovery_interval=timedelta(minutes=settings.discovery_interval_minutes),
            progress=progress,
        )
    payload = {
        "workspace_id": str(result.workspace_id),
        "key": result.key,
        "email": result.email,
        "password": result.password,
        "dashboard_url": f"{BASE_URL}/",
        "api_url": f"{BASE_URL}/v1",
    }
    login = f"{result.email} / {result.password}" if result.password else result.email
    if result.password is None:
        login += " (its password was changed; this run left it alone)"
    lines = [
        f"Demo workspace {result.workspace_id} ({'created' if result.created else 'reused'};"
        f" test mode, {DEMO_TIMEZONE})",
        f"  {result.integrations} synthetic integrations, {result.posts} posts,"
        f" {result.targets} targets, {result.snapshots_total} snapshots"
        f" ({result.snapshots_written} written now)",
        "",
        f"API key (shown once): {result.key}",
        f"Dashboard:            {BASE_URL}/  login {login}",
        "",
        "Start the server with `openpost serve`, then try:",
        f'  curl -s -H "Authorization: Bearer {result.key}" \\',
        f'       "{BASE_URL}/v1/analytics?days=7&limit=5"',
    ]
    emit(as_json, payload, "\n".join(lines))
