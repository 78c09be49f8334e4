"""Dashboard pages beside the API calls that return the same numbers, over real HTTP.

    .venv/bin/python -m bench.dashboard --engine sqlite --snapshots 1000000
    .venv/bin/python -m bench.dashboard --engine postgresql --snapshots 1000000

Uses the benchmark database of ``bench.seed`` (seeding it if absent) and the stock server
of ``bench.server``; adds one dashboard login (an owner of the benchmarked workspace).
Each case times the page (HTML fully read) and then the API calls a client would make to
get the same figures (bodies fully read), interleaved so both see the same machine load.

- ``post``: ``/posts/{id}?days=90`` vs ``GET /v1/analytics/post/{id}?days=90``;
- ``posts``: ``/posts?range=30`` (the 25 newest posts) vs the per-post call for each of
  those 25 posts;
- ``overview``: ``/?range=30`` vs the per-post call for every post of the range (totals,
  deltas, top posts) plus the snapshot export of the range (the daily growth);
- ``integrations``: ``/integrations`` vs ``GET /v1/integrations`` and
  ``GET /v1/analytics/status`` (collection health and budgets);
- ``settings``: ``/settings`` alone (keys and members have no API).

Goal: page at most 2 times its API calls. ``--append`` writes the table under "## Dashboard" in
``bench/RESULTS.md`` (only that section; the rest of the file belongs to ``bench report``).
"""

from __future__ import annotations

import argparse
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, BenchDatabase, Meta, locate
from bench.machine import code_measured, cpu_model, load_average
from bench.sections import write_section
from bench.seed import seed
from bench.server import Server
from bench.stats import ratio, summary_ms, table
from openpost.analytics import overview
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.core.timefmt import format_time
from openpost.dashboard.filters import Filters
from openpost.workspaces.service import add_member, get_workspace

HEADING = "## Dashboard"
START, END = "<!-- dashboard:start -->", "<!-- dashboard:end -->"
EMAIL = "bench@openpost.local"
PASSWORD = "bench-dashboard-password"  # noqa: S105 - a local benchmark login
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Case:
    name: str
    page: str
    api: list[str]


def _prepare(db: BenchDatabase, meta: Meta) -> dict[str, Any]:
    """Bring the schema to head (the dashboard's session table), add the login, and work
    out the post ids each case's API calls need."""
    engine = make_engine(db.url)
    try:
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            workspace = get_workspace(session, uuid.UUID(meta.workspace_id))
            add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
            period = Filters(range="30").period(workspace.timezone, clock.now())
            scope = overview.Scope(workspace.id, period.start, period.end)
            newest = overview.posts_page(session, scope, per_page=25).rows
            every = overview.posts_page(session, scope, per_page=100_000).rows
    finally:
        engine.dispose()
    return {
        "since": format_time(period.start),
        "until": format_time(period.end),
        "newest": [str(row.post_id) for row in newest],
        "every": [str(row.post_id) for row in every],
    }


def cases(meta: Meta, ids: dict[str, Any]) -> list[Case]:
    per_post = "/v1/analytics/post/{}?days=1"
    export = "/v1/analytics/export?" + urlencode(
        {"view": "snapshots", "since": ids["since"], "until": ids["until"]}
    )
    return [
        Case(
            "post", f"/posts/{meta.post_id}?days=90", [f"/v1/analytics/post/{meta.post_id}?days=90"]
        ),
        Case("posts", "/posts?range=30", [per_post.format(i) for i in ids["newest"]]),
        Case("overview", "/?range=30", [*(per_post.format(i) for i in ids["every"]), export]),
        Case("integrations", "/integrations", ["/v1/integrations", "/v1/analytics/status"]),
        Case("settings", "/settings", []),
    ]


def _login(client: httpx.Client) -> None:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    response = client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        raise RuntimeError(f"dashboard login failed: {response.status_code}")


def _timed(call: Callable[[], None]) -> int:
    started = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - started


def _get(client: httpx.Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:200]}")


def measure(
    page_client: httpx.Client, api_client: httpx.Client, case: Case, samples: int, warmup: int
) -> dict[str, Any]:
    def page() -> None:
        _get(page_client, case.page)

    def api() -> None:
        for url in case.api:
            _get(api_client, url)

    for _ in range(warmup):
        page()
        api()
    page_ns, api_ns = [], []
    for _ in range(samples):
        page_ns.append(_timed(page))
        if case.api:
            api_ns.append(_timed(api))
    result: dict[str, Any] = {
        "page": case.page,
        "api_calls": len(case.api),
        "page_ms": summary_ms(page_ns),
    }
    if api_ns:
        result["api_ms"] = summary_ms(api_ns)
        result["ratio_median"] = ratio(
            result["page_ms"]["median_ms"], result["api_ms"]["median_ms"]
        )
    return result


def run(
    db: BenchDatabase, *, samples: int, warmup: int, only: list[str] | None = None
) -> dict[str, Any]:
    meta = db.meta()
    if meta is None:
        meta = seed(db)
    ids = _prepare(db, meta)
    results: dict[str, Any] = {}
    log = db.work_dir / f"server-{db.name}-dashboard.log"
    with Server(db.url, log) as server:
        headers = {"Authorization": f"Bearer {meta.api_key}"}
        with (
            httpx.Client(base_url=server.base_url, timeout=300) as page_client,
            httpx.Client(base_url=server.base_url, headers=headers, timeout=300) as api_client,
        ):
            _login(page_client)
            for case in cases(meta, ids):
                if only and case.name not in only:
                    continue
                print(f"  {case.name}: {case.page} vs {len(case.api)} API call(s)")
                results[case.name] = measure(page_client, api_client, case, samples, warmup)
    return {"engine": db.engine, "snapshots": meta.snapshots, "samples": samples, "cases": results}


def render(record: dict[str, Any], machine: dict[str, Any]) -> str:
    rows = []
    for name, case in record["cases"].items():
        api = case.get("api_ms")
        rows.append(
            [
                name,
                f"`{case['page']}`",
                case["page_ms"]["median_ms"],
                case["page_ms"]["p95_ms"],
                case["api_calls"],
                api["median_ms"] if api else "—",
                case.get("ratio_median", "—"),
                ("✓" if case["ratio_median"] <= 2 else "✗") if api else "—",
            ]
        )
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[record["engine"]]
    return (
        f"### {title}, {record['snapshots']:,} snapshots\n\n"
        + table(
            [
                "case",
                "page",
                "page median ms",
                "page p95 ms",
                "API calls",
                "API median ms",
                "page ÷ API",
                "at most 2x",
            ],
            rows,
        )
        + (
            f"\n\n{record['engine']}, {record['snapshots']:,} snapshots; "
            f"{machine['cpu']}, load average {machine['load']}; code {machine['commit']}; "
            f"measured {machine['at']}; {record['samples']} samples per case, medians."
        )
    )


def append(records: list[str]) -> None:
    """Write our section of RESULTS.md (``bench.sections``)."""
    write_section(
        HEADING,
        START,
        END,
        "Each dashboard page's server time beside the API calls that return the same numbers "
        "(`bench/dashboard.py`; docs/dashboard.md explains the cases).\n\n" + "\n\n".join(records),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument(
        "--pg-db",
        help="PostgreSQL database (default openpost_dashbench_<snapshots>, apart from the one "
        "`python -m bench` seeds and drops)",
    )
    parser.add_argument("--only", action="append", help="run only these cases")
    parser.add_argument("--append", action="store_true", help="write the figures to RESULTS.md")
    args = parser.parse_args(argv)
    rendered = []
    for engine in args.engine or ["sqlite"]:
        db = locate(
            engine,
            args.snapshots,
            work_dir=args.work_dir,
            pg_server_url=args.pg_url,
            name=(args.pg_db or f"openpost_dashbench_{args.snapshots}")
            if engine == "postgresql"
            else None,
        )
        record = run(db, samples=args.samples, warmup=args.warmup, only=args.only)
        summary = {
            "cpu": f"{cpu_model()}",
            "load": load_average(),
            "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": code_measured(),
        }
        text = render(record, summary)
        print(text)
        rendered.append(text)
    if args.append:
        append(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
