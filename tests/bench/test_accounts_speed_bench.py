"""``bench/accounts_speed.py`` at a tiny size on PostgreSQL, so it cannot rot: the seed
writes accounts x days snapshots and every case answers and is timed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.database import locate

from bench import accounts_speed

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENPOST_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the accounts bench is PostgreSQL's; it runs in the PostgreSQL pass",
)


def test_accounts_speed_bench_seeds_and_measures(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    db = locate(
        "postgresql",
        0,
        work_dir=tmp_path,
        pg_server_url=os.environ["OPENPOST_TEST_DATABASE_URL"],
        name=f"openpost_bench_accounts_smoke_{os.getpid()}",
    )
    try:
        ids = accounts_speed.seed(db, 8, 40, now)
        with db.connect() as conn:
            count = conn.execute("SELECT count(*) FROM account_snapshots").fetchone()[0]
        assert count == 8 * 40
        rows = accounts_speed.measure(db, ids, samples=2, warmup=1, now=now)
    finally:
        db.drop()
    assert [row[0] for row in rows] == ["account", "list", "page"]
    assert all(isinstance(row[3], float) and row[3] > 0 for row in rows)
    assert "8 accounts x 40 days = 320" in accounts_speed.render(8, 40, 320, rows, "cmd")
