"""The TikTok requests-per-post bench measures ⌈N/20⌉ through the client and the service."""

from __future__ import annotations

from pathlib import Path

from bench import tiktok_calls


def test_the_bench_measures_ceil_n_over_20(tmp_path: Path) -> None:
    figures = tiktok_calls.run("sqlite", [1, 20, 21, 41], work_dir=tmp_path, pg_url="")
    assert [(f.n, f.client_calls, f.service_calls) for f in figures] == [
        (1, 1, 1),
        (20, 1, 1),
        (21, 2, 2),
        (41, 3, 3),
    ]
    assert all(f.exact for f in figures)
    assert "⌈41/20⌉ = 3" in tiktok_calls.render("sqlite", figures)
