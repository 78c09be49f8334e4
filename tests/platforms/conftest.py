"""Clock fixtures of the platform tests: ``clock`` for a fake built with ``now=clock``,
``frozen_clock`` for code that reads ``openpost.core.clock`` (the clients, and a fake built
without ``now``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openpost.core import clock as core_clock
from tests.platforms.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def frozen_clock(clock: Clock) -> Iterator[Clock]:
    core_clock.set_clock(clock)
    yield clock
    core_clock.set_clock(None)
