"""``bench/as_of.py`` at a tiny size, so it cannot rot: it serves, compares and prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import as_of


def test_as_of_bench_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = as_of.run("sqlite", 3_000, samples=3, warmup=1, work_dir=tmp_path)
    assert [row[1] for row in rows] == [
        "list",
        "list_deep_cursor",
        "post",
        "account",
        "export_latest",
    ]
    assert all(str(row[4]).endswith("x") for row in rows)
    assert "sqlite | post |" in capsys.readouterr().out
