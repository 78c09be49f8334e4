"""``bench/accounts_speed.py`` at a tiny size, so it cannot rot: the seed writes accounts x
days snapshots that the service reads as its own, and every case answers and is timed. On
SQLite always, on PostgreSQL in the PostgreSQL pass."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.database import locate

from bench import accounts_speed
from openpost.accounts.service import account_detail
from openpost.core.db import make_engine, make_sessionmaker

PG_URL = os.environ.get("OPENPOST_TEST_DATABASE_URL", "")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_accounts_speed_bench_seeds_and_measures(tmp_path: Path, engine: str) -> None:
    if engine == "postgresql" and not PG_URL.startswith("postgresql"):
        pytest.skip("PostgreSQL runs in the PostgreSQL pass (OPENPOST_TEST_DATABASE_URL)")
    now = datetime.now(UTC)
    db = locate(
        engine,
        0,
        work_dir=tmp_path,
        pg_server_url=PG_URL,
        name=f"openpost_bench_accounts_smoke_{os.getpid()}",
    )
    try:
        ids = accounts_speed.seed(db, 8, 40, now)
        conn = db.connect()
        try:
            count = conn.execute("SELECT count(*) FROM account_snapshots").fetchone()[0]
        finally:
            conn.close()
        assert count == 8 * 40
        # The seeded rows are in the service's own storage form: it finds them by time.
        sql_engine = make_engine(db.url)
        try:
            with make_sessionmaker(sql_engine)() as session:
                detail = account_detail(
                    session,
                    uuid.UUID(ids["workspace"]),
                    uuid.UUID(ids["integration"]),
                    now=now,
                    days=7,
                )
        finally:
            sql_engine.dispose()
        assert detail["followers"] is not None
        assert len(detail["snapshots"]) == 7
        assert detail["period"]["followers"] is not None
        rows = accounts_speed.measure(db, ids, samples=2, warmup=1, now=now)
    finally:
        db.drop()
    assert [row[0] for row in rows] == ["account", "list", "page"]
    assert all(isinstance(row[3], float) and row[3] > 0 for row in rows)
    assert "8 accounts x 40 days = 320" in accounts_speed.render(engine, 8, 40, 320, rows)
