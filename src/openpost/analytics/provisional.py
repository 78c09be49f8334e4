"""Provisional readings (SPEC §9.2): taken while a platform's numbers are still settling.

Each platform's ``settle_time`` (``platforms.specs``) says how long after publication its
counters keep moving (Meta insights lag up to 48 h; X impressions and YouTube views settle
within a day or two). A reading is provisional when it was captured before the target's
``published_at`` plus that time. Both times are taken to the second, as the API writes them,
so a client can check any answer: ``captured_at < published_at + settle_time``. A target
without a ``published_at`` has no window: its readings are not provisional.

The read paths keep times as text (``core.sqltext``), and RFC 3339 UTC text of one fixed
width sorts like the instants it names, so the test per row is one string comparison against
the target's deadline, worked out once per (platform, publication time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from openpost.core.timefmt import format_time
from openpost.platforms.specs import SPECS, spec_for


def settle_time(platform: str) -> timedelta:
    return spec_for(platform).settle_time


@lru_cache(maxsize=65_536)
def deadline_text(platform: str, published_text: str | None) -> str | None:
    """``published_at + settle_time`` as ``YYYY-MM-DDTHH:MM:SSZ`` (``None``: no window)."""
    if published_text is None:
        return None
    published = datetime.fromisoformat(published_text)
    return format_time(published + settle_time(platform))


_SETTLE = {name: spec.settle_time for name, spec in SPECS.items()}


@lru_cache(maxsize=65_536)
def deadline_of(platform: str, published: str | datetime | None) -> str:
    """The deadline from a ``raw_time`` value (SQLite's stored text, naive UTC, or an aware
    ``datetime``), as text that compares with time text exactly as ``deadline_text`` does.

    It is ``YYYY-MM-DDTHH:MM:SS`` plus the fraction if any (``isoformat``, cheaper than
    ``strftime``): against ``…SSZ`` the same second sorts after it, because ``Z`` sorts after
    ``.`` and after nothing, so ``captured_at < deadline`` is the comparison to the second.
    ``""`` without a window, which no time text sorts before.
    """
    if published is None:
        return ""
    if isinstance(published, str):
        moment = datetime.fromisoformat(published)
    else:
        moment = published.astimezone(UTC).replace(tzinfo=None)
    return (moment + _SETTLE[platform]).isoformat()


def provisional_until(platform: str, published_at: datetime | None) -> str | None:
    """The end of the target's settle window, as the API writes times."""
    return deadline_text(platform, format_time(published_at))


def is_provisional(captured_text: str | None, deadline: str | None) -> bool:
    """Whether a reading captured at ``captured_text`` (API text) is inside the window."""
    return deadline is not None and captured_text is not None and captured_text < deadline
