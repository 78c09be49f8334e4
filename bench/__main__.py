"""``python -m bench``: seed, run, report, clean. See bench/README.md."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from alembic.util.exc import CommandError

from bench import api, export, report, results
from bench.database import (
    DEFAULT_PG_SERVER,
    DEFAULT_WORK_DIR,
    ENGINES,
    BenchDatabase,
    Meta,
    locate,
)
from bench.machine import REPO, SNAPSHOT_ENV, facts, git, load_average
from bench.seed import bring_schema_up_to_date, seed

KINDS = ("api", "export")
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def postgres_version(server_url: str) -> str | None:
    try:
        db = locate("postgresql", 0, pg_server_url=server_url, name="postgres")
        with psycopg.connect(db.conninfo, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def sizes(text: str) -> list[int]:
    """``100000`` or ``100000,1000000`` (underscores allowed)."""
    values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("snapshot counts must be positive integers")
    return values


def _database(args: argparse.Namespace, snapshots: int) -> BenchDatabase:
    return locate(
        args.engine,
        snapshots,
        work_dir=args.work_dir,
        pg_server_url=args.pg_url,
        prefix=args.db_prefix,
    )


def command_seed(args: argparse.Namespace) -> int:
    for snapshots in args.snapshots:
        db = _database(args, snapshots)
        if db.meta() is not None and not args.force:
            print(f"{db.name} is already seeded (use --force to seed again)")
            continue
        seed(db)
    return 0


def ready(db: BenchDatabase, reseed: bool) -> Meta:
    """The database's seed record, seeding or migrating it first when needed."""
    meta = None if reseed else db.meta()
    if meta is None:
        return seed(db)
    print(f"using {db.name}: {meta.snapshots:,} snapshots seeded {meta.seeded_at}")
    try:
        return bring_schema_up_to_date(db, meta, print)
    except CommandError as exc:  # e.g. seeded by newer code than this
        print(f"  cannot migrate {db.name} ({exc}): seeding again")
        return seed(db)


def run_benchmarks(args: argparse.Namespace, argv: list[str]) -> list[dict[str, Any]]:
    """Seed if needed, run the chosen benchmarks, return (and save) their records.

    With several sizes, the API cases are measured interleaved across them."""
    databases = [
        (db, ready(db, args.reseed)) for db in map(partial(_database, args), args.snapshots)
    ]
    machine = facts(postgres_version(args.pg_url))
    command = shlex.join([".venv/bin/python", "-m", "bench", *argv])
    records = []
    for kind in [args.only] if args.only else list(KINDS):
        if kind == "export" and not export.available():
            print("export: skipped, `openpost.analytics.export` has not landed yet")
            continue
        label = ", ".join(f"{meta.snapshots:,}" for _, meta in databases)
        print(f"{kind}: {args.engine}, {label} snapshots (load {load_average()})")
        before = load_average()
        if kind == "api":
            figures = api.run_many(
                databases,
                samples=args.samples,
                warmup=args.warmup,
                log_dir=args.work_dir,
                profile_dir=args.work_dir / "profiles" if args.profile else None,
            )
        else:
            figures = [
                export.run(db, meta, repeats=args.repeats, log_dir=args.work_dir)
                for db, meta in databases
            ]
        after = load_average()
        for (db, meta), result in zip(databases, figures, strict=True):
            record = {
                "kind": kind,
                "engine": db.engine,
                "snapshots_requested": db.snapshots,
                "command": command,
                "machine": machine,
                "load_before": before,
                "load_after": after,
                "seed": asdict(meta),
                "results": result,
            }
            records.append(record)
            if not (args.no_save or args.profile):
                print(f"saved {results.save(args.results_dir, record)}")
        print(report.render(records[-len(databases) :]))
    if args.drop:
        for db, _ in databases:
            db.drop()
    return records


def command_run(args: argparse.Namespace, argv: list[str]) -> int:
    run_benchmarks(args, argv)
    return 0


def command_report(args: argparse.Namespace) -> int:
    records = results.load_all(args.results_dir)
    if not records:
        print(f"no results in {args.results_dir}", file=sys.stderr)
        return 1
    report.write(args.output, records)
    print(f"wrote {args.output} from {len(records)} result file(s)")
    return 0


def command_clean(args: argparse.Namespace) -> int:
    engines = [args.engine] if args.engine else list(ENGINES)
    for engine in engines:
        if engine == "sqlite":
            for path in sorted(args.work_dir.glob("sqlite-*.json")):
                size = int(path.stem.removeprefix("sqlite-"))
                locate(engine, size, work_dir=args.work_dir).drop()
                print(f"removed {path.stem}")
        else:
            for path in sorted(args.work_dir.glob("openpost_bench_*.json")):
                size = int(path.stem.removeprefix("openpost_bench_"))
                locate(engine, size, work_dir=args.work_dir, pg_server_url=args.pg_url).drop()
                print(f"dropped database {path.stem}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    def database_options(p: argparse.ArgumentParser, *, engine_required: bool = True) -> None:
        p.add_argument("--engine", choices=ENGINES, required=engine_required)
        p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="SQLite files")
        p.add_argument("--pg-url", default=DEFAULT_PG_SERVER, help="PostgreSQL server URL")
        p.add_argument(
            "--db-prefix", help="name databases (SQLite files) <prefix><snapshots> instead"
        )

    p_seed = sub.add_parser("seed", help="create and fill a benchmark database")
    database_options(p_seed)
    p_seed.add_argument("--snapshots", type=sizes, default=[100_000], help="e.g. 100000,1000000")
    p_seed.add_argument("--force", action="store_true", help="seed again even if present")
    p_seed.add_argument("--commit", help="use this revision's src/ (e.g. HEAD)")

    p_run = sub.add_parser("run", help="run benchmarks (seeding first if needed)")
    database_options(p_run)
    p_run.add_argument("--snapshots", type=sizes, default=[100_000], help="e.g. 100000,1000000")
    p_run.add_argument("--only", choices=KINDS)
    p_run.add_argument("--samples", type=int, default=200, help="timed requests per case")
    p_run.add_argument("--warmup", type=int, default=30, help="untimed requests per case")
    p_run.add_argument("--repeats", type=int, default=3, help="timed exports per engine")
    p_run.add_argument("--reseed", action="store_true", help="seed again first")
    p_run.add_argument("--drop", action="store_true", help="drop the database afterwards")
    p_run.add_argument("--no-save", action="store_true", help="print only")
    p_run.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during each API case (implies --no-save)",
    )
    p_run.add_argument("--results-dir", type=Path, default=results.RESULTS_DIR)
    p_run.add_argument(
        "--commit", help="measure this revision's src/ (e.g. HEAD) instead of the working tree"
    )

    p_report = sub.add_parser("report", help="rewrite the figures section of RESULTS.md")
    p_report.add_argument("--results-dir", type=Path, default=results.RESULTS_DIR)
    p_report.add_argument("--output", type=Path, default=RESULTS_MD)

    p_clean = sub.add_parser("clean", help="drop every benchmark database and file")
    database_options(p_clean, engine_required=False)
    return root


def measure_commit(revision: str, work_dir: Path, argv: list[str], module: str = "bench") -> None:
    """Re-run this command against ``revision``'s ``src/`` (exported under ``work_dir``),
    so the figures belong to a commit rather than to a working tree in flux."""
    sha = git("rev-parse", "--verify", f"{revision}^{{commit}}").strip()
    tree = work_dir / f"src-{sha[:12]}"
    if not (tree / "src" / "openpost").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(  # noqa: S603 - fixed arguments and a verified sha
            ["git", "archive", sha, "src"],  # noqa: S607 - git from PATH
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(  # noqa: S603 - fixed arguments
            ["tar", "-x", "-C", str(tree)],  # noqa: S607 - tar from PATH
            input=archive,
            check=True,
        )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(tree / "src"), os.environ.get("PYTHONPATH")])
        ),
        SNAPSHOT_ENV: sha,
    }
    print(f"using commit {sha[:12]} (src exported to {tree})")
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)  # noqa: S606


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if getattr(args, "commit", None) and SNAPSHOT_ENV not in os.environ:
        measure_commit(args.commit, args.work_dir, argv)
    if args.command == "seed":
        return command_seed(args)
    if args.command == "run":
        return command_run(args, argv)
    if args.command == "report":
        return command_report(args)
    return command_clean(args)


if __name__ == "__main__":
    sys.exit(main())
