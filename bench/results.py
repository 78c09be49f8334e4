"""Saved figures: one JSON file per (engine, size, benchmark) under ``bench/results/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def path_for(results_dir: Path, engine: str, snapshots: int, kind: str) -> Path:
    return results_dir / f"{engine}-{snapshots}-{kind}.json"


def save(results_dir: Path, record: dict[str, Any]) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = path_for(results_dir, record["engine"], record["snapshots_requested"], record["kind"])
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def load_all(results_dir: Path) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    return sorted(records, key=lambda r: (r["engine"], r["snapshots_requested"], r["kind"]))
