"""The tag report and the posting-time view (SPEC §9.5, issue 14) beside their bare SQL.

    .venv/bin/python -m bench.engagement_reports --engine sqlite --snapshots 100000
    .venv/bin/python -m bench.engagement_reports --engine postgresql --snapshots 100000

Uses the benchmark database of ``bench.seed`` (seeding it if absent; its posts carry the
tags ``bench`` and ``campaign-<n>``) and the stock server of ``bench.server``. Cases, in the
workspace that holds half the data, over the posts published in the last ``--days`` days:

- ``tags``: ``GET /v1/analytics/tags?days=N``;
- ``posting_times``: ``GET /v1/analytics/posting-times?days=N``.

The baseline ("bare") is the reports' own SQL (``bench.bare``: captured once in-process,
replayed on a plain driver connection, every row fetched). Each sample times one bare replay,
then the in-process report (``engagement_reports``, a SQLAlchemy session), then one HTTP
request (body fully read), interleaved so all three see the same load. Before timing, the API's
answer is checked against the in-process report. Printed: medians and p95, and the ratios
API ÷ bare and report ÷ bare (what Python adds to the database's work).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.orm import Session

from bench.bare import capture, replay
from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, BenchDatabase, locate
from bench.seed import seed
from bench.server import Server
from bench.stats import ratio, summary_ms, table
from openpost.analytics import engagement_reports
from openpost.analytics.overview import Scope
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker
from openpost.workspaces.service import get_workspace

PORT = 19850  # this bench's server port (inside the engagement range)


def _report(name: str, workspace_id: uuid.UUID, days: int) -> Callable[[Session], Any]:
    def call(session: Session) -> Any:
        now = clock.now()
        scope = Scope(workspace_id, now - timedelta(days=days), now)
        if name == "tags":
            return engagement_reports.tag_report(session, scope).as_json()
        timezone = get_workspace(session, workspace_id).timezone
        return engagement_reports.posting_times(session, scope, timezone).as_json()

    return call


def _timed(call: Callable[[], Any]) -> int:
    started = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - started


def run(db: BenchDatabase, *, days: int, samples: int, warmup: int) -> dict[str, Any]:
    meta = db.meta() or seed(db)
    workspace_id = uuid.UUID(meta.workspace_id)
    engine = make_engine(db.url)
    factory = make_sessionmaker(engine)
    log = db.work_dir / f"server-{db.name}-engagement.log"
    server = Server(db.url, log)
    server.port, server.base_url = PORT, f"http://127.0.0.1:{PORT}"
    results: dict[str, Any] = {}
    connection = db.connect()
    try:
        with (
            server,
            httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {meta.api_key}"},
                timeout=300,
            ) as client,
        ):
            for name, path in (("tags", "tags"), ("posting_times", "posting-times")):
                call = _report(name, workspace_id, days)
                statements, expected = capture(db.url, call)
                url = f"/v1/analytics/{path}?days={days}"
                answer = orjson.loads(client.get(url).content)["data"]
                if answer != expected:
                    raise RuntimeError(f"{name}: the API and the report disagree")
                rows = sum(len(r) for r in replay(connection, statements))

                def in_process(call: Callable[[Session], Any] = call) -> None:
                    with factory() as session:
                        call(session)

                def http(url: str = url) -> None:
                    response = client.get(url)
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status_code}")

                def bare(statements: Any = statements) -> None:
                    replay(connection, statements)

                for _ in range(warmup):
                    bare()
                    in_process()
                    http()
                bare_ns, report_ns, api_ns = [], [], []
                for _ in range(samples):
                    bare_ns.append(_timed(bare))
                    report_ns.append(_timed(in_process))
                    api_ns.append(_timed(http))
                b, r, a = summary_ms(bare_ns), summary_ms(report_ns), summary_ms(api_ns)
                results[name] = {
                    "url": url,
                    "statements": len(statements),
                    "rows": rows,
                    "posts": answer["posts"],
                    "bare_ms": b,
                    "report_ms": r,
                    "api_ms": a,
                    "api_over_bare": ratio(a["median_ms"], b["median_ms"]),
                    "report_over_bare": ratio(r["median_ms"], b["median_ms"]),
                }
    finally:
        connection.close()
        engine.dispose()
    return {"engine": db.engine, "snapshots": meta.snapshots, "days": days, "cases": results}


def render(record: dict[str, Any]) -> str:
    rows = [
        [
            name,
            f"`{case['url']}`",
            case["posts"],
            case["rows"],
            case["bare_ms"]["median_ms"],
            case["report_ms"]["median_ms"],
            case["api_ms"]["median_ms"],
            case["api_ms"]["p95_ms"],
            case["report_over_bare"],
            case["api_over_bare"],
        ]
        for name, case in record["cases"].items()
    ]
    return f"{record['engine']}, {record['snapshots']:,} snapshots\n\n" + table(
        [
            "case",
            "request",
            "posts",
            "SQL rows",
            "bare median ms",
            "report median ms",
            "API median ms",
            "API p95 ms",
            "report ÷ bare",
            "API ÷ bare",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engagement_reports", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--pg-db", help="PostgreSQL database (default openpost_engbench_<n>)")
    args = parser.parse_args(argv)
    for engine in args.engine or ["sqlite"]:
        db = locate(
            engine,
            args.snapshots,
            work_dir=args.work_dir,
            pg_server_url=args.pg_url,
            name=(args.pg_db or f"openpost_engbench_{args.snapshots}")
            if engine == "postgresql"
            else None,
        )
        record = run(db, days=args.days, samples=args.samples, warmup=args.warmup)
        print(render(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
