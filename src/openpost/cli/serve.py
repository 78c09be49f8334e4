"""``openpost serve`` and ``openpost db upgrade``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from openpost.cli.common import fail, load_settings
from openpost.config import Settings
from openpost.core.db import make_engine
from openpost.core.logs import configure_logging
from openpost.core.migrate import upgrade

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from fastapi import FastAPI

    from openpost.refresh.worker import Collector

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest revision."""
    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    typer.echo("database is up to date")


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Serve HTTP only; collection runs in `openpost worker`s."
    ),
    metrics_port: int = typer.Option(
        0,
        min=0,
        max=65535,
        help="Also serve Prometheus metrics (the same as the API's /metrics) on this port, "
        "without a token: keep it on a private network; 0: do not.",
    ),
    metrics_host: str = typer.Option("127.0.0.1", help="The address the metrics port listens on."),
) -> None:
    """Run the API and dashboard (and, by default, the embedded scheduler and worker)."""
    import uvicorn

    from openpost.app import create_app

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    typer.echo(f"OpenPost Analytics on http://{host}:{port}  (API docs: /docs)")
    configure_logging(settings.log_level)
    app = create_app(settings)
    if metrics_port:
        _serve_metrics(app, metrics_host, metrics_port)
    collector = None if no_worker else _start_collector(settings, app)
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        if collector is not None:
            collector.stop()
            collector.runtime.close()


def _serve_metrics(app: FastAPI, host: str, port: int) -> WSGIServer:
    """The app's registry on a port of its own, in a daemon thread (ends with the server)."""
    from prometheus_client import start_http_server

    try:
        server, _ = start_http_server(port, addr=host, registry=app.state.metrics.registry)
    except OSError as exc:
        fail(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}")
    typer.echo(f"openpost serve: metrics on http://{host}:{port}/metrics", err=True)
    return server


def _start_collector(settings: Settings, app: FastAPI) -> Collector:
    """The embedded scheduler and worker: collection with no other process to run."""
    from openpost.refresh.runner import Runtime
    from openpost.refresh.tasks import JobQueue
    from openpost.refresh.worker import Collector

    try:
        queue = JobQueue(settings)
    except ValueError as exc:
        fail(str(exc))
    app.state.job_queue = queue  # the API queues refreshes on the same queue
    collector = Collector(Runtime.from_settings(settings), queue, workers=settings.worker_threads)
    collector.start()
    return collector
