"""RFC 3339 UTC output (``2026-04-16T10:00:00Z``) and lenient input parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from openpost.core.errors import BadRequest

# What ``parse_time`` takes, for the OpenAPI document: an RFC 3339 date-time with an offset
# (``T`` or a space between date and time, any fraction of a second). Beside
# ``format: date-time``, which checks the calendar; seconds stop at 59 (Python has no
# leap second), offsets at 23:59.
TIMESTAMP_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(?:[.][0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
TIMESTAMP_SCHEMA: dict[str, Any] = {"format": "date-time", "pattern": TIMESTAMP_PATTERN}


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
