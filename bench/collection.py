"""Collection benchmarks: planning at scale, capture throughput, lookups per due X post.

    .venv/bin/python -m bench.collection --engine sqlite --targets 1000000
    .venv/bin/python -m bench.collection --engine postgresql --targets 1000000 --append

1. **Planning** (goal ≤ 3x the bare SQL). A database of ``--targets`` tracked targets
   (100 per integration, 100 integrations per workspace; X, Bluesky and Mastodon; published
   uniformly over 120 days; each last read at a random point of its tier's interval, so
   about 2 % of the readable ones are due) is seeded once (``bench/.work/collection-<n>``,
   or the PostgreSQL database ``openpost_bench_collection_<n>``). ``planner.plan`` (the due
   set, X's cap and window, pauses, batches) is timed beside the bare SQL that selects the
   due set: the planner's own due-set statement, captured as it runs and replayed on a
   plain ``sqlite3`` / ``psycopg`` connection, every row fetched. The other statements the
   planner runs (X's newest-50 ranks, the rate state) are reported as well.
2. **Capture throughput** (goal ≥ 0.3x the bare insert). ``--capture`` due X posts
   (50 per integration, X's cap, in 10 workspaces, each with two earlier readings) are read
   through the fake X API in-process and
   written by ``capture_batch`` (claim check, snapshots, refresh state, latest pointers,
   rate window: the real path), single-threaded; beside it, the same number of snapshot
   rows inserted through the driver in transactions of 100 (the batch size), nothing else.
3. **Lookups per due X post**: lookup requests the fake X received ÷ X posts captured.

``--append`` writes the table under "## Collection" in ``bench/RESULTS.md`` (only that
section, between its markers).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, BenchDatabase, locate
from bench.machine import code_measured, cpu_model, load_average
from bench.sections import write_section
from bench.stats import ratio, table
from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.models import RefreshState  # where every version keeps it (bench --commit)
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeX
from openpost.posts.models import Post, PostTarget
from openpost.refresh import planner, runner
from openpost.refresh.capture import capture_batch
from openpost.refresh.policy import CollectionPolicy
from openpost.refresh.runner import Runtime
from openpost.refresh.tiers import interval_for
from openpost.workspaces.models import Workspace

HEADING = "## Collection"
START, END = "<!-- collection:start -->", "<!-- collection:end -->"
NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
PER_INTEGRATION = 100
X_PER_INTEGRATION = 50  # X's cap: every one of them stays readable
PLATFORMS = ("twitter", "twitter", "bluesky", "bluesky", "mastodon")
SPAN = timedelta(days=120)
CHUNK = 20_000


def _settings(db: BenchDatabase, **changes: Any) -> Settings:
    return Settings(
        env="test",
        database_url=db.url,
        x_bearer_token=DEFAULT_APP_TOKEN,
        x_api_base_url="http://fake-x.bench",
        **changes,
    )


# ---- seeding --------------------------------------------------------------------------


def _username(platform: str, n: int) -> str:
    return f"acct{n}@instance{n % 20}.social" if platform == "mastodon" else f"acct{n}"


def _chunks(
    targets: int, rng: random.Random, policy: CollectionPolicy
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The planning database's rows, in chunks of 200 integrations (20,000 targets)."""
    integrations = max(targets // PER_INTEGRATION, 1)
    workspaces = max(integrations // 100, 1)
    ws_ids = [uuid.uuid4() for _ in range(workspaces)]
    created = NOW - SPAN - timedelta(days=1)
    yield {
        "workspaces": [
            {
                "id": w,
                "name": f"Bench {n}",
                "timezone": "UTC",
                "mode": "live",
                "created_at": created,
            }
            for n, w in enumerate(ws_ids)
        ]
    }
    post_number = 0
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n in range(integrations):
        platform = PLATFORMS[n % len(PLATFORMS)]
        iid, wid = uuid.uuid4(), ws_ids[n % workspaces]
        out["integrations"].append(
            {
                "id": iid,
                "workspace_id": wid,
                "platform": platform,
                "external_account_id": str(10_000 + n),
                "username": _username(platform, n),
                "display_name": f"Account {n}",
                "status": "active",
                "synthetic": False,
                "credentials_encrypted": None,
                "analytics_enabled": True,
                "created_at": created,
            }
        )
        for _ in range(min(PER_INTEGRATION, targets - post_number)):
            post_number += 1
            pid, tid = uuid.uuid4(), uuid.uuid4()
            published = NOW - timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))
            published = published.replace(microsecond=0)
            out["posts"].append(
                {
                    "id": pid,
                    "workspace_id": wid,
                    "content": "benchmark post",
                    "tags": [],
                    "status": "published",
                    "source": "discovered",
                    "published_at": published,
                    "created_at": published,
                }
            )
            out["targets"].append(
                {
                    "id": tid,
                    "workspace_id": wid,
                    "post_id": pid,
                    "integration_id": iid,
                    "status": "published",
                    "platform_post_id": str(1_790_000_000_000_000_000 + post_number),
                    "post_url": None,
                    "published_at": published,
                }
            )
            # last read at a random point of its tier's interval: about 2 % are due now
            interval = interval_for(NOW - published, policy.tiers) or timedelta(days=1)
            last = NOW - timedelta(seconds=rng.uniform(0, 1.02) * interval.total_seconds())
            last = max(last, published).replace(microsecond=0)
            due = policy.next_due(platform, published, last)
            out["states"].append(
                {
                    "post_target_id": tid,
                    "workspace_id": wid,
                    "last_attempt_at": last,
                    "last_success_at": last,
                    "next_due_at": due,
                    "outcome": "ok" if due else "frozen",
                    "error_code": None,
                    "error_message": None,
                    "consecutive_failures": 0,
                    "latest_snapshot_id": None,
                    "previous_snapshot_id": None,
                }
            )
        if len(out["integrations"]) == 200 or n == integrations - 1:
            yield dict(out)
            out = defaultdict(list)


def _analyze(engine: Engine) -> None:
    """Fresh statistics, as autovacuum would have them on a live database."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def seed_targets(db: BenchDatabase, targets: int, say: Callable[[str], None] = print) -> Engine:
    """The planning database (seeded once; reused while its row count matches)."""
    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM refresh_states")).scalar()
        if found == targets:
            say(f"using {db.name}: {targets:,} tracked targets")
            return engine
    except Exception:  # noqa: S110 - absent or unmigrated: seed it below
        pass
    engine.dispose()
    say(f"seeding {db.name}: {targets:,} tracked targets …")
    started = time.perf_counter()
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    policy = CollectionPolicy.from_settings(_settings(db))
    rng = random.Random(7)
    with engine.begin() as conn:
        for chunk in _chunks(targets, rng, policy):
            for model, key in (
                (Workspace, "workspaces"),
                (Integration, "integrations"),
                (Post, "posts"),
                (PostTarget, "targets"),
                (RefreshState, "states"),
            ):
                if chunk.get(key):
                    conn.execute(insert(model), chunk[key])
    _analyze(engine)
    say(f"seeded in {time.perf_counter() - started:.0f} s")
    return engine


# ---- planning --------------------------------------------------------------------------


def _capture_sql(engine: Engine, work: Callable[[], Any]) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def _replay(db: BenchDatabase, statements: list[tuple[str, Any]]) -> int:
    conn = db.connect()
    try:
        rows = 0
        for statement, parameters in statements:
            cursor = conn.cursor()
            cursor.execute(statement, parameters)
            rows += len(cursor.fetchall())
            cursor.close()
        return rows
    finally:
        conn.close()


def _seconds(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bench_planning(db: BenchDatabase, targets: int, runs: int) -> dict[str, Any]:
    engine = seed_targets(db, targets)
    rt = Runtime.from_settings(_settings(db), factory=make_sessionmaker(engine))
    result: dict[str, Any] = {}

    def plan() -> planner.Plan:
        with Session(engine) as session:
            return planner.plan(session, rt.settings, rt.policy, rt.clients, NOW)

    found = plan()
    statements = _capture_sql(engine, plan)
    due_sql = [statements[0]]
    assert "refresh_states" in due_sql[0][0]
    assert "next_due_at" in due_sql[0][0]
    due_rows = _replay(db, due_sql)
    result["due"] = due_rows
    result["chosen"] = found.targets
    result["frozen_by_policy"] = len(found.frozen)
    result["batches"] = len(found.batches(NOW))
    result["statements"] = len(statements)
    _replay(db, statements)  # warm caches for both sides
    samples: dict[str, list[float]] = {"plan_s": [], "bare_due_s": [], "bare_all_s": []}
    for _ in range(runs):  # interleaved, so that all three see the same machine load
        samples["plan_s"].append(_seconds(plan))
        samples["bare_due_s"].append(_seconds(lambda: _replay(db, due_sql)))
        samples["bare_all_s"].append(_seconds(lambda: _replay(db, statements)))
    result |= {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = ratio(result["plan_s"], result["bare_due_s"])
    result["ratio_all"] = ratio(result["plan_s"], result["bare_all_s"])
    engine.dispose()
    return result


# ---- capture throughput ----------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def _seed_capture(engine: Engine, fake: FakeX, count: int) -> None:
    integrations = max(count // X_PER_INTEGRATION, 1)
    workspaces = [uuid.uuid4() for _ in range(10)]
    ws_rows = [
        {"id": w, "name": f"Capture {n}", "timezone": "UTC", "mode": "live", "created_at": NOW}
        for n, w in enumerate(workspaces)
    ]
    rows: dict[str, list[dict[str, Any]]] = {"i": [], "p": [], "t": [], "s": [], "h": []}
    for n in range(integrations):
        account = fake.add_account(f"acct{n}")
        iid, wid = uuid.uuid4(), workspaces[n % len(workspaces)]
        rows["i"].append(
            {
                "id": iid,
                "workspace_id": wid,
                "platform": "twitter",
                "external_account_id": account.id,
                "username": account.username,
                "display_name": account.name,
                "status": "active",
                "synthetic": False,
                "analytics_enabled": True,
                "created_at": NOW,
            }
        )
        for k in range(X_PER_INTEGRATION):
            published = NOW - timedelta(minutes=30 + k)
            post = fake.add_post(account, created_at=published, impressions=100 + k, likes=k)
            pid, tid = uuid.uuid4(), uuid.uuid4()
            rows["p"].append(
                {"id": pid, "workspace_id": wid, "published_at": published, "created_at": NOW}
            )
            rows["t"].append(
                {
                    "id": tid,
                    "workspace_id": wid,
                    "post_id": pid,
                    "integration_id": iid,
                    "status": "published",
                    "platform_post_id": post.id,
                    "published_at": published,
                }
            )
            # a history of two readings, as a tracked post has (the latest pointers' case)
            older, newer = uuid.uuid4(), uuid.uuid4()
            for snapshot_id, minutes in ((older, 60), (newer, 30)):
                rows["h"].append(
                    {
                        "id": snapshot_id,
                        "workspace_id": wid,
                        "integration_id": iid,
                        "post_target_id": tid,
                        "impressions": 100,
                        "likes": 0,
                        "comments": 0,
                        "shares": 0,
                        "platform_data": {},
                        "captured_at": NOW - timedelta(minutes=minutes),
                        "capture_key": f"seed-{minutes}",
                    }
                )
            rows["s"].append(
                {
                    "post_target_id": tid,
                    "workspace_id": wid,
                    "last_attempt_at": NOW - timedelta(minutes=30),
                    "last_success_at": NOW - timedelta(minutes=30),
                    "next_due_at": NOW,
                    "outcome": "ok",
                    "consecutive_failures": 0,
                    "latest_snapshot_id": newer,
                    "previous_snapshot_id": older,
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Workspace), ws_rows)
        conn.execute(insert(Integration), rows["i"])
        conn.execute(
            insert(Post),
            [
                {**r, "content": "", "tags": [], "status": "published", "source": "api"}
                for r in rows["p"]
            ],
        )
        conn.execute(insert(PostTarget), rows["t"])
        conn.execute(insert(Snapshot), rows["h"])
        conn.execute(insert(RefreshState), rows["s"])
    _analyze(engine)


class _BareInsert:
    """The same rows as a capture batch, inserted through the driver in one transaction of
    the batch's size, nothing else (values prepared beforehand)."""

    def __init__(self, db: BenchDatabase, engine: Engine) -> None:
        self.sqlite = db.engine == "sqlite"
        with engine.connect() as conn:
            self.targets = conn.execute(
                text("SELECT id, workspace_id, integration_id FROM post_targets")
            ).all()
        self.conn = db.connect()
        if self.sqlite:  # the service's own connection settings (openpost.core.db)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        else:
            self.conn.autocommit = False
        mark = "?" if self.sqlite else "%s"
        self.statement = (
            "INSERT INTO snapshots (id, workspace_id, integration_id, post_target_id, "
            "impressions, likes, comments, shares, platform_data, captured_at, capture_key) "
            f"VALUES ({', '.join([mark] * 11)})"
        )
        self.data = orjson.dumps(
            {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 5,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 105,
            }
        ).decode()
        self.offset = 0

    def _id(self, value: Any) -> Any:
        value = uuid.UUID(str(value))
        return value.hex if self.sqlite else value

    def prepare(self, count: int, key: str) -> list[tuple[Any, ...]]:
        at = "2026-04-16 10:00:00.000000" if self.sqlite else NOW
        rows = []
        for _ in range(count):
            target, workspace, integration = self.targets[self.offset % len(self.targets)]
            self.offset += 1
            rows.append(
                (
                    self._id(uuid.uuid4()),
                    self._id(workspace),
                    self._id(integration),
                    self._id(target),
                    105,
                    5,
                    0,
                    0,
                    self.data,
                    at,
                    f"{key}-{self.offset // len(self.targets)}",
                )
            )
        return rows

    def run(self, rows: list[tuple[Any, ...]]) -> None:
        cursor = self.conn.cursor()
        cursor.executemany(self.statement, rows)
        cursor.close()
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def bench_capture(db: BenchDatabase, count: int, rounds: int) -> dict[str, Any]:
    """Each capture batch is timed, then a bare insert of as many rows: interleaved, so
    both see the same machine load."""
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    source = _Clock()
    clock.set_clock(source)
    bare: _BareInsert | None = None
    try:
        fake = FakeX(app_token=DEFAULT_APP_TOKEN)
        _seed_capture(engine, fake, count)
        rt = Runtime.from_settings(
            _settings(db),
            factory=make_sessionmaker(engine),
            transports={"twitter": fake.transport()},
        )
        bare = _BareInsert(db, engine)
        ours_s = bare_s = 0.0
        written = captured = 0
        for n in range(rounds):
            source.at = NOW + n * timedelta(minutes=31)
            _, batches = runner.plan_captures(rt, source.at)
            for batch in batches:
                started = time.perf_counter()
                result = capture_batch(rt.factory, rt.clients, rt.policy, batch)
                ours_s += time.perf_counter() - started
                written += result.written
                captured += len(batch.targets)
                rows = bare.prepare(len(batch.targets), "bare")
                started = time.perf_counter()
                bare.run(rows)
                bare_s += time.perf_counter() - started
        lookups = len(fake.calls("tweets_lookup"))
        rt.close()
    finally:
        clock.set_clock(None)
        if bare is not None:
            bare.close()
        engine.dispose()
        db.drop()
    ours_rate, bare_rate = written / ours_s, captured / bare_s
    return {
        "count": count,
        "written": written,
        "ours_per_s": round(ours_rate),
        "bare_per_s": round(bare_rate),
        "ratio": ratio(ours_rate, bare_rate),
        "lookups": lookups,
        "captured_x_posts": captured,
        "lookups_per_post": lookups / captured if captured else 0.0,
    }


# ---- reporting -------------------------------------------------------------------------


def render(engine: str, targets: int, planning: dict[str, Any], capture: dict[str, Any]) -> str:
    rows = [
        [
            f"planning: due set among {targets:,} tracked targets",
            f"{planning['plan_s'] * 1000:.0f} ms",
            f"{planning['bare_due_s'] * 1000:.0f} ms",
            f"{planning['ratio']}x (goal ≤ 3x)",
        ],
        [
            "planning vs every statement it runs",
            f"{planning['plan_s'] * 1000:.0f} ms",
            f"{planning['bare_all_s'] * 1000:.0f} ms",
            f"{planning['ratio_all']}x",
        ],
        [
            f"capture: {capture['count']:,} X posts through the fake, in-process",
            f"{capture['ours_per_s']:,} snapshots/s",
            f"{capture['bare_per_s']:,} rows/s",
            f"{capture['ratio']}x (goal ≥ 0.3x)",
        ],
        [
            "lookups per due X post",
            f"{capture['lookups']} / {capture['captured_x_posts']:,}",
            "",
            f"{capture['lookups_per_post']:.4f} (goal 0.0100)",
        ],
    ]
    return (
        f"### {engine}, {targets:,} tracked targets\n\n"
        f"Due now: {planning['due']:,} targets; the planner keeps {planning['chosen']:,} "
        f"(X's cap and window freeze {planning['frozen_by_policy']:,}) in "
        f"{planning['batches']:,} batches; {planning['statements']} statements per pass.\n\n"
        + table(["measure", "ours", "bare", "ratio"], rows)
        + f"\n\n{cpu_model()}; load {', '.join(f'{x:.2f}' for x in load_average())}; "
        f"code {code_measured()}; medians."
    )


def append(records: list[str]) -> None:
    """Write our section of RESULTS.md (``bench.sections``)."""
    write_section(
        HEADING,
        START,
        END,
        "Planning and capture beside the bare SQL (`bench/collection.py`, whose docstring "
        "describes the cases). Per batch of 100, a capture makes one request to the fake X "
        "(in-process) and, in two short transactions, checks the claims and the rate state, "
        "takes the row locks (reading each target's state and latest pointers in the same "
        "statement), records the rate window, inserts the snapshots, moves the latest "
        "pointers with each target's state; the bare side inserts the 100 rows and commits. "
        "The fake's own cost is part of ours: a 100-post lookup through it took 17.7 ms "
        "before 10325ce (deep copies of every post's metrics) and 6.9 ms after.\n\n"
        + "\n\n".join(records),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collection", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--capture", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--append", action="store_true", help="write the Collection section")
    args = parser.parse_args(argv)
    records = []
    for engine in args.engine or ["sqlite"]:
        name = (
            f"collection-{args.targets}"
            if engine == "sqlite"
            else f"openpost_bench_collection_{args.targets}"
        )
        db = locate(engine, 0, work_dir=args.work_dir, pg_server_url=args.pg_url, name=name)
        planning = bench_planning(db, args.targets, args.runs)
        capture_db = locate(
            engine,
            0,
            work_dir=args.work_dir,
            pg_server_url=args.pg_url,
            name="collection-capture" if engine == "sqlite" else "openpost_bench_capture",
        )
        capture = bench_capture(capture_db, args.capture, args.rounds)
        record = render(engine, args.targets, planning, capture)
        print(record)
        records.append(record)
    if args.append:
        append(records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
