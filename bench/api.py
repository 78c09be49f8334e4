"""Latency of the analytics read API over real HTTP, beside the same SQL run bare.

Cases (all in the seeded workspace that holds half the data):
- ``list``: ``GET /v1/analytics?days=30&limit=500``, the newest 500-row page;
- ``list_one_row``: the same with ``limit=1``: what a request costs beyond its rows;
- ``list_integration``: the same, filtered on the workspace's smallest integration;
- ``list_deep_cursor``: ``days=365`` with a cursor halfway through the workspace's rows;
- ``post``: ``GET /v1/analytics/post/{id}?days=30`` for a three-target post about ten
  days old (latest metrics, deltas, totals and ~200 history rows).

For each case the service function is called once in-process to capture its SQL
(``bench.bare``); then, after warm-up, each sample times one bare replay of that SQL and
one HTTP request (keep-alive ``httpx`` client, body fully read), interleaved so both see
the same machine load. Each case first checks that the API and the bare SQL return the
same rows. Several databases (sizes) can be measured in one run, interleaved sample by
sample, so that their ratio is not an artefact of the load drifting between runs.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.bare import Statement, capture, replay
from bench.database import BenchDatabase, Meta
from bench.profile import Recorder, describe, summarise
from bench.server import Server
from bench.stats import ratio, summary_ms
from openpost.analytics import service
from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker
from openpost.core.pagination import encode_cursor

PAGE = 500


@dataclass(frozen=True)
class Case:
    name: str
    url: str
    call: Callable[[Session], Any]
    check: Callable[[dict[str, Any], list[list[Any]]], int]  # returns rows compared


def _hex(value: Any) -> str:
    return uuid.UUID(str(value)).hex


def _check_page(body: dict[str, Any], bare: list[list[Any]], limit: int = PAGE) -> int:
    api_ids = [_hex(row["id"]) for row in body["data"]]
    bare_ids = [_hex(row[0]) for row in bare[-1]][:limit]
    if api_ids != bare_ids:
        raise AssertionError("the API page and the bare query disagree")
    if not api_ids:
        raise AssertionError("the page is empty: nothing was measured")
    return len(api_ids)


def _check_post(body: dict[str, Any], bare: list[list[Any]]) -> int:
    targets = body["data"]["targets"]
    history = sum(len(target["snapshots"]) for target in targets)
    # The targets query and the snapshots query follow each other (the followers of the
    # engagement rates, SPEC 9.5, are read after them).
    pairs = itertools.pairwise(bare)
    if not any(len(a) == len(targets) and len(b) == history for a, b in pairs):
        raise AssertionError("the API's post metrics and the bare queries disagree")
    if not history:
        raise AssertionError("the post has no history: nothing was measured")
    return history


def deep_cursor(database_url: str, workspace_id: uuid.UUID, days: int) -> str:
    """The cursor of the row halfway down the workspace's snapshots of the last ``days``."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            since = clock.now() - timedelta(days=days)
            scope = (Snapshot.workspace_id == workspace_id, Snapshot.captured_at >= since)
            total = session.scalar(select(func.count()).select_from(Snapshot).where(*scope))
            row = session.execute(
                select(Snapshot.captured_at, Snapshot.id)
                .where(*scope)
                .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
                .offset((total or 0) // 2)
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    return encode_cursor(row.captured_at, row.id)


def cases(db: BenchDatabase, meta: Meta) -> list[Case]:
    workspace = uuid.UUID(meta.workspace_id)
    integration = uuid.UUID(meta.integration_id)
    post = uuid.UUID(meta.post_id)
    cursor = deep_cursor(db.url, workspace, 365)

    def listing(**params: Any) -> Callable[[Session], Any]:
        def call(session: Session) -> Any:
            return service.list_snapshots(session, workspace, now=clock.now(), **params)

        return call

    def query(**params: Any) -> str:
        return urlencode({k: str(v) for k, v in params.items()})

    return [
        Case("list", f"/v1/analytics?{query(days=30, limit=PAGE)}", listing(days=30), _check_page),
        Case(
            "list_one_row",
            f"/v1/analytics?{query(days=30, limit=1)}",
            listing(days=30, limit=1),
            lambda body, bare: _check_page(body, bare, limit=1),
        ),
        Case(
            "list_integration",
            f"/v1/analytics?{query(days=30, limit=PAGE, integration_id=integration)}",
            listing(days=30, integration_id=integration),
            _check_page,
        ),
        Case(
            "list_deep_cursor",
            f"/v1/analytics?{query(days=365, limit=PAGE, cursor=cursor)}",
            listing(days=365, cursor=cursor),
            _check_page,
        ),
        Case(
            "post",
            f"/v1/analytics/post/{post}?days=30",
            lambda session: service.post_metrics(session, workspace, post, now=clock.now()),
            _check_post,
        ),
    ]


@dataclass
class _Prepared:
    case: Case
    statements: list[Statement]
    url: str
    rows: int
    response_bytes: int


@dataclass
class _Target:
    """One database under test: its server, client, bare connection and cases."""

    db: BenchDatabase
    server: Server
    client: httpx.Client
    connection: Any
    prepared: list[_Prepared]


def _prepare(client: httpx.Client, connection: Any, db: BenchDatabase, case: Case) -> _Prepared:
    """Capture the case's SQL and check that the API and the bare SQL agree."""
    statements, _ = capture(db.url, case.call)
    first = client.get(case.url)
    if first.status_code != 200:
        raise RuntimeError(f"{case.name}: HTTP {first.status_code} {first.text[:200]}")
    rows = case.check(orjson.loads(first.content), replay(connection, statements))
    return _Prepared(case, statements, case.url, rows, len(first.content))


def _time_once(target: _Target, prepared: _Prepared) -> tuple[int, int]:
    started = time.perf_counter_ns()
    replay(target.connection, prepared.statements)
    middle = time.perf_counter_ns()
    response = target.client.get(prepared.url)
    ended = time.perf_counter_ns()
    if response.status_code != 200:
        raise RuntimeError(f"{prepared.case.name}: HTTP {response.status_code}")
    return middle - started, ended - middle


def run_many(
    databases: list[tuple[BenchDatabase, Meta]],
    *,
    samples: int,
    warmup: int,
    log_dir: Path,
    say: Callable[[str], None] = print,
    profile_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Measure every case on every database, interleaving databases sample by sample so
    that comparisons across sizes see the same machine load (a shared machine drifts).

    With ``profile_dir``, each server is sampled by py-spy during each case's timed loop
    (which slows it: figures from such a run are for reading profiles, not for goals)."""
    with ExitStack() as stack:
        targets = []
        for db, meta in databases:
            server = stack.enter_context(Server(db.url, log_dir / f"server-{db.name}-api.log"))
            headers = {"Authorization": f"Bearer {meta.api_key}"}
            client = stack.enter_context(
                httpx.Client(base_url=server.base_url, headers=headers, timeout=120)
            )
            connection = db.connect()
            stack.callback(connection.close)
            prepared = [_prepare(client, connection, db, case) for case in cases(db, meta)]
            targets.append(_Target(db, server, client, connection, prepared))

        results: list[dict[str, Any]] = [{} for _ in targets]
        for index, case in enumerate(targets[0].prepared):
            say(f"  {case.case.name}: {samples} samples x {len(targets)} database(s)")
            timings: list[tuple[list[int], list[int]]] = [([], []) for _ in targets]
            for _ in range(warmup):
                for target in targets:
                    _time_once(target, target.prepared[index])
            with ExitStack() as recording:
                profiles = []
                if profile_dir is not None:
                    for target in targets:
                        path = profile_dir / f"{target.db.name}-{case.case.name}.txt"
                        recording.enter_context(Recorder(target.server.pid, path))
                        profiles.append(path)
                for sample in range(samples):
                    order = list(enumerate(targets))
                    if sample % 2:
                        order.reverse()
                    for t, target in order:
                        bare_ns, api_ns = _time_once(target, target.prepared[index])
                        timings[t][0].append(bare_ns)
                        timings[t][1].append(api_ns)
            for t, target in enumerate(targets):
                done = target.prepared[index]
                bare, api = summary_ms(timings[t][0]), summary_ms(timings[t][1])
                results[t][done.case.name] = {
                    "url": done.url,
                    "rows": done.rows,
                    "response_bytes": done.response_bytes,
                    "statements": [s.sql for s in done.statements],
                    "bare": bare,
                    "api": api,
                    "ratio_median": ratio(api["median_ms"], bare["median_ms"]),
                    "ratio_p95": ratio(api["p95_ms"], bare["p95_ms"]),
                }
                if profiles:
                    summary = summarise(profiles[t])
                    results[t][done.case.name]["profile"] = summary
                    say(f"  {target.db.name} {done.case.name} profile ({profiles[t]}):")
                    say(describe(summary))
        for t, target in enumerate(targets):
            results[t]["server_memory_kib"] = target.server.memory_kib()
            results[t]["interleaved_with"] = [db.snapshots for db, _ in databases]
    return results


def run(
    db: BenchDatabase,
    meta: Meta,
    *,
    samples: int,
    warmup: int,
    log_dir: Path,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    return run_many([(db, meta)], samples=samples, warmup=warmup, log_dir=log_dir, say=say)[0]
