"""``openpost refresh --once`` (one synchronous sweep) and ``openpost worker``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openpost.cli.common import fail, load_settings, open_engine, require_queue
from openpost.core import clock
from openpost.core.errors import AppError
from openpost.core.ids import parse_uuid
from openpost.core.logs import configure_logging
from openpost.core.timefmt import format_time, parse_time
from openpost.platforms.specs import SPECS

if TYPE_CHECKING:
    from openpost.refresh.runner import Runtime, SweepSummary


def _usd_per_read(platform: str) -> float:
    spec = SPECS.get(platform)
    return (spec.usd_per_read or 0.0) if spec is not None else 0.0


def register(app: typer.Typer) -> None:
    app.command("refresh")(refresh)
    app.command("worker")(worker)


def refresh(
    once: Annotated[
        bool, typer.Option("--once", help="Run one sweep now and exit (required).")
    ] = False,
    workspace: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Only this workspace's integrations and posts."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="Sweep as if the clock read this RFC 3339 time (simulation and tests).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan and its request/read estimate; call no platform."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Collect once: discovery for integrations due for it, then every due post.

    Plans, fetches and writes synchronously in this process, then prints a summary.
    Continuous collection runs in `openpost serve` or `openpost worker`.
    """
    if not once:
        fail("use --once (continuous collection runs in `openpost serve` or `openpost worker`)")
    from openpost.refresh.runner import Runtime, sweep

    settings = load_settings()
    try:
        workspace_id = parse_uuid(workspace, "--workspace") if workspace else None
        at = parse_time(now, "--now") if now else None
    except AppError as exc:
        fail(exc.message)
    open_engine(settings, migrate=True).dispose()
    configure_logging(settings.log_level)
    runtime = Runtime.from_settings(settings)
    try:
        if at is not None:
            frozen_at: datetime = at
            summary = sweep(
                runtime,
                frozen_at,
                workspace_id=workspace_id,
                dry_run=dry_run,
                clock_now=lambda: frozen_at,
            )
        else:
            summary = sweep(runtime, clock.now(), workspace_id=workspace_id, dry_run=dry_run)
    finally:
        runtime.close()
    _print(summary, as_json)


def _payload(summary: SweepSummary) -> dict[str, Any]:
    # Platforms that bill each post read (X's pay-per-use credits): an estimate only.
    cost = sum(_usd_per_read(p) * n for p, n in summary.spend.items())
    return {
        "now": format_time(summary.now),
        "dry_run": summary.dry_run,
        "discoveries": summary.discoveries,
        "discovered_posts": summary.discovered,
        "discovery_requests": summary.discovery_requests,
        "discoveries_held_by_pause": summary.discovery_held,
        "targets": summary.targets,
        "batches": summary.batches,
        "batches_by_credential": dict(summary.batches_by_platform),
        "requests": summary.requests,
        "budget_spend": summary.spend,
        "budget_units": summary.units,
        "estimated_cost_usd": round(cost, 4),
        "frozen": summary.frozen,
        "held_back_by_pause": summary.paused,
        "over_budget": summary.over_budget,
        "snapshots_written": summary.written,
        "outcomes": dict(summary.outcomes),
        # SPEC §9.4: account reads (not in a dry run's estimate).
        "account_reads": summary.account_reads,
        "account_requests": summary.account_requests,
        "account_snapshots_written": summary.account_snapshots,
    }


def _print(summary: SweepSummary, as_json: bool) -> None:
    payload = _payload(summary)
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    verb = "would read" if summary.dry_run else "read"
    lines = [
        f"sweep at {payload['now']}{' (dry run)' if summary.dry_run else ''}",
        f"discovery: {summary.discoveries} integration(s)"
        + (
            ""
            if summary.dry_run
            else f", {summary.discovered} new post(s) in {summary.discovery_requests} "
            f"request(s)"
            + (f", {summary.discovery_held} held by a pause" if summary.discovery_held else "")
        ),
        f"targets: {verb} {summary.targets} in {summary.batches} batch(es) "
        f"({summary.requests} request(s){' estimated' if summary.dry_run else ''})",
    ]
    for key, count in sorted(summary.batches_by_platform.items()):
        lines.append(f"  {key}: {count} batch(es)")
    if summary.spend:
        spend = ", ".join(
            f"{p} {n} {summary.units[p].replace('_', ' ')}"
            for p, n in sorted(summary.spend.items())
        )
        lines.append(f"daily budget spent: {spend} (~${payload['estimated_cost_usd']:.3f})")
    if summary.frozen:
        lines.append(f"frozen by platform policy: {summary.frozen}")
    for key, count in sorted(summary.paused.items()):
        lines.append(f"held back, {key} paused: {count}")
    for platform, count in sorted(summary.over_budget.items()):
        lines.append(f"over today's {platform} budget: {count} post(s) wait")
    if not summary.dry_run:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "none"
        lines.append(f"snapshots written: {summary.written}; outcomes: {outcomes}")
        lines.append(
            f"accounts: {summary.account_snapshots} account snapshot(s) in "
            f"{summary.account_requests} request(s)"
        )
    typer.echo("\n".join(lines))


def worker(
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Serve this worker's Prometheus metrics (collection counters and the "
            "shared collection state) on this port; 0: do not.",
        ),
    ] = 0,
    metrics_host: Annotated[
        str, typer.Option(metavar="HOST", help="The address the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run collection jobs (and, while it holds the lease, the scheduler) until stopped.

    Start as many as you like against one `OPENPOST_QUEUE_URL` (Redis): exactly one of them
    schedules at a time. SIGINT or SIGTERM stops it after the running jobs finish. Run
    `openpost db upgrade` first: workers do not migrate the schema.
    """
    from openpost.refresh.runner import Runtime
    from openpost.refresh.tasks import JobQueue
    from openpost.refresh.worker import Collector

    settings = load_settings()
    open_engine(settings, migrate=False).dispose()  # says so when `db upgrade` is needed
    try:
        queue = JobQueue(settings)
    except ValueError as exc:
        fail(str(exc), code=2)
    require_queue(queue.huey.storage, settings.queue_url)
    configure_logging(settings.log_level)
    runtime = Runtime.from_settings(settings)
    try:
        if metrics_port:
            _serve_metrics(runtime, metrics_host, metrics_port)
        typer.echo(f"openpost worker: {settings.worker_threads} job thread(s)", err=True)
        Collector(runtime, queue, workers=settings.worker_threads).run_forever()
    finally:
        runtime.close()


def _serve_metrics(runtime: Runtime, host: str, port: int) -> None:
    """Prometheus metrics on their own port, in a daemon thread (it ends with the worker)."""
    from prometheus_client import CollectorRegistry, start_http_server

    from openpost.refresh import metrics

    registry = CollectorRegistry()
    metrics.register(registry, runtime.factory, runtime.settings)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        fail(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}")
    typer.echo(f"openpost worker: metrics on http://{host}:{port}/metrics", err=True)
