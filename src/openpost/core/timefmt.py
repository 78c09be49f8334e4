"""RFC 3339 UTC output (``2026-04-16T10:00:00Z``) and lenient input parsing."""

from __future__ import annotations

from datetime import UTC, datetime

from openpost.core.errors import BadRequest


def format_time(value: datetime | None) -> str | None:
    """Write a timezone-aware datetime as RFC 3339 UTC with a ``Z``, to the second."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, field: str) -> datetime:
    """Read an ISO 8601 / RFC 3339 timestamp that carries an offset (``Z`` or ``±hh:mm``)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{field} must be an ISO 8601 timestamp with an offset") from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{field} must carry a timezone offset (e.g. 2026-04-16T10:00:00Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC value in range
        raise BadRequest(f"{field} is out of range") from None
