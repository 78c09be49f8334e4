"""``bench/engagement_reports.py`` at a tiny size, so it cannot rot (nothing on speed)."""

from __future__ import annotations

from pathlib import Path

from bench.seed import seed

from bench import engagement_reports
from tests.bench.test_bench_harness import _locate


def test_the_engagement_bench_checks_the_api_against_the_report(tmp_path: Path) -> None:
    db = _locate(tmp_path, "engagement")
    try:
        seed(db, say=lambda _line: None)
        # raises unless the API's answer equals the in-process report's
        record = engagement_reports.run(db, days=365, samples=1, warmup=0)
    finally:
        db.drop()
    assert set(record["cases"]) == {"tags", "posting_times"}
    for case in record["cases"].values():
        assert case["statements"] >= 1
        assert case["api_over_bare"] > 0
    assert "| tags " in engagement_reports.render(record)
