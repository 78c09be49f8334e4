"""``bench/retention.py`` at a tiny size, so it cannot rot: it thins, and its checks hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import retention


def test_retention_bench_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    retention.run("sqlite", 3_000, 30, alone_seconds=0.2, work_dir=tmp_path)
    out = capsys.readouterr().out
    assert "apply --older-than 30: examined" in out
    assert "removed/s" in out
    assert "reads during:" in out
    assert not list(tmp_path.glob("*.db"))  # the destroyed copy is dropped
