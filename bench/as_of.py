"""``as_of`` answers beside the same answers without it (SPEC §9.6; issue 16: goal ≤ 1.2x).

On the bench database (``bench.seed``; seeded first if missing, migrated if older), a
uvicorn server of the app answers each case twice per sample, interleaved in alternating
order so both see the same load: once plain, once with ``as_of`` set to a time after the
newest reading, so that both answers hold the same rows (checked: the bodies are equal but
for ``next_refresh_at``, which the seeder plans with its own jitter, and the bounds of the
account periods, which end at ``as_of``).
A third figure asks ``as_of`` 3 days back: the same kind of work on older data (the post
is about ten days old).

Cases (the seeded workspace that holds half the data):
- ``list``: ``GET /v1/analytics?days=30&limit=500``;
- ``list_deep_cursor``: ``days=365`` with a cursor halfway through the workspace's rows;
- ``post``: ``GET /v1/analytics/post/{id}?days=30`` (three targets, ~200 history rows):
  as of a time, each target's two newest readings come from an index probe instead of
  the refresh state's pointers;
- ``account``: ``GET /v1/analytics/accounts/{id}?days=30``;
- ``export_latest``: ``GET /v1/analytics/export?view=latest&days=30`` (one row per target:
  as of a time, two probes per target instead of the pointers' join).

    .venv/bin/python -m bench.as_of --engine sqlite --engine postgresql --snapshots 1000000
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson
from sqlalchemy import func, select

from bench.api import deep_cursor
from bench.database import DEFAULT_WORK_DIR, locate
from bench.seed import bring_schema_up_to_date, seed
from bench.server import Server
from bench.stats import ratio, summary_ms, table
from openpost.analytics.models import Snapshot
from openpost.core.db import make_engine
from openpost.core.timefmt import format_time


def _cases(url: str, workspace: uuid.UUID, integration: str, post: str) -> dict[str, str]:
    cursor = deep_cursor(url, workspace, 365)
    return {
        "list": "/v1/analytics?" + urlencode({"days": 30, "limit": 500}),
        "list_deep_cursor": "/v1/analytics?"
        + urlencode({"days": 365, "limit": 500, "cursor": cursor}),
        "post": f"/v1/analytics/post/{post}?days=30",
        "account": f"/v1/analytics/accounts/{integration}?days=30",
        "export_latest": "/v1/analytics/export?view=latest&days=30",
    }


def _with(path: str, at: datetime) -> str:
    return f"{path}&{urlencode({'as_of': format_time(at)})}"


_MOVING = {"next_refresh_at", "since", "until"}


def _comparable(body: bytes) -> object:
    """The body, less ``next_refresh_at`` (the seeder plans its refresh states with its own
    jitter, where an as-of answer gives the collection policy's next reading) and the
    account periods' ``since``/``until`` (they end at now, or at ``as_of``)."""
    if not body.startswith(b"{"):
        return body

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _MOVING}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(orjson.loads(body))


def _get(client: httpx.Client, path: str) -> tuple[int, bytes]:
    started = time.perf_counter_ns()
    answer = client.get(path)
    elapsed = time.perf_counter_ns() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {answer.status_code} {answer.text[:200]}")
    return elapsed, answer.content


def run(
    engine_name: str, snapshots: int, *, samples: int, warmup: int, work_dir: Path
) -> list[list[object]]:
    db = locate(engine_name, snapshots, work_dir=work_dir)
    meta = db.meta()
    meta = seed(db) if meta is None else bring_schema_up_to_date(db, meta, print)
    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            newest = conn.scalar(select(func.max(Snapshot.captured_at)))
    finally:
        engine.dispose()
    assert newest is not None
    later = newest + timedelta(seconds=1)
    if later > datetime.now(UTC):
        raise RuntimeError("the seeded data reaches into the future; wait or reseed")
    earlier = newest - timedelta(days=3)
    workspace = uuid.UUID(meta.workspace_id)
    cases = _cases(db.url, workspace, meta.integration_id, meta.post_id)
    out: list[list[object]] = []
    log = work_dir / f"as-of-{db.name}.log"
    with (
        Server(db.url, log) as server,
        httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {meta.api_key}"},
            timeout=300,
        ) as client,
    ):
        for name, path in cases.items():
            n = samples if not name.startswith("export") else max(5, samples // 20)
            plain_body = _get(client, path)[1]
            if _comparable(_get(client, _with(path, later))[1]) != _comparable(plain_body):
                raise AssertionError(f"{name}: as_of after the newest reading changed the body")
            for _ in range(warmup if not name.startswith("export") else 1):
                _get(client, path)
                _get(client, _with(path, later))
            plain: list[int] = []
            now_as_of: list[int] = []
            back: list[int] = []
            for sample in range(n):
                order = [
                    (plain, path),
                    (now_as_of, _with(path, later)),
                    (back, _with(path, earlier)),
                ]
                if sample % 2:
                    order.reverse()
                for bucket, url in order:
                    bucket.append(_get(client, url)[0])
            p, a, b = summary_ms(plain), summary_ms(now_as_of), summary_ms(back)
            out.append(
                [
                    engine_name,
                    name,
                    f"{p['median_ms']:.2f} / {p['p95_ms']:.2f}",
                    f"{a['median_ms']:.2f} / {a['p95_ms']:.2f}",
                    f"{ratio(a['median_ms'], p['median_ms']):.2f}x",
                    f"{b['median_ms']:.2f} / {b['p95_ms']:.2f}",
                    f"{ratio(b['median_ms'], p['median_ms']):.2f}x",
                ]
            )
            print(" | ".join(str(cell) for cell in out[-1]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    args = parser.parse_args()
    rows: list[list[object]] = []
    for engine_name in args.engine or ["sqlite"]:
        rows += run(
            engine_name,
            args.snapshots,
            samples=args.samples,
            warmup=args.warmup,
            work_dir=args.work_dir,
        )
    headers = [
        "engine",
        "case",
        "plain p50 / p95 ms",
        "as_of=after newest p50 / p95 ms",
        "ratio",
        "as_of=3 days back p50 / p95 ms",
        "ratio",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
