"""``bench/webhooks.py`` at a tiny size, so it cannot rot: every event arrives, once."""

from __future__ import annotations

from pathlib import Path

from bench import webhooks


def test_webhook_bench_measures_every_event(tmp_path: Path) -> None:
    figures = webhooks.run(
        "sqlite", events=3, burst=20, work_dir=tmp_path, pg_url="", polls=(webhooks.SHORT_POLL,)
    )
    (samples,) = figures.latency_ms.values()
    assert len(samples) == 3
    assert all(0 < ms < 30_000 for ms in samples)
    assert figures.burst_seconds > 0
    assert figures.bare_seconds > 0
    text = webhooks.render([figures], "python -m bench.webhooks")
    assert "| sqlite | 0.05 s" in text
    assert "deliveries/s" in text
