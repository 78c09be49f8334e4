"""CSV export throughput over real HTTP, beside the database's own CSV dump.

``GET /v1/analytics/export?view=snapshots&days=365`` streams every snapshot of the seeded
workspace's last year. The baseline runs the export's own SELECT (captured from
``openpost.analytics.export`` as it executes, parameters inlined) through the database's
CSV dumper: ``sqlite3 -csv`` (the command-line shell), or PostgreSQL
``COPY (SELECT …) TO STDOUT (FORMAT csv)`` via ``psql``. Both outputs are read through a
pipe in 64 KiB chunks by this process, so both pay the same client-side cost.

Memory: a fresh server process per run; its resident high-water mark (``VmHWM``) is reset
just before each export (``/proc/<pid>/clear_refs``), and read after it.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.bare import Statement
from bench.database import BenchDatabase, Meta
from bench.server import Server
from bench.stats import ratio
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker

DAYS = 365
CHUNK = 64 * 1024


def available() -> bool:
    """Whether the export endpoint exists in this checkout."""
    import tempfile

    from openpost.app import create_app
    from openpost.config import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(env="development", database_url="sqlite://", data_dir=Path(scratch))
        app = create_app(settings)
        try:
            return any(getattr(r, "path", "") == "/v1/analytics/export" for r in app.routes)
        finally:
            app.state.engine.dispose()


def capture_statement(database_url: str, workspace_id: uuid.UUID, now: datetime) -> Statement:
    """The SELECT the export runs for ``days=DAYS``, as sent to the driver."""
    from sqlalchemy import event

    from openpost.analytics import export

    engine = make_engine(database_url)
    seen: list[Statement] = []

    def record(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append(Statement(sql, params))

    event.listen(engine, "before_cursor_execute", record)
    factory = make_sessionmaker(engine)
    try:
        with factory() as session:
            request = export.parse_request(now=now, days=DAYS, view="snapshots")
            stream = export.open_export(session, factory, workspace_id, request, now=now)
            chunks = stream.chunks
            next(chunks, None)  # runs the query; the first chunk is enough
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    finally:
        engine.dispose()
    selects = [s for s in seen if "snapshots" in s.sql and s.sql.lstrip().startswith("SELECT")]
    return selects[-1]


def _sqlite_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def inline_sqlite(statement: Statement) -> str:
    """The statement with its ``?`` parameters written in as SQL literals."""
    parts = statement.sql.split("?")
    params = list(statement.params)
    if len(parts) != len(params) + 1:
        raise ValueError("cannot inline: placeholder count differs from parameter count")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out += [_sqlite_literal(value), rest]
    return "".join(out)


def dump_command(db: BenchDatabase, statement: Statement) -> list[str]:
    if db.engine == "sqlite":
        binary = shutil.which("sqlite3")
        if binary is None:
            raise RuntimeError("the sqlite3 shell is missing: apt-get install sqlite3")
        return [binary, "-csv", "-header", str(db.path), inline_sqlite(statement)]
    binary = shutil.which("psql")
    if binary is None:
        raise RuntimeError("psql is missing: apt-get install postgresql-client")
    with psycopg.connect(db.conninfo) as conn:
        select = psycopg.ClientCursor(conn).mogrify(statement.sql, statement.params)
    return [binary, "-X", "-q", "-d", db.conninfo, "-c",
            f"COPY ({select}) TO STDOUT (FORMAT csv, HEADER)"]  # fmt: skip


def _count_lines(chunks: Callable[[], bytes]) -> tuple[int, int]:
    lines = size = 0
    while chunk := chunks():
        lines += chunk.count(b"\n")
        size += len(chunk)
    return lines, size


def time_dump(command: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)  # noqa: S603 - our arguments
    assert process.stdout is not None
    lines, size = _count_lines(lambda: process.stdout.read(CHUNK))  # type: ignore[union-attr]
    if process.wait() != 0:
        raise RuntimeError(f"{command[0]} failed with exit code {process.returncode}")
    return {"seconds": time.perf_counter() - started, "rows": lines - 1, "bytes": size}


def time_http(client: httpx.Client, url: str) -> dict[str, Any]:
    started = time.perf_counter()
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export: HTTP {response.status_code} {response.read()[:200]!r}")
        content_type = response.headers.get("content-type", "")
        stream = response.iter_raw(CHUNK)
        lines, size = _count_lines(lambda: next(stream, b""))
    return {
        "seconds": time.perf_counter() - started,
        "rows": lines - 1,
        "bytes": size,
        "content_type": content_type,
    }


def run(
    db: BenchDatabase,
    meta: Meta,
    *,
    repeats: int,
    log_dir: Path,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    workspace = uuid.UUID(meta.workspace_id)
    statement = capture_statement(db.url, workspace, clock.now())
    command = dump_command(db, statement)
    tool = "sqlite3 -csv" if db.engine == "sqlite" else "psql COPY … TO STDOUT (FORMAT csv)"
    url = f"/v1/analytics/export?view=snapshots&days={DAYS}"
    http_runs: list[dict[str, Any]] = []
    dump_runs: list[dict[str, Any]] = []
    peaks: list[int] = []
    with Server(db.url, log_dir / f"server-{db.name}-export.log") as server:
        headers = {"Authorization": f"Bearer {meta.api_key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=3600) as client:
            client.get("/v1/analytics?limit=1").raise_for_status()  # imports, pool, auth
            client.get("/v1/analytics/export?view=snapshots&days=1").raise_for_status()
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
            "statement": statement.sql,
        },
        "ratio": ratio(dump_seconds, http_seconds),
        "memory": {
            "before_kib": before["VmRSS"],
            "peak_kib": max(peaks),
            "peak_is_per_export": reset,
        },
    }
