"""The one source of "now". Tests swap it; code never calls datetime.now(). A sweep run "as
if the clock read T" (``openpost refresh --once --now T``) passes its own ``clock_now``
down to discovery and capture instead of swapping this one."""

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
