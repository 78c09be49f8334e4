"""Retention at scale: how fast ``retention apply`` thins, and whether reads keep answering.

Seeds a fresh database (``bench.seed``: posts over 400 days on the refresh tiers, so every
post's first week has several readings a day), then, in one run:

1. reads alone: ``list_snapshots`` (the first 500-row page of ``GET /v1/analytics``) in a
   loop for a few seconds, latency p50/p99;
2. ``retention apply --older-than DAYS`` on the queried workspace, timed, while the same
   read loop runs in another thread: rows examined and removed per second, and the reads'
   latency during the run beside step 1's;
3. a floor for comparison: one plain ``SELECT count(*)`` of the readings older than the
   cutoff (the rows the run examines), not the same work: the run also probes each row's
   neighbours and deletes.

    .venv/bin/python -m bench.retention --engine sqlite --engine postgresql --snapshots 1000000
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from bench.database import DEFAULT_WORK_DIR, locate
from bench.seed import seed
from openpost.analytics.models import Snapshot
from openpost.core.db import make_engine, make_sessionmaker
from openpost.retention.service import apply, cutoff_for
from openpost.workspaces.models import Workspace


def _reads(factory: object, workspace_id: uuid.UUID, stop: threading.Event) -> list[float]:
    from openpost.analytics.service import list_snapshots

    times: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        with factory() as session:  # type: ignore[operator]
            list_snapshots(session, workspace_id, now=datetime.now(UTC), days=365, limit=500)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> str:
    if not times:
        return "no reads"
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{len(times)} reads, p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms"


def run(
    engine_name: str,
    snapshots: int,
    older_than: int,
    *,
    alone_seconds: float = 5,
    work_dir: Path = DEFAULT_WORK_DIR,
) -> None:
    db = locate(engine_name, snapshots, prefix=f"retention-{engine_name}-", work_dir=work_dir)
    seed(db)
    engine = make_engine(db.url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as session:
            workspace = session.scalars(select(Workspace).order_by(Workspace.created_at)).first()
            assert workspace is not None
            workspace_id, timezone = workspace.id, workspace.timezone
            cutoff = cutoff_for(timezone, older_than, datetime.now(UTC))
            started = time.perf_counter()
            bare = session.scalar(
                select(func.count())
                .select_from(Snapshot)
                .where(Snapshot.workspace_id == workspace_id, Snapshot.captured_at < cutoff)
            )
            bare_s = time.perf_counter() - started
        print(
            f"{engine_name} {snapshots:,}: plain count of the {bare:,} older rows: {bare_s:.2f} s"
        )

        stop = threading.Event()
        alone: list[float] = []
        reader = threading.Thread(target=lambda: alone.extend(_reads(factory, workspace_id, stop)))
        reader.start()
        time.sleep(alone_seconds)
        stop.set()
        reader.join()

        during: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=lambda: during.extend(_reads(factory, workspace_id, stop)))
        reader.start()
        started = time.perf_counter()
        outcome = apply(factory, workspace_id, older_than, dry_run=False)
        seconds = time.perf_counter() - started
        stop.set()
        reader.join()
        posts = outcome.counts["post snapshots"]
        print(
            f"  apply --older-than {older_than}: examined {posts.examined:,}, removed "
            f"{posts.removed:,} in {seconds:.1f} s = {posts.removed / seconds:,.0f} removed/s, "
            f"{posts.examined / seconds:,.0f} examined/s ({seconds / bare_s:.0f}x the plain count)"
        )
        assert posts.examined == bare, (posts.examined, bare)
        print(f"  reads alone:  {_summary(alone)}")
        print(f"  reads during: {_summary(during)}")
        if engine_name == "sqlite":
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--older-than", type=int, default=30)
    args = parser.parse_args()
    for engine_name in args.engine or ["sqlite"]:
        run(engine_name, args.snapshots, args.older_than)


if __name__ == "__main__":
    main()
