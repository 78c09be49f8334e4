"""Under CI=true a missing Chromium fails the browser tests (locally they would skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_browser_tests(ci: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CI": ci,
        "OPENPOST_TEST_CHROMIUM": "/nonexistent/chromium",
        "PYTEST_ADDOPTS": "",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "tests/browser/test_dashboard.py::test_filters_change_the_numbers_and_the_url",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.browser
def test_a_missing_chromium_fails_under_ci() -> None:
    result = _run_browser_tests("true")
    assert result.returncode != 0
    assert "1 error" in result.stdout, result.stdout[-2000:]
    assert "/nonexistent/chromium is missing" in result.stdout
