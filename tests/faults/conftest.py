"""Every test here carries the ``faults`` marker (``-m faults`` runs them alone,
``-m "not faults"`` leaves them out); see docs/operations.md, "When a part fails"."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)
