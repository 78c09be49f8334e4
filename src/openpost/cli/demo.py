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

from openpost.cli.common import emit, fail, load_settings, open_engine, unit_of_work
from openpost.cli.serve import HostOption, PortOption, listen, run_server
from openpost.core import clock
from openpost.workspaces.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TIMEZONE, seed_demo


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


def _browsable(host: str) -> str:
    """The address to print for ``host``: a wildcard is reached on the loopback address."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, not bound
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then serve it, as `openpost serve` (the port is checked first: if it is "
            "busy, nothing is created).",
        ),
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Create (or reuse) the test-mode demo workspace; print an API key and a login.

    Migrates the database, then seeds synthetic integrations, 90 days of posts and their
    snapshot history. A second run reuses the workspace, tops its history up to now and
    prints a new key (keys are shown once and cannot be recovered). The printed links use
    --host and --port. Refused when OPENPOST_ENV is production: the demo login is public.
    """
    settings = load_settings()
    if settings.env == "production":
        fail(
            f"`openpost demo` creates a login everyone knows ({DEMO_EMAIL} / {DEMO_PASSWORD}) "
            "and does not run with OPENPOST_ENV=production; run it with OPENPOST_ENV=demo "
            "on a database of its own"
        )
    sock = listen(host, port) if serve else None
    try:
        open_engine(settings, migrate=True).dispose()
        with unit_of_work(settings) as session, _progress() as progress:
            result = seed_demo(
                session,
                clock.now(),
                x_freshness=timedelta(hours=settings.x_freshness_window_hours),
                discovery_interval=timedelta(minutes=settings.discovery_interval_minutes),
                progress=progress,
            )
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    base_url = f"http://{_browsable(host)}:{port}"
    payload = {
        "workspace_id": str(result.workspace_id),
        "key": result.key,
        "email": result.email,
        "password": result.password,
        "dashboard_url": f"{base_url}/",
        "api_url": f"{base_url}/v1",
    }
    login = f"{result.email} / {result.password}" if result.password else result.email
    if result.password is None:
        login += " (its password was changed; this run left it alone)"
    start = (
        "The server starts now (Ctrl-C stops it); then try:"
        if serve
        else f"Start the server with `openpost serve --port {port}`, then try:"
    )
    lines = [
        f"Demo workspace {result.workspace_id} ({'created' if result.created else 'reused'};"
        f" test mode, {DEMO_TIMEZONE})",
        f"  {result.integrations} synthetic integrations, {result.posts} posts,"
        f" {result.targets} targets, {result.snapshots_total} snapshots"
        f" ({result.snapshots_written} written now)",
        "",
        f"API key (shown once): {result.key}",
        f"Dashboard:            {base_url}/  login {login}",
        "",
        start,
        f'  curl -s -H "Authorization: Bearer {result.key}" \\',
        f'       "{base_url}/v1/analytics?days=7&limit=5"',
    ]
    emit(as_json, payload, "\n".join(lines))
    if sock is not None:
        sys.stdout.flush()
        run_server(settings, sock, host, port, no_worker=False)
