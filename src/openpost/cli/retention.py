"""``openpost retention apply|runs``: thinning old readings (SPEC §9.9, docs/operations.md)."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy import select

from openpost.cli.common import emit_rows, fail, load_settings, note, open_engine
from openpost.core.db import make_sessionmaker
from openpost.core.errors import AppError
from openpost.core.ids import parse_uuid
from openpost.core.timefmt import format_time
from openpost.retention.service import Outcome, apply, list_runs
from openpost.workspaces.models import Workspace

retention_app = typer.Typer(help="Thinning old readings.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")


@retention_app.command("apply")
def retention_apply(
    older_than: Annotated[
        int,
        typer.Option(
            "--older-than", metavar="DAYS", min=1, help="Thin readings older than DAYS days."
        ),
    ],
    workspace: Annotated[
        str | None, typer.Option(metavar="ID", help="Only this workspace (default: every one).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; remove nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Keep one day's first and last reading of each post and account, for days older than DAYS.

    Readings captured before the local midnight (the workspace's timezone) that starts the
    day DAYS days ago keep, per post target and per account and local day, the first and
    the last reading, plus each history's two newest readings: growth per day, latest
    values and deltas stay exactly what the API answered before. Everything from the cutoff
    on is untouched. Runs in short transactions (the service keeps answering), prints
    progress on stderr, and records each run (`openpost retention runs`).
    """
    settings = load_settings()
    engine = open_engine(settings, migrate=False)
    factory = make_sessionmaker(engine)
    outcomes: list[Outcome] = []
    try:
        with factory() as session:
            if workspace is not None:
                try:
                    chosen = parse_uuid(workspace, "--workspace")
                except AppError as exc:
                    fail(exc.message)
                if session.get(Workspace, chosen) is None:
                    fail(f"no workspace {workspace}")
                ids = [chosen]
            else:
                ids = list(session.scalars(select(Workspace.id).order_by(Workspace.created_at)))
        for workspace_id in ids:
            outcomes.append(
                apply(factory, workspace_id, older_than, dry_run=dry_run, progress=_Progress())
            )
    finally:
        engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps({"data": [_payload(o) for o in outcomes]}) + "\n")
        return
    if not outcomes:
        typer.echo("no workspaces")
    for outcome in outcomes:
        _print(outcome)


class _Progress:
    """A line on stderr at most every two seconds while a workspace's days go by."""

    def __init__(self) -> None:
        self.shown = time.monotonic()

    def __call__(self, label: str, day: date, removed: int) -> None:
        if time.monotonic() - self.shown >= 2:
            self.shown = time.monotonic()
            note(f"{label}: through {day.isoformat()}, {removed:,} so far")


def _payload(outcome: Outcome) -> dict[str, Any]:
    return {
        "run_id": str(outcome.run_id),
        "workspace_id": str(outcome.workspace_id),
        "workspace": outcome.workspace_name,
        "timezone": outcome.timezone,
        "cutoff": format_time(outcome.cutoff),
        "dry_run": outcome.dry_run,
        **{
            label.replace(" ", "_"): {"examined": c.examined, "removed": c.removed}
            for label, c in outcome.counts.items()
        },
    }


def _print(outcome: Outcome) -> None:
    verb = "would remove" if outcome.dry_run else "removed"
    typer.echo(
        f"{outcome.workspace_name} ({outcome.workspace_id}), readings before "
        f"{format_time(outcome.cutoff)} (local midnight, {outcome.timezone}):"
    )
    for label, counts in outcome.counts.items():
        kept = counts.examined - counts.removed
        typer.echo(f"  {label}: {verb} {counts.removed:,} of {counts.examined:,}, {kept:,} kept")
    if outcome.dry_run:
        typer.echo("  dry run: nothing was removed")


@retention_app.command("runs")
def retention_runs(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List the recorded retention runs, newest first."""
    settings = load_settings()
    engine = open_engine(settings, migrate=False)
    try:
        with make_sessionmaker(engine)() as session:
            rows = [
                {
                    "id": str(run.id),
                    "workspace_id": str(run.workspace_id),
                    "older_than_days": run.older_than_days,
                    "cutoff": format_time(run.cutoff),
                    "dry_run": run.dry_run,
                    "status": run.status,
                    "snapshots_examined": run.snapshots_examined,
                    "snapshots_removed": run.snapshots_removed,
                    "account_snapshots_examined": run.account_snapshots_examined,
                    "account_snapshots_removed": run.account_snapshots_removed,
                    "started_at": format_time(run.started_at),
                    "finished_at": format_time(run.finished_at) if run.finished_at else None,
                }
                for run in list_runs(session, limit)
            ]
    finally:
        engine.dispose()
    columns = ["started_at", "workspace_id", "older_than_days", "dry_run", "status"]
    emit_rows(as_json, rows, [*columns, "snapshots_removed", "account_snapshots_removed"], "runs")
