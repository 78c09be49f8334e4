"""The accounts page and the account endpoints at 10^4 accounts x 365 days (issue 14).

    .venv/bin/python -m bench.accounts_speed --accounts 10000 --days 365 --append

On each of ``--engines`` (PostgreSQL and SQLite; the goal's absolute figure, under 200 ms,
is PostgreSQL's). Seeds one workspace with ``--accounts`` integrations (X, Bluesky,
Mastodon, YouTube in turn) and one account snapshot per integration per day for ``--days``
days, written by one ``INSERT … SELECT`` over the days (``generate_series``; a recursive CTE
on SQLite): followers growing by a few a day, ``following`` and ``posts`` too, Mastodon's
``posts`` NULL some days. Then a stock server (``bench.server``) and, interleaved sample by
sample, each request beside a plain SELECT through the plain driver (``psycopg``,
``sqlite3``) of the rows its figures come from, every row fetched:

- ``account``: ``GET /v1/analytics/accounts/{id}?days=90`` — one account's readings in the
  period and the one before it (bare: that integration's readings since 180 days ago);
- ``list``: ``GET /v1/analytics/accounts?days=1&limit=500`` — the newest 500 readings of
  the workspace (bare: the same 500 rows joined to their integration);
- ``page``: the dashboard's ``/accounts?days=30`` (50 accounts on a page, growth and chart
  per account; bare: the 50 accounts' readings in the 60 days that cover the period and
  the one before it).

``--append`` writes the "Accounts at scale" section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from bench.dashboard import EMAIL, PASSWORD, _login
from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, BenchDatabase, locate
from bench.machine import code_measured, load_average
from bench.sections import write_section
from bench.server import Server
from bench.stats import ratio, summary_ms, table
from openpost.auth.service import create_key
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.workspaces.service import add_member, create_workspace

HEADING = "## Accounts at scale"
START, END = "<!-- accounts-speed:start -->", "<!-- accounts-speed:end -->"
PLATFORMS = ("twitter", "bluesky", "mastodon", "youtube")
PAGE_ACCOUNTS = 50

SEED_SNAPSHOTS = """
INSERT INTO account_snapshots
    (id, workspace_id, integration_id, followers, following, posts, platform_data,
     captured_at, capture_key)
SELECT gen_random_uuid(), i.workspace_id, i.id,
       1000 + (i.n * 37) %% 50000 + d * (1 + i.n %% 7),
       100 + (i.n %% 300) + d / 30,
       CASE WHEN i.platform = 'mastodon' AND d %% 11 = 0 THEN NULL ELSE 10 + d / 2 END,
       '{}', %(start)s::timestamptz + make_interval(days => d, secs => i.n %% 3600),
       'bench-' || d
FROM (SELECT id, workspace_id, platform, row_number() OVER (ORDER BY id) AS n
      FROM integrations WHERE workspace_id = %(workspace)s) AS i
CROSS JOIN generate_series(0, %(days)s - 1) AS d
"""

SEED_SNAPSHOTS_SQLITE = """
WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < :days - 1),
i AS (SELECT id, workspace_id, platform, row_number() OVER (ORDER BY id) AS n
      FROM integrations WHERE workspace_id = :workspace)
INSERT INTO account_snapshots
    (id, workspace_id, integration_id, followers, following, posts, platform_data,
     captured_at, capture_key)
SELECT lower(hex(randomblob(16))), i.workspace_id, i.id,
       1000 + (i.n * 37) % 50000 + d.n * (1 + i.n % 7),
       100 + (i.n % 300) + d.n / 30,
       CASE WHEN i.platform = 'mastodon' AND d.n % 11 = 0 THEN NULL ELSE 10 + d.n / 2 END,
       '{}',
       strftime('%Y-%m-%d %H:%M:%S', :start, '+' || d.n || ' days', '+' || (i.n % 3600)
                || ' seconds') || '.000000',
       'bench-' || d.n
FROM i CROSS JOIN d
"""


def seed(db: BenchDatabase, accounts: int, days: int, now: datetime) -> dict[str, str]:
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        workspace = create_workspace(session, "Accounts at scale")
        _, key = create_key(session, workspace, "bench")
        add_member(session, workspace, email=EMAIL, password=PASSWORD, role="owner")
        made = [
            Integration(
                id=uuid.uuid4(),
                workspace_id=workspace.id,
                platform=PLATFORMS[n % len(PLATFORMS)],
                external_account_id=f"acct-{n}",
                username=f"acct{n:05d}",
                display_name=f"Account {n:05d}",
                status="active",
                synthetic=False,
                analytics_enabled=True,
                created_at=now - timedelta(days=days + 1),
            )
            for n in range(accounts)
        ]
        session.add_all(made)
        workspace_id = str(workspace.id)
    engine.dispose()
    start = (now - timedelta(days=days - 1)).replace(hour=6, minute=0, second=0, microsecond=0)
    first = "SELECT id FROM integrations WHERE workspace_id = %s ORDER BY username LIMIT 1"
    if db.engine == "sqlite":
        workspace_id = uuid.UUID(workspace_id).hex  # SQLite's storage form of a UUID
        conn = sqlite3.connect(db.path, isolation_level=None)
        try:
            conn.execute(
                SEED_SNAPSHOTS_SQLITE,
                {
                    "start": start.strftime("%Y-%m-%d %H:%M:%S"),
                    "workspace": workspace_id,
                    "days": days,
                },
            )
            conn.execute("ANALYZE")
            (integration,) = conn.execute(first.replace("%s", "?"), (workspace_id,)).fetchone()
        finally:
            conn.close()
    else:
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            conn.execute(SEED_SNAPSHOTS, {"start": start, "workspace": workspace_id, "days": days})
            conn.execute("VACUUM ANALYZE")
            (integration,) = conn.execute(first, (workspace_id,)).fetchone() or (None,)
    return {"workspace": workspace_id, "key": key, "integration": str(uuid.UUID(str(integration)))}


def _bare_cases(
    engine: str, ids: dict[str, str], now: datetime
) -> dict[str, tuple[str, dict[str, object]]]:
    cases = _bare_sql(ids, now)
    if engine == "postgresql":
        return cases
    return {case: _as_sqlite(sql, params) for case, (sql, params) in cases.items()}


def _as_sqlite(sql: str, params: dict[str, object]) -> tuple[str, dict[str, object]]:
    """The same SELECT for ``sqlite3``: named parameters, UUIDs as 32 hex digits and times in
    SQLAlchemy's SQLite storage form (UTC, no offset), as the service writes them."""

    def stored(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return uuid.UUID(str(value)).hex

    return re.sub(r"%\((\w+)\)s", r":\1", sql), {k: stored(v) for k, v in params.items()}


def _bare_sql(ids: dict[str, str], now: datetime) -> dict[str, tuple[str, dict[str, object]]]:
    return {
        "account": (
            "SELECT s.id, s.followers, s.following, s.posts, s.platform_data, s.captured_at "
            "FROM account_snapshots s "
            "WHERE s.integration_id = %(i)s AND s.captured_at >= %(since)s "
            "ORDER BY s.captured_at DESC, s.id DESC",
            {"i": ids["integration"], "since": now - timedelta(days=180)},
        ),
        "list": (
            "SELECT s.id, s.integration_id, i.platform, i.username, s.followers, s.following, "
            "s.posts, s.platform_data, s.captured_at FROM account_snapshots s "
            "JOIN integrations i ON i.id = s.integration_id "
            "WHERE s.workspace_id = %(w)s AND s.captured_at >= %(since)s "
            "ORDER BY s.captured_at DESC, s.id DESC LIMIT 500",
            {"w": ids["workspace"], "since": now - timedelta(days=1)},
        ),
        "page": (
            "SELECT s.integration_id, s.followers, s.following, s.posts, s.captured_at "
            "FROM account_snapshots s WHERE s.integration_id IN ("
            "  SELECT id FROM integrations WHERE workspace_id = %(w)s "
            f"  ORDER BY created_at DESC, id DESC LIMIT {PAGE_ACCOUNTS}) "
            "AND s.captured_at >= %(since)s ORDER BY s.integration_id, s.captured_at DESC",
            {"w": ids["workspace"], "since": now - timedelta(days=60)},
        ),
    }


def _timed(call: Callable[[], object]) -> int:
    started = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - started


def measure(
    db: BenchDatabase, ids: dict[str, str], *, samples: int, warmup: int, now: datetime
) -> list[list[object]]:
    urls = {
        "account": f"/v1/analytics/accounts/{ids['integration']}?days=90",
        "list": "/v1/analytics/accounts?days=1&limit=500",
        "page": "/accounts?days=30",
    }
    rows: list[list[object]] = []
    with (
        Server(db.url, db.work_dir / "accounts-speed-server.log") as server,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {ids['key']}"}
        ) as api,
        httpx.Client(base_url=server.base_url) as browser,
        closing(db.connect()) as conn,
    ):
        _login(browser)
        bare = _bare_cases(db.engine, ids, now)
        for case, url in urls.items():
            client = browser if case == "page" else api
            sql, params = bare[case]

            def request(client: httpx.Client = client, url: str = url) -> None:
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}")

            def query(sql: str = sql, params: dict[str, object] = params) -> None:
                conn.execute(sql, params).fetchall()

            for _ in range(warmup):
                request()
                query()
            bare_ns, api_ns = [], []
            for _ in range(samples):
                bare_ns.append(_timed(query))
                api_ns.append(_timed(request))
            b, a = summary_ms(bare_ns), summary_ms(api_ns)
            rows.append(
                [
                    case,
                    f"`{url}`",
                    b["median_ms"],
                    a["median_ms"],
                    a["p95_ms"],
                    ratio(a["median_ms"], b["median_ms"]),
                    "✓" if a["median_ms"] <= 2 * b["median_ms"] else "✗",
                    "✓" if a["median_ms"] < 200 else "✗",
                ]
            )
    return rows


def render(engine: str, accounts: int, days: int, snapshots: int, rows: list[list[object]]) -> str:
    name, driver = ("SQLite", "sqlite3") if engine == "sqlite" else ("PostgreSQL", "psycopg")
    return (
        f"{name}, {accounts:,} accounts x {days} days = {snapshots:,} account snapshots "
        "(`bench/accounts_speed.py`): each request's time over HTTP to a stock server beside a "
        f"plain SELECT of the rows its figures come from (`{driver}`, every row fetched), "
        "interleaved sample by sample.\n\n"
        + table(
            [
                "case",
                "request",
                "bare median ms",
                "server median ms",
                "server p95 ms",
                "÷ bare",
                "≤ 2x",
                "< 200 ms",
            ],
            rows,
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accounts_speed", description=__doc__)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--append", action="store_true", help="write the section of RESULTS.md")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    now = datetime.now(UTC)
    texts = []
    for engine in engines:
        db = locate(
            engine,
            0,
            work_dir=args.work_dir,
            pg_server_url=args.pg_url,
            name="openpost_bench_accounts_speed" if engine == "postgresql" else "accounts-speed",
        )
        started = time.monotonic()
        print(f"{engine}: seeding", file=sys.stderr)
        ids = seed(db, args.accounts, args.days, now)
        print(f"{engine}: seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        try:
            rows = measure(db, ids, samples=args.samples, warmup=args.warmup, now=now)
        finally:
            if not args.keep:
                db.drop()
        texts.append(render(engine, args.accounts, args.days, args.accounts * args.days, rows))
    cmd = "python -m bench.accounts_speed " + shlex.join(argv or sys.argv[1:])
    text = "\n".join(texts) + (f"\n`{cmd}`; code {code_measured()}; load average {load_average()}.")
    print(text)
    if args.append:
        write_section(HEADING, START, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
