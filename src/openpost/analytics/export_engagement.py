"""The export's engagement cells (SPEC §9.5) for ``view=latest``.

Three columns after the others (so earlier columns keep their positions):
``engagements, engagement_rate, engagement_rate_by_followers`` of the latest reading, as
``analytics.engagement`` computes them for ``GET /v1/analytics/post/{id}``. An empty cell
is "not reported" (or, for the rates, "no denominator"); rates are fractions written with
``RATE_DIGITS`` decimals (``0.024342``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from openpost.analytics import engagement
from openpost.analytics.engagement_followers import Reading, followers_at_readings

LATEST_ENGAGEMENT_COLUMNS = engagement.ENGAGEMENT_FIELDS
DESCRIPTION = (
    "`engagements` (likes + comments + shares over those reported; empty when none is), "
    "`engagement_rate` (engagements ÷ impressions; empty when impressions are not reported "
    "or 0) and `engagement_rate_by_followers` (engagements ÷ the account's followers at the "
    "reading; empty when unknown): fractions with six decimals (`0.024342`), of the latest "
    "reading"
)


def csv_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.{engagement.RATE_DIGITS}f}"


def reading_of(ids: str, times: str) -> Reading | None:
    """``(integration_id, captured_at)`` of a latest row from its joined id and time cells
    (``post,target,integration`` and ``published,captured,previous``)."""
    captured = times.split(",")[1]
    if not captured:
        return None
    return uuid.UUID(ids.rsplit(",", 1)[1]), datetime.fromisoformat(captured)


def batch_followers(
    session: Session, workspace_id: uuid.UUID, rows: Sequence[Sequence[Any]]
) -> dict[Reading, int]:
    """Followers at each row's latest reading, for one batch of latest rows."""
    readings = [reading for row in rows if (reading := reading_of(row[0], row[5])) is not None]
    return followers_at_readings(session, workspace_id, readings)


def cells(
    latest: Sequence[int | None], reading: Reading | None, followers: dict[Reading, int]
) -> tuple[str, str, str]:
    """The three cells from the latest ``impressions, likes, comments, shares``."""
    impressions, likes, comments, shares = latest
    total = engagement.engagements(likes, comments, shares)
    known = followers.get(reading) if reading is not None else None
    return (
        "" if total is None else str(total),
        csv_rate(engagement.engagement_rate(total, impressions)),
        csv_rate(engagement.engagement_rate_by_followers(total, known)),
    )
