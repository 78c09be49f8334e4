"""Response shapes of the engagement reports (``routes_engagement``), for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_RATE: dict[str, Any] = {"minimum": 0}
_COUNT: dict[str, Any] = {"minimum": 0}


class TagRowOut(BaseModel):
    tag: str | None = Field(description="The tag; null on the row of the posts without tags")
    posts: int = Field(description="Posts in range with this tag", json_schema_extra=_COUNT)
    posts_reporting: int = Field(
        description="Of them, posts whose accounts report some engagement counter",
        json_schema_extra=_COUNT,
    )
    total_engagements: int | None = Field(
        description="Σ of the posts' engagements (latest readings); null when none reports"
    )
    median_engagements: float | None = Field(
        description="Median of the reporting posts' engagements; null when none reports"
    )
    engagement_rate: float | None = Field(
        description="Σ engagements ÷ Σ impressions over the targets that report both, a "
        "fraction (0.0412 = 4.12 %); null when none does or their impressions add up to 0",
        json_schema_extra=_RATE,
    )
    rate_impressions: int | None = Field(
        description="The rate's denominator: Σ impressions of those targets"
    )


class TagReportOut(BaseModel):
    posts: int = Field(description="Posts published in range", json_schema_extra=_COUNT)
    tags: list[TagRowOut] = Field(description="Most posts first, then by tag")
    untagged: TagRowOut | None = Field(description="The posts without tags (null if none)")


class TagReportEnvelope(BaseModel):
    data: TagReportOut


class CellOut(BaseModel):
    posts: int = Field(
        description="Sample size: posts with engagement at about `age_hours`",
        json_schema_extra=_COUNT,
    )
    median_engagements: float | None = Field(
        description="Median engagements at about `age_hours` after publication; null when `too_few`"
    )
    too_few: bool = Field(description="Fewer than `min_posts` posts: no median is shown")


class WeekdayCellOut(CellOut):
    weekday: str = Field(examples=["Monday"])


class HourCellOut(CellOut):
    hour: int = Field(description="Local hour of publication, 0-23", ge=0, le=23)


class GridCellOut(CellOut):
    weekday: str = Field(examples=["Monday"])
    hour: int = Field(ge=0, le=23)


class PostingTimesOut(BaseModel):
    timezone: str = Field(description="The workspace's timezone: weekdays and hours are local")
    age_hours: int = Field(description="Posts are compared at this age")
    tolerance_hours: int = Field(
        description="A target's reading nearest to `age_hours`, within this many hours"
    )
    min_posts: int = Field(description="A cell with fewer posts shows no median")
    posts: int = Field(description="Posts published in range", json_schema_extra=_COUNT)
    posts_measured: int = Field(
        description="Of them, posts with engagement at about `age_hours`",
        json_schema_extra=_COUNT,
    )
    weekdays: list[WeekdayCellOut] = Field(description="Monday first, all seven")
    hours: list[HourCellOut] = Field(description="All 24 local hours")
    cells: list[GridCellOut] = Field(description="Weekday-by-hour cells holding a post")


class PostingTimesEnvelope(BaseModel):
    data: PostingTimesOut
