"""The benchmark harness at a tiny size, so it cannot rot. Nothing here asserts on speed.

Runs on SQLite, or on PostgreSQL when ``OPENPOST_TEST_DATABASE_URL`` is set (a database
of its own is created and dropped). Each benchmark starts a real uvicorn process on a
loopback port.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.__main__ import main
from bench.database import BenchDatabase, Meta, locate
from bench.seed import SCHEDULES, seed
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bench import api, export, profile, report, results, rowpath
from openpost.core.db import make_engine

SIZE = 2_000
PG_URL = os.environ.get("OPENPOST_TEST_DATABASE_URL", "")
ENGINE = "postgresql" if PG_URL else "sqlite"


def _locate(work_dir: Path, label: str) -> BenchDatabase:
    prefix = f"openpost_bench_test_{label}_{uuid.uuid4().hex[:8]}_"
    if PG_URL:
        return locate(ENGINE, SIZE, work_dir=work_dir, pg_server_url=PG_URL, prefix=prefix)
    return locate(ENGINE, SIZE, work_dir=work_dir, prefix=prefix)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BenchDatabase, Meta]]:
    db = _locate(tmp_path_factory.mktemp("bench"), "seed")
    meta = seed(db, say=lambda _line: None)
    yield db, meta
    db.drop()


def test_seed_writes_about_the_requested_snapshots(seeded: tuple[BenchDatabase, Meta]) -> None:
    db, meta = seeded
    assert SIZE <= meta.snapshots < SIZE + 3 * max(len(s) for s in SCHEDULES.values())
    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            counted = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - table names are our constants
                for table in meta.rows
            }
            per_target = conn.execute(
                text(
                    "SELECT i.platform, max(n) FROM (SELECT post_target_id, integration_id, "
                    "count(*) AS n FROM snapshots GROUP BY post_target_id, integration_id) s "
                    "JOIN integrations i ON i.id = s.integration_id GROUP BY i.platform"
                )
            ).all()
            nulls = conn.execute(
                text("SELECT count(*) FROM snapshots WHERE impressions IS NULL")
            ).scalar_one()
    finally:
        engine.dispose()
    assert counted == meta.rows
    assert all(most <= len(SCHEDULES[platform]) for platform, most in per_target)
    assert nulls > 0, "Bluesky/Mastodon readings should leave impressions unreported"


def test_refresh_states_point_at_each_targets_two_newest_snapshots(
    seeded: tuple[BenchDatabase, Meta],
) -> None:
    db, _ = seeded
    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            states = conn.execute(
                text(
                    "SELECT post_target_id, latest_snapshot_id, previous_snapshot_id "
                    "FROM refresh_states"
                )
            ).all()
            newest = conn.execute(
                text("SELECT post_target_id, id FROM snapshots ORDER BY captured_at DESC, id DESC")
            ).all()
            targets = conn.execute(text("SELECT count(*) FROM post_targets")).scalar_one()
    finally:
        engine.dispose()
    by_target: dict[object, list[object]] = {}
    for target, snapshot in newest:
        by_target.setdefault(target, []).append(snapshot)
    assert len(states) == targets
    for target, latest, previous in states:
        two = [*by_target.get(target, []), None, None][:2]
        assert [latest, previous] == two


def test_seeded_database_has_the_real_schema_and_statistics(
    seeded: tuple[BenchDatabase, Meta],
) -> None:
    db, _ = seeded
    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text("UPDATE snapshots SET likes = 0"))
            conn.rollback()
            if db.engine == "sqlite":
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
                stats = conn.execute(
                    text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'snapshots'")
                ).scalar_one()
            else:
                stats = conn.execute(
                    text("SELECT count(*) FROM pg_stats WHERE tablename = 'snapshots'")
                ).scalar_one()
    finally:
        engine.dispose()
    assert stats > 0, "ANALYZE should have run"


def test_cli_runs_the_benchmarks_saves_and_reports(tmp_path: Path) -> None:
    """One end-to-end run (each benchmark starts a server, which is the slow part)."""
    prefix = f"openpost_bench_test_cli_{uuid.uuid4().hex[:8]}_"
    common = ["--engine", ENGINE, "--work-dir", str(tmp_path), "--db-prefix", prefix]
    if PG_URL:
        common += ["--pg-url", PG_URL]
    out = tmp_path / "results"
    sizes = [SIZE, SIZE + 500]  # two sizes: the API cases run interleaved across both
    argv = ["run", *common, "--snapshots", f"{sizes[0]},{sizes[1]}", "--samples", "3"]
    argv += ["--warmup", "1", "--repeats", "1", "--results-dir", str(out), "--drop"]
    assert main(argv) == 0
    assert not list(tmp_path.glob(f"{prefix}*.json")), "--drop should remove the databases"

    saved = results.load_all(out)
    kinds = ["api", "export"] if export.available() else ["api"]
    assert sorted((r["snapshots_requested"], r["kind"]) for r in saved) == [
        (size, kind) for size in sizes for kind in kinds
    ]
    for record in saved:
        assert record["engine"] == ENGINE
        assert record["command"].startswith(".venv/bin/python -m bench run --engine")
        if record["kind"] != "api":
            continue
        figures = record["results"]
        assert figures["interleaved_with"] == sizes
        for case in ("list", "list_integration", "list_deep_cursor", "post"):
            assert figures[case]["rows"] > 0
            assert figures[case]["statements"]
            assert figures[case]["api"]["samples"] == figures[case]["bare"]["samples"] == 3
            assert figures[case]["api"]["median_ms"] > 0 < figures[case]["bare"]["median_ms"]
        assert figures["list_deep_cursor"]["rows"] == api.PAGE
        assert figures["server_memory_kib"]["VmHWM"] > 0

    document = tmp_path / "RESULTS.md"
    document.write_text(f"# Results\n\nAnalysis.\n\n{report.BEGIN}\nold\n{report.END}\n\nAfter.\n")
    assert main(["report", "--results-dir", str(out), "--output", str(document)]) == 0
    written = document.read_text()
    assert "old" not in written
    assert written.startswith("# Results\n\nAnalysis.\n\n")
    assert written.endswith("\n\nAfter.\n")
    assert "| list_deep_cursor" in written
    assert "| sqlite " in written or "| postgresql " in written
    assert "### API latency as the data grows" in written


def test_rowpath_variants_match_the_service_and_are_timed(
    seeded: tuple[BenchDatabase, Meta], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = seeded
    argv = ["--engine", db.engine, "--snapshots", str(SIZE), "--samples", "2"]
    argv += ["--work-dir", str(db.work_dir), "--db-prefix", db.name.removesuffix(str(SIZE))]
    if PG_URL:
        argv += ["--pg-url", PG_URL]
    assert rowpath.main(argv) == 0  # raises if a variant's JSON differs from the service's
    printed = capsys.readouterr().out
    for name in ("bare", "as_is", "core", "uuid", "orjson", "sql_text"):
        assert f"  {name} " in printed


def test_profile_summary_leaves_idle_threads_out(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "main (a.py:1);route (openpost/analytics/routes.py:9);row (openpost/x.py:3) 6\n"
        "main (a.py:1);route (openpost/analytics/routes.py:9) 2\n"
        "worker (t.py:1);Condition.wait (threading.py:320) 50\n"
    )
    summary = profile.summarise(raw)
    assert (summary["busy_samples"], summary["idle_samples"]) == (8, 50)
    assert summary["self"][0] == [0.75, "row (openpost/x.py)"]
    assert summary["project_inclusive"][0] == [1.0, "route (openpost/analytics/routes.py)"]


def test_report_appends_a_section_when_there_is_none() -> None:
    spliced = report.splice("# Results\n", "GENERATED")
    assert spliced == "# Results\n\nGENERATED\n"
