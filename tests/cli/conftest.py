"""What the CLI tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine


@pytest.fixture
def env(database_url: str, engine: Engine, tmp_path: Path) -> dict[str, str]:
    """The environment of an ``openpost`` command on the test database (emptied after)."""
    return {
        "OPENPOST_ENV": "test",
        "OPENPOST_DATABASE_URL": database_url,
        "OPENPOST_DATA_DIR": str(tmp_path),
    }
