"""Response shapes of the analytics endpoints, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from openpost.core.timefmt import TIMESTAMP_SCHEMA


class MetricSet(BaseModel):
    impressions: int | None = Field(description="null when the platform does not report it")
    likes: int | None
    comments: int | None
    shares: int | None


_RATE: dict[str, Any] = {"minimum": 0}


class TargetEngagement(BaseModel):
    """SPEC §9.5, of one target's latest reading."""

    engagements: int | None = Field(
        description="likes + comments + shares over those the platform reports; null when "
        "it reports none of them (0 is a measured zero)"
    )
    engagement_rate: float | None = Field(
        description="engagements ÷ impressions, a fraction (0.0412 = 4.12 %); null when "
        "impressions are not reported or are 0, or engagements are null",
        json_schema_extra=_RATE,
    )
    engagement_rate_by_followers: float | None = Field(
        description="engagements ÷ the account's followers at the reading, a fraction; null "
        "when the followers are unknown or 0, or engagements are null",
        json_schema_extra=_RATE,
    )


class TotalsEngagement(BaseModel):
    """SPEC §9.5 over a post's targets: pooled, not an average of the targets' rates."""

    engagements: int | None = Field(
        description="The sum of the targets' engagements; null when no target reports any"
    )
    engagement_rate: float | None = Field(
        description="Σ engagements ÷ Σ impressions over the targets that report both "
        "(a fraction); null when none does or their impressions add up to 0",
        json_schema_extra=_RATE,
    )
    engagement_rate_by_followers: float | None = Field(
        description="Σ engagements ÷ Σ followers over the targets whose engagements and "
        "account followers at the reading are both known (a fraction); null when none is",
        json_schema_extra=_RATE,
    )


class SnapshotOut(MetricSet):
    id: str
    post_target_id: str
    integration_id: str
    post_id: str
    platform: str
    platform_data: dict[str, Any]
    captured_at: str = Field(examples=["2026-04-16T10:00:00Z"])
    provisional: bool = Field(
        description="Taken within the platform's settle time after the target's "
        "published_at (captured_at < published_at + settle time): the numbers may still move"
    )


class SnapshotPageOut(BaseModel):
    data: list[SnapshotOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class RefreshOut(BaseModel):
    outcome: str
    next_refresh_at: str | None
    last_success_at: str | None


class TargetMetricsOut(TargetEngagement, MetricSet):
    target_id: str
    integration_id: str
    platform: str
    username: str
    status: str
    post_url: str | None
    captured_at: str | None = Field(description="When the latest metrics were read")
    provisional: bool = Field(
        description="The latest reading is provisional (false when there is none)"
    )
    provisional_until: str | None = Field(
        description="published_at + the platform's settle time: readings before it are "
        "provisional (null without a published_at)"
    )
    delta: MetricSet = Field(description="Latest minus the reading before it")
    refresh: RefreshOut
    snapshots: list[SnapshotOut] = Field(description="Newest first, within `days`")


class PostTotalsOut(TotalsEngagement, MetricSet):
    pass


class PostMetricsOut(BaseModel):
    post_id: str
    totals: PostTotalsOut
    delta: MetricSet
    targets: list[TargetMetricsOut]


class PostMetricsEnvelope(BaseModel):
    data: PostMetricsOut


# The export's range as one parameter of the OpenAPI document (the route reads three).
EXPORT_RANGE_PARAMETER: dict[str, Any] = {
    "name": "range",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,  # each property is a query key of its own: ?days=7, ?since=…&until=…
    "description": "The range: `days` (1-365, default 30), or `since` with an optional "
    "`until`; `days` with `since`/`until` is a 400, as is `until` without `since`, and so "
    "is a `since` that is not before `until`.",
    "schema": {
        "type": "object",
        "properties": {
            "days": {"type": "integer", "minimum": 1, "maximum": 365, "description": "Days back"},
            "since": {
                "type": "string",
                "maxLength": 64,
                "description": "RFC 3339 start, inclusive, any offset",
                **TIMESTAMP_SCHEMA,
            },
            "until": {
                "type": "string",
                "maxLength": 64,
                "description": "RFC 3339 end, exclusive",
                **TIMESTAMP_SCHEMA,
            },
        },
        "dependentRequired": {"until": ["since"]},
        "not": {"required": ["days", "since"]},
    },
}


class PlatformDayOut(MetricSet):
    estimated: bool = Field(description="This day holds change spread over several days")


class GrowthDayOut(MetricSet):
    date: str = Field(examples=["2026-04-16"], description="Local date (workspace timezone)")
    estimated: bool = Field(
        description="Part of this day's growth was spread from a reading that spans several "
        "days (SPEC 9.3): an apportionment, not a measurement"
    )
    platforms: dict[str, PlatformDayOut]


class GrowthOut(BaseModel):
    timezone: str
    totals: MetricSet = Field(description="The days added up")
    estimated: bool = Field(description="Some day is estimated")
    days: list[GrowthDayOut] = Field(description="Oldest first")


class GrowthEnvelope(BaseModel):
    data: GrowthOut
