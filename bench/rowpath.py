"""Where the 500-row page's time goes, in-process: the service as it is beside candidate fixes.

    .venv/bin/python -m bench.rowpath --engine sqlite --snapshots 1000000 [--commit REV]

Times, interleaved and without HTTP, the bare SQL (``bench.bare``), the service's
``list_snapshots`` + ``json_response`` as they are (``as_is``; since commit 061adbd the
service does what ``sql_text`` does), and variants of the page as the service read it up to
commit 483c805 that each remove one per-row cost, cumulatively:

1. ``core``: the same SELECT through ``Connection.execute`` (no ORM result layer);
2. ``uuid``: + ids left as ``uuid.UUID`` for orjson to write (no ``str()`` per id);
3. ``orjson``: + an engine whose JSON deserializer is ``orjson.loads`` (not ``json.loads``);
4. ``sql_text``: ids and times formatted by the database as the export does, and
   ``platform_data`` passed through as its stored JSON text (``orjson.Fragment``), so no
   UUID, datetime or dict is built per row.

Every variant must produce the same JSON as the service (checked first). Nothing here is
used by the service: it measures what a change would buy before anyone makes it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, String, Text, cast, create_engine, func, literal_column, select
from sqlalchemy import type_coerce as coerce
from sqlalchemy.orm import Session

from bench.bare import capture, replay
from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, ENGINES, locate
from bench.machine import SNAPSHOT_ENV
from openpost.analytics import service
from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker
from openpost.core.timefmt import format_time
from openpost.core.web import data
from openpost.integrations.models import Integration
from openpost.posts.models import PostTarget

PAGE = 500


def _page_query(workspace_id: uuid.UUID, columns: Sequence[Any]) -> Any:
    """``list_snapshots``' statement (first page, 30 days) with other output columns."""
    return (
        select(*columns)
        .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
        .join(Integration, Integration.id == Snapshot.integration_id)
        .where(
            Snapshot.captured_at >= clock.now() - timedelta(days=30),
            Snapshot.workspace_id == workspace_id,
        )
        .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
        .limit(PAGE + 1)
    )


# The page's columns and row as the service read them before it formatted text in SQL
# (commit 483c805 and earlier), so that the variants below measure from the same start
# whichever revision's service ``as_is`` is.
_ORM_COLUMNS = (
    PostTarget.published_at,
    Snapshot.id,
    Snapshot.post_target_id,
    Snapshot.integration_id,
    PostTarget.post_id,
    Integration.platform,
    Snapshot.impressions,
    Snapshot.likes,
    Snapshot.comments,
    Snapshot.shares,
    Snapshot.platform_data,
    Snapshot.captured_at,
)


# Code that marks provisional readings (SPEC 9.2) writes ``provisional`` after
# ``captured_at``; older revisions (``--commit``) do not, and the variants follow the
# service they are compared with.
try:
    from openpost.analytics.provisional import settle_time
except ImportError:  # a revision before provisional readings
    settle_time = None  # type: ignore[assignment]  # (a module-level flag for old code)


def _provisional(platform: str, published: Any, captured_text: str) -> dict[str, bool]:
    """``{"provisional": …}``: read before the platform's numbers settle (nothing for
    older code). ``captured_text`` is the time as the row writes it, which compares as
    text with another time written the same way."""
    if settle_time is None:
        return {}
    if published is None:
        return {"provisional": False}
    return {"provisional": captured_text < format_time(published + settle_time(platform))}


def _orm_row(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "post_target_id": str(row.post_target_id),
        "integration_id": str(row.integration_id),
        "post_id": str(row.post_id),
        "platform": row.platform,
        "impressions": row.impressions,
        "likes": row.likes,
        "comments": row.comments,
        "shares": row.shares,
        "platform_data": row.platform_data or {},
        "captured_at": format_time(row.captured_at),
        **_provisional(row.platform, row.published_at, format_time(row.captured_at)),
    }


def _uuid_objects_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "post_target_id": row.post_target_id,
        "integration_id": row.integration_id,
        "post_id": row.post_id,
        "platform": row.platform,
        "impressions": row.impressions,
        "likes": row.likes,
        "comments": row.comments,
        "shares": row.shares,
        "platform_data": row.platform_data or {},
        "captured_at": format_time(row.captured_at),
        **_provisional(row.platform, row.published_at, format_time(row.captured_at)),
    }


def _text_columns(dialect: str) -> tuple[Any, ...]:
    def as_text(column: Any) -> Any:
        # SQLite stores 32 hex digits (dashed in Python below); PostgreSQL casts to text.
        return coerce(column, String) if dialect == "sqlite" else cast(column, Text)

    if dialect == "sqlite":
        captured = func.strftime("%Y-%m-%dT%H:%M:%SZ", coerce(Snapshot.captured_at, String))
    else:
        utc = Snapshot.captured_at.op("AT TIME ZONE")(literal_column("'UTC'"))
        captured = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return (
        PostTarget.published_at,
        as_text(Snapshot.id),
        as_text(Snapshot.post_target_id),
        as_text(Snapshot.integration_id),
        as_text(PostTarget.post_id),
        Integration.platform,
        Snapshot.impressions,
        Snapshot.likes,
        Snapshot.comments,
        Snapshot.shares,
        cast(Snapshot.platform_data, Text),
        captured,
    )


def _dashed(value: str) -> str:
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def variants(
    engine: Engine, fast_json: Engine, workspace_id: uuid.UUID
) -> dict[str, Callable[[], bytes]]:
    plain = make_sessionmaker(engine)
    orjson_sessions = make_sessionmaker(fast_json)
    dialect = engine.dialect.name
    text_columns = _text_columns(dialect)
    fix: Callable[[str], str] = _dashed if dialect == "sqlite" else str

    def rows(session: Session, columns: Sequence[Any]) -> Sequence[Any]:
        return session.connection().execute(_page_query(workspace_id, columns)).all()[:PAGE]

    def as_is() -> bytes:
        with plain() as session:
            page = service.list_snapshots(session, workspace_id, now=clock.now(), days=30)
            return bytes(data(page.rows, next_cursor=page.next_cursor).body)

    def core() -> bytes:
        with plain() as session:
            found = rows(session, _ORM_COLUMNS)
            return orjson.dumps({"data": [_orm_row(r) for r in found]})

    def uuid_objects() -> bytes:
        with plain() as session:
            found = rows(session, _ORM_COLUMNS)
            return orjson.dumps({"data": [_uuid_objects_row(r) for r in found]})

    def orjson_loads() -> bytes:
        with orjson_sessions() as session:
            found = rows(session, _ORM_COLUMNS)
            return orjson.dumps({"data": [_uuid_objects_row(r) for r in found]})

    def sql_text() -> bytes:
        with plain() as session:
            found = rows(session, text_columns)
            out = [
                {
                    "id": fix(a),
                    "post_target_id": fix(b),
                    "integration_id": fix(c),
                    "post_id": fix(d),
                    "platform": platform,
                    "impressions": impressions,
                    "likes": likes,
                    "comments": comments,
                    "shares": shares,
                    "platform_data": orjson.Fragment(raw),
                    "captured_at": captured,
                    **_provisional(platform, published, captured),
                }
                for (
                    published,
                    a,
                    b,
                    c,
                    d,
                    platform,
                    impressions,
                    likes,
                    comments,
                    shares,
                    raw,
                    captured,
                ) in found
            ]
            return orjson.dumps({"data": out})

    return {
        "as_is": as_is,
        "core": core,
        "uuid": uuid_objects,
        "orjson": orjson_loads,
        "sql_text": sql_text,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rowpath", description=__doc__)
    parser.add_argument("--engine", choices=ENGINES, required=True)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--db-prefix", help="the database is <prefix><snapshots>")
    parser.add_argument("--commit", help="measure this revision's src/ (e.g. HEAD)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.commit and SNAPSHOT_ENV not in os.environ:
        from bench.__main__ import measure_commit

        measure_commit(args.commit, args.work_dir, argv, module="bench.rowpath")
    db = locate(
        args.engine,
        args.snapshots,
        work_dir=args.work_dir,
        pg_server_url=args.pg_url,
        prefix=args.db_prefix,
    )
    meta = db.meta()
    if meta is None:
        parser.error(f"{db.name} is not seeded: python -m bench seed first")
    workspace_id = uuid.UUID(meta.workspace_id)
    engine = make_engine(db.url)
    fast_json = create_engine(db.url, json_deserializer=orjson.loads)
    statements, _ = capture(
        db.url, lambda s: service.list_snapshots(s, workspace_id, now=clock.now(), days=30)
    )
    connection = db.connect()
    try:
        candidates: dict[str, Callable[[], Any]] = {
            "bare": lambda: replay(connection, statements),
            **variants(engine, fast_json, workspace_id),
        }
        expected = orjson.loads(candidates["as_is"]())["data"]
        for name in ("core", "uuid", "orjson", "sql_text"):
            if orjson.loads(candidates[name]())["data"] != expected:
                raise AssertionError(f"{name} does not produce the service's JSON")
        timings: dict[str, list[int]] = {name: [] for name in candidates}
        names = list(candidates)
        for sample in range(-5, args.samples):
            for name in names if sample % 2 else reversed(names):
                started = time.perf_counter_ns()
                candidates[name]()
                if sample >= 0:
                    timings[name].append(time.perf_counter_ns() - started)
    finally:
        connection.close()
        engine.dispose()
        fast_json.dispose()
    base = statistics.median(timings["as_is"])
    print(f"{db.engine}, {meta.snapshots:,} snapshots, {args.samples} interleaved samples")
    for name in names:
        median = statistics.median(timings[name])
        print(f"  {name:9s} {median / 1e6:8.2f} ms   {median / base:5.2f} of as_is")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
