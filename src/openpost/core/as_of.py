"""The ``as_of`` query parameter (SPEC §9.6), shared by every read that takes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from openpost.core.errors import BadRequest
from openpost.core.timefmt import TIMESTAMP_SCHEMA, parse_time

AsOf = Annotated[
    str | None,
    Query(
        max_length=64,
        description=(
            "RFC 3339 time (with an offset): the answer as it was then, from the readings "
            "captured by then; the same bytes whenever asked (SPEC §9.6). Not in the future, "
            "not before 2000."
        ),
        json_schema_extra=TIMESTAMP_SCHEMA,
    ),
]


EARLIEST_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
"""Well before any social post; keeps ``as_of - days`` inside the calendar."""


def parse_as_of(value: str | None, now: datetime) -> datetime | None:
    """``as_of`` as a UTC time, or 400: not a timestamp with an offset, or in the future."""
    if value is None:
        return None
    at = parse_time(value, "as_of")
    if at > now:
        raise BadRequest("as_of is in the future: an answer as of then is not known yet")
    if at < EARLIEST_AS_OF:
        raise BadRequest("as_of must be on or after 2000-01-01T00:00:00Z")
    return at
