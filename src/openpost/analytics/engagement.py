"""Engagement (SPEC §9.5): pure arithmetic over counters that may be unreported.

``None`` means "not reported", ``0`` a measured zero, as everywhere in analytics:

- ``engagements`` = likes + comments + shares over the counters the platform reports;
  ``None`` when it reports none of the three (a platform reporting only likes gives its
  likes).
- ``engagement_rate`` = engagements ÷ impressions; ``None`` when either is unreported or
  impressions are 0 (no views: no rate, not a rate of 0).
- ``engagement_rate_by_followers`` = engagements ÷ the account's followers at the reading;
  ``None`` when followers are unknown or 0.

Rates are fractions (0.0412 means 4.12 %), rounded to ``RATE_DIGITS`` decimals so the API,
the export and the dashboard print the same figure.

Over several targets (a post's ``totals``, a tag, a cell of the posting-time view) a rate is
**not** an average of rates: it is the sum of engagements ÷ the sum of the denominators,
both taken over the targets that report both (``pooled_rate``). A target with engagements
but no impressions counts in the engagements total and not in the rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import median as _median

RATE_DIGITS = 6

ENGAGEMENT_FIELDS = ("engagements", "engagement_rate", "engagement_rate_by_followers")

Counters = Mapping[str, int | None]


def engagements(likes: int | None, comments: int | None, shares: int | None) -> int | None:
    """Likes + comments + shares over those reported; ``None`` if none is."""
    reported = [value for value in (likes, comments, shares) if value is not None]
    return sum(reported) if reported else None


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """``numerator ÷ denominator`` as a rounded fraction; ``None`` when either is unknown
    or the denominator is 0 (or negative: never a real count)."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, RATE_DIGITS)


def engagement_rate(engagements: int | None, impressions: int | None) -> float | None:
    """Engagements ÷ impressions (``None`` when impressions are unreported or 0)."""
    return rate(engagements, impressions)


def engagement_rate_by_followers(engagements: int | None, followers: int | None) -> float | None:
    """Engagements ÷ the account's followers at the reading (``None`` when unknown or 0)."""
    return rate(engagements, followers)


def of_counters(counters: Counters, followers: int | None = None) -> dict[str, int | float | None]:
    """The three engagement fields of one reading (a mapping with the four metrics)."""
    total = engagements(counters.get("likes"), counters.get("comments"), counters.get("shares"))
    return {
        "engagements": total,
        "engagement_rate": engagement_rate(total, counters.get("impressions")),
        "engagement_rate_by_followers": engagement_rate_by_followers(total, followers),
    }


def pooled_rate(pairs: Iterable[tuple[int | None, int | None]]) -> float | None:
    """Σ engagements ÷ Σ denominators over the pairs where both are reported.

    ``None`` when no pair reports both, or when their denominators add up to 0.
    """
    top = bottom = 0
    seen = False
    for numerator, denominator in pairs:
        if numerator is None or denominator is None:
            continue
        seen = True
        top += numerator
        bottom += denominator
    return rate(top, bottom) if seen else None


def sum_reported(values: Iterable[int | None]) -> int | None:
    """The sum of the reported values; ``None`` when none is."""
    reported = [value for value in values if value is not None]
    return sum(reported) if reported else None


def median(values: Iterable[int | None]) -> float | None:
    """The median of the reported values (the mean of the middle two for an even count);
    ``None`` when none is reported."""
    reported = [value for value in values if value is not None]
    return float(_median(reported)) if reported else None


def totals_fields(
    targets: Iterable[tuple[int | None, int | None, int | None]],
) -> dict[str, int | float | None]:
    """A post's ``totals`` engagement fields from its targets'
    ``(engagements, impressions, followers)``.

    ``engagements``: the sum over targets that report it. ``engagement_rate``: Σ
    engagements ÷ Σ impressions over the targets that report both. ``engagement_rate_by_
    followers``: Σ engagements ÷ Σ followers over the targets whose account's followers are
    known at their reading.
    """
    rows = list(targets)
    return {
        "engagements": sum_reported(row[0] for row in rows),
        "engagement_rate": pooled_rate((row[0], row[1]) for row in rows),
        "engagement_rate_by_followers": pooled_rate((row[0], row[2]) for row in rows),
    }
