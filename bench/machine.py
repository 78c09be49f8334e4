"""Facts about the machine and software a set of figures was measured on."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT_ENV = "OPENPOST_BENCH_COMMIT"
PACKAGES = ("fastapi", "starlette", "uvicorn", "h11", "sqlalchemy", "psycopg", "httpx", "orjson")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return 0.0


def sqlite_cli_version() -> str | None:
    binary = shutil.which("sqlite3")
    if binary is None:
        return None
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [binary, "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.split()[0] if done.stdout else None


def git(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", *args],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    return done.stdout


def code_measured() -> str:
    """Which code the figures belong to: a commit (``--commit``), or the working tree."""
    exported = os.environ.get(SNAPSHOT_ENV)
    if exported:
        return exported[:12]
    head = git("rev-parse", "--short=12", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--", "src").strip()
    return f"{head} + uncommitted changes in src/" if dirty else head


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def facts(postgres_version: str | None = None) -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite_library": sqlite3.sqlite_version,
        "sqlite_cli": sqlite_cli_version(),
        "postgresql": postgres_version,
        "packages": packages,
        "commit": code_measured(),
    }
