"""The one source of "now". Tests and ``--now`` swap it; code never calls datetime.now()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 - a swappable default


def now() -> datetime:
    """The current time, timezone-aware UTC, truncated to the second."""
    return _now().astimezone(UTC).replace(microsecond=0)


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (``None`` restores the real one)."""
    global _now
    _now = source if source is not None else (lambda: datetime.now(UTC))
