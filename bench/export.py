"""CSV export throughput over real HTTP, beside the database's own CSV dump.

``GET /v1/analytics/export?view=snapshots&since=…`` streams every snapshot of the seeded
workspace's last 365 days (a fixed ``since``, so every repeat exports the same rows). The
baseline has the database write the same rows and columns as CSV itself: a hand-written
SELECT equivalent to the export (the export builds its rows from two statements, snapshots
plus a cached per-target lookup, so there is no single statement of its own to replay),
with ids and times formatted in SQL as the export writes them, run by ``sqlite3 -csv``
(the command-line shell) or by PostgreSQL ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` via
``psql``. Both outputs are read through a pipe in 64 KiB chunks by this process, so both
pay the same client-side cost; the row counts must agree.

One untimed dump first reads the rows into the OS page cache, so neither side is timed
cold. Memory: a fresh server process per run; its resident high-water mark (``VmHWM``) is reset
just before each export (``/proc/<pid>/clear_refs``) and read after it.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.database import BenchDatabase, Meta
from bench.server import Server
from bench.stats import ratio
from openpost.core import clock

DAYS = 365
CHUNK = 64 * 1024

SQLITE_DUMP = """
SELECT {uuid_s_id} AS snapshot_id, strftime('%Y-%m-%dT%H:%M:%SZ', s.captured_at) AS captured_at,
       {uuid_t_post_id} AS post_id, {uuid_s_post_target_id} AS post_target_id,
       {uuid_s_integration_id} AS integration_id, i.platform, i.username, t.post_url,
       s.impressions, s.likes, s.comments, s.shares, s.platform_data
FROM snapshots s
JOIN post_targets t ON t.id = s.post_target_id
JOIN integrations i ON i.id = s.integration_id
WHERE s.workspace_id = '{workspace}' AND s.captured_at >= '{since}'
ORDER BY s.captured_at DESC, s.id DESC
"""

POSTGRESQL_DUMP = """
SELECT s.id AS snapshot_id,
       to_char(s.captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS captured_at,
       t.post_id, s.post_target_id, s.integration_id, i.platform, i.username, t.post_url,
       s.impressions, s.likes, s.comments, s.shares, s.platform_data
FROM snapshots s
JOIN post_targets t ON t.id = s.post_target_id
JOIN integrations i ON i.id = s.integration_id
WHERE s.workspace_id = '{workspace}' AND s.captured_at >= '{since}'
ORDER BY s.captured_at DESC, s.id DESC
"""


def available() -> bool:
    """Whether the export endpoint exists in the code being measured."""
    import tempfile

    from openpost.app import create_app
    from openpost.config import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(env="development", database_url="sqlite://", data_dir=Path(scratch))
        app = create_app(settings)
        try:
            return "/v1/analytics/export" in app.openapi().get("paths", {})
        finally:
            app.state.engine.dispose()


def _sqlite_uuid(column: str) -> str:
    """A 32-hex-digit UUID column (SQLAlchemy's SQLite storage) as canonical text."""
    parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    return " || '-' || ".join(f"substr({column}, {start}, {length})" for start, length in parts)


def dump_sql(engine: str, workspace_id: uuid.UUID, since: datetime) -> str:
    """The export's rows and columns as one SELECT (ids, values: our own constants)."""
    if engine == "sqlite":
        return SQLITE_DUMP.format(
            uuid_s_id=_sqlite_uuid("s.id"),
            uuid_t_post_id=_sqlite_uuid("t.post_id"),
            uuid_s_post_target_id=_sqlite_uuid("s.post_target_id"),
            uuid_s_integration_id=_sqlite_uuid("s.integration_id"),
            workspace=workspace_id.hex,
            since=since.strftime("%Y-%m-%d %H:%M:%S.000000"),  # SQLAlchemy's storage form
        ).strip()
    return POSTGRESQL_DUMP.format(
        workspace=workspace_id, since=since.strftime("%Y-%m-%d %H:%M:%S+00")
    ).strip()


def dump_command(db: BenchDatabase, sql: str) -> list[str]:
    if db.engine == "sqlite":
        binary = shutil.which("sqlite3")
        if binary is None:
            raise RuntimeError("the sqlite3 shell is missing: apt-get install sqlite3")
        return [binary, "-csv", "-header", str(db.path), sql]
    binary = shutil.which("psql")
    if binary is None:
        raise RuntimeError("psql is missing: apt-get install postgresql-client")
    copy = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
    return [binary, "-X", "-q", "-d", db.conninfo, "-c", copy]


def _count_lines(chunks: Callable[[], bytes]) -> tuple[int, int, str]:
    """Lines and bytes of a CSV stream, and the first cell of its first data row."""
    lines = size = 0
    head = b""
    while chunk := chunks():
        lines += chunk.count(b"\n")
        size += len(chunk)
        if len(head) < 4096:
            head += chunk[:4096]
    rows = head.split(b"\n")
    first = rows[1].split(b",")[0].decode() if len(rows) > 2 else ""
    return lines, size, first


def time_dump(command: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:  # noqa: S603 - ours
        out = process.stdout
        assert out is not None
        lines, size, first = _count_lines(lambda: out.read(CHUNK))
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed with exit code {process.returncode}")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": lines - 1, "bytes": size, "first": first}


def time_http(client: httpx.Client, url: str) -> dict[str, Any]:
    started = time.perf_counter()
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export: HTTP {response.status_code} {response.read()[:200]!r}")
        content_type = response.headers.get("content-type", "")
        stream = response.iter_raw(CHUNK)
        lines, size, first = _count_lines(lambda: next(stream, b""))
    return {
        "seconds": time.perf_counter() - started,
        "rows": lines - 1,
        "bytes": size,
        "content_type": content_type,
        "first": first,
    }


def run(
    db: BenchDatabase,
    meta: Meta,
    *,
    repeats: int,
    log_dir: Path,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    since = clock.now() - timedelta(days=DAYS)
    sql = dump_sql(db.engine, uuid.UUID(meta.workspace_id), since)
    command = dump_command(db, sql)
    tool = "sqlite3 -csv" if db.engine == "sqlite" else "psql COPY … TO STDOUT (FORMAT csv)"
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"/v1/analytics/export?view=snapshots&since={quote(stamp)}"
    http_runs: list[dict[str, Any]] = []
    dump_runs: list[dict[str, Any]] = []
    peaks: list[int] = []
    with Server(db.url, log_dir / f"server-{db.name}-export.log") as server:
        headers = {"Authorization": f"Bearer {meta.api_key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=3600) as client:
            client.get("/v1/analytics?limit=1").raise_for_status()  # imports, pool, auth
            client.get("/v1/analytics/export?view=snapshots&days=1").raise_for_status()
            say("  warming the OS page cache with one untimed dump")
            time_dump(command)
            before = server.memory_kib()
            reset = server.reset_peak()
            for n in range(repeats):
                if reset:
                    server.reset_peak()
                http_runs.append(time_http(client, url))
                peaks.append(server.memory_kib()["VmHWM"])
                dump_runs.append(time_dump(command))
                say(
                    f"  export {n + 1}/{repeats}: HTTP {http_runs[-1]['rows']:,} rows "
                    f"in {http_runs[-1]['seconds']:.2f} s; {tool} {dump_runs[-1]['rows']:,} "
                    f"rows in {dump_runs[-1]['seconds']:.2f} s"
                )
    rows = {r["rows"] for r in http_runs} | {r["rows"] for r in dump_runs}
    if len(rows) != 1:
        raise AssertionError(f"the export and the dump disagree on the row count: {rows}")
    firsts = {r["first"] for r in http_runs} | {r["first"] for r in dump_runs}
    if len(firsts) != 1:
        raise AssertionError(f"the export and the dump start with different rows: {firsts}")
    exported = rows.pop()
    http_seconds = statistics.median(r["seconds"] for r in http_runs)
    dump_seconds = statistics.median(r["seconds"] for r in dump_runs)
    return {
        "url": url,
        "rows": exported,
        "api": {
            "seconds": [round(r["seconds"], 3) for r in http_runs],
            "rows_per_s": round(exported / http_seconds),
            "bytes": http_runs[0]["bytes"],
            "content_type": http_runs[0]["content_type"],
        },
        "db": {
            "tool": tool,
            "seconds": [round(r["seconds"], 3) for r in dump_runs],
            "rows_per_s": round(exported / dump_seconds),
            "bytes": dump_runs[0]["bytes"],
            "statement": sql,
        },
        "ratio": ratio(dump_seconds, http_seconds),
        "memory": {
            "before_kib": before["VmRSS"],
            "peak_kib": max(peaks),
            "peak_is_per_export": reset,
        },
    }
