"""SPEC §9.5 arithmetic on hand-made data: nulls are "not reported", zeros are measured."""

from __future__ import annotations

import pytest

from openpost.analytics import engagement as e


@pytest.mark.parametrize(
    ("likes", "comments", "shares", "expected"),
    [
        (10, 3, 2, 15),
        (10, None, None, 10),  # only likes reported: its likes
        (None, 4, None, 4),
        (0, 0, 0, 0),  # measured zeros stay a zero
        (0, None, None, 0),
        (None, None, None, None),  # nothing reported: unknown, not 0
    ],
)
def test_engagements(
    likes: int | None, comments: int | None, shares: int | None, expected: int | None
) -> None:
    assert e.engagements(likes, comments, shares) == expected


@pytest.mark.parametrize(
    ("engagements", "impressions", "expected"),
    [
        (412, 10_000, 0.0412),  # a fraction, not a percent
        (0, 500, 0.0),  # a measured zero rate
        (5, 0, None),  # no views: no rate
        (5, None, None),  # impressions not reported
        (None, 100, None),
        (None, None, None),
        (1, 3, 0.333333),  # rounded to six decimals
        (7, 2, 3.5),  # more engagements than views happens (replies by the author): kept
    ],
)
def test_engagement_rate(
    engagements: int | None, impressions: int | None, expected: float | None
) -> None:
    assert e.engagement_rate(engagements, impressions) == expected


@pytest.mark.parametrize(
    ("engagements", "followers", "expected"),
    [(11, 1000, 0.011), (0, 1000, 0.0), (11, 0, None), (11, None, None), (None, 1000, None)],
)
def test_engagement_rate_by_followers(
    engagements: int | None, followers: int | None, expected: float | None
) -> None:
    assert e.engagement_rate_by_followers(engagements, followers) == expected


def test_of_counters() -> None:
    counters = {"impressions": 200, "likes": 3, "comments": None, "shares": 1}
    assert e.of_counters(counters, 400) == {
        "engagements": 4,
        "engagement_rate": 0.02,
        "engagement_rate_by_followers": 0.01,
    }
    assert e.of_counters({}) == dict.fromkeys(e.ENGAGEMENT_FIELDS)


def test_totals_pool_over_targets_that_report_both() -> None:
    targets = [
        (30, 1000, None),  # X: impressions, no followers known
        (20, None, 400),  # Bluesky: no impressions
        (None, 500, 100),  # reports views but no engagement counters
        (0, 0, 0),  # a measured zero everywhere: no denominator
    ]
    fields = e.totals_fields(targets)
    assert fields["engagements"] == 50
    # Σ engagements ÷ Σ impressions over (30, 1000) and (0, 0): 30 / 1000, not 50 / 1500
    assert fields["engagement_rate"] == 0.03
    # (20, 400) and (0, 0): 20 / 400
    assert fields["engagement_rate_by_followers"] == 0.05
    assert e.totals_fields([]) == dict.fromkeys(e.ENGAGEMENT_FIELDS)
    assert e.totals_fields([(0, 0, None)])["engagement_rate"] is None  # views add up to 0
    assert e.totals_fields([(None, None, None)])["engagements"] is None


def test_pooled_rate_is_not_an_average_of_rates() -> None:
    # 1/10 and 99/990 both 0.1; with 0/1000 the mean of rates is 0.0667, the pool 100/2000.
    assert e.pooled_rate([(1, 10), (99, 990), (0, 1000)]) == 0.05


def test_median_and_sum_skip_unreported() -> None:
    assert e.median([3, None, 1, 2]) == 2.0
    assert e.median([4, 1, 3, 2]) == 2.5
    assert e.median([0]) == 0.0
    assert e.median([None, None]) is None
    assert e.sum_reported([None, 0]) == 0
    assert e.sum_reported([None]) is None
