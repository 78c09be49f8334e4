"""``openpost serve`` and ``openpost db upgrade``."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from openpost.cli.common import (
    fail,
    load_settings,
    note,
    open_engine,
    require_queue,
    shown_url,
)
from openpost.config import Settings
from openpost.core.db import make_engine
from openpost.core.logs import configure_logging
from openpost.core.migrate import upgrade

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from fastapi import FastAPI

    from openpost.refresh.tasks import JobQueue
    from openpost.refresh.worker import Collector

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

HostOption = Annotated[
    str, typer.Option(envvar="OPENPOST_HOST", metavar="HOST", help="Interface to listen on.")
]
PortOption = Annotated[
    int,
    typer.Option(
        envvar="OPENPOST_PORT", metavar="PORT", min=1, max=65535, help="Port to listen on."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest revision; say what it did."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from openpost.cli.common import database_error

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        result = upgrade(engine)
    except (OperationalError, InterfaceError) as exc:
        fail(database_error(exc, settings.effective_database_url))
    finally:
        engine.dispose()
    typer.echo(f"{result.describe()}: {shown_url(settings.effective_database_url)}")


def listen(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` now, before anything is created, or stop with what to do.

    The bound socket is handed to uvicorn, so nothing can take the port in between.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host!r}: {exc.strerror} (--host / OPENPOST_HOST)")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is already in use (another `openpost serve`?); "
                "stop that process, or choose another port with --port or OPENPOST_PORT"
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.set_inheritable(True)
    return sock


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="Serve HTTP only; collection runs in `openpost worker`s."),
    ] = False,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            metavar="PORT",
            help="Also serve Prometheus metrics (the same as the API's /metrics) on this port, "
            "without a token: keep it on a private network; 0: do not.",
        ),
    ] = 0,
    metrics_host: Annotated[
        str,
        typer.Option(metavar="HOST", help="The address the metrics port listens on."),
    ] = "127.0.0.1",
) -> None:
    """Run the API and dashboard (and, by default, the embedded scheduler and worker).

    Checks every setting and the port, then creates or migrates the database schema.
    """
    settings = load_settings()
    sock = listen(host, port)
    run_server(
        settings, sock, host, port, no_worker=no_worker, metrics=(metrics_host, metrics_port)
    )


def run_server(
    settings: Settings,
    sock: socket.socket,
    host: str,
    port: int,
    *,
    no_worker: bool,
    metrics: tuple[str, int] = ("127.0.0.1", 0),
) -> None:
    """Serve on ``sock`` (bound by ``listen``) until stopped."""
    import uvicorn

    from openpost.app import create_app

    try:
        open_engine(settings, migrate=True).dispose()
        queue = _queue(settings)
        typer.echo(f"OpenPost Analytics on http://{host}:{port}  (API docs: /docs)")
        configure_logging(settings.log_level)
        app = create_app(settings)
        app.state.job_queue = queue  # the API queues refreshes here
        if metrics[1]:
            _serve_metrics(app, *metrics)
        collector = None
        if no_worker:
            note("collection is left to `openpost worker` processes (--no-worker)")
        else:
            collector = _start_collector(settings, queue)
        config = uvicorn.Config(app, log_config=None, access_log=False)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            if collector is not None:
                collector.stop()
                collector.runtime.close()
    finally:
        sock.close()


def _serve_metrics(app: FastAPI, host: str, port: int) -> WSGIServer:
    """The app's registry on a port of its own, in a daemon thread (ends with the server)."""
    from prometheus_client import start_http_server

    try:
        server, _ = start_http_server(port, addr=host, registry=app.state.metrics.registry)
    except OSError as exc:
        fail(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}")
    typer.echo(f"openpost serve: metrics on http://{host}:{port}/metrics", err=True)
    return server


def _queue(settings: Settings) -> JobQueue:
    """The job queue, built once at start: a queue that cannot be built stops the start."""
    from openpost.refresh.tasks import JobQueue

    try:
        queue = JobQueue(settings)
    except ValueError as exc:
        fail(str(exc), code=2)
    require_queue(queue.huey.storage, settings.queue_url)
    return queue


def _start_collector(settings: Settings, queue: JobQueue) -> Collector:
    """The embedded scheduler and worker: collection with no other process to run."""
    from openpost.refresh.runner import Runtime
    from openpost.refresh.worker import Collector

    collector = Collector(Runtime.from_settings(settings), queue, workers=settings.worker_threads)
    collector.start()
    return collector
