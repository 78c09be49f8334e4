"""``bench/accounts.py`` at a tiny size, so it cannot rot: ⌈N/batch⌉ requests a day."""

from __future__ import annotations

from pathlib import Path

from bench import accounts


def test_account_reads_bench_counts_ceil_n_over_batch(tmp_path: Path) -> None:
    figures = accounts.run("sqlite", 26, 2, work_dir=tmp_path, pg_url="")
    by_platform = {f.platform: f for f in figures}
    assert {p: f.requests for p, f in by_platform.items()} == {
        "twitter": 2,
        "bluesky": 4,
        "youtube": 2,
        "mastodon": 52,
    }
    assert all(f.requests == f.expected and f.snapshots == 52 for f in figures)
    assert "exactly ⌈N/batch⌉" in accounts.render("sqlite", 26, 2, figures)
