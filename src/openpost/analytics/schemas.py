"""Response shapes of the analytics endpoints, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MetricSet(BaseModel):
    impressions: int | None = Field(description="null when the platform does not report it")
    likes: int | None
    comments: int | None
    shares: int | None


class SnapshotOut(MetricSet):
    id: str
    post_target_id: str
    integration_id: str
    post_id: str
    platform: str
    platform_data: dict[str, Any]
    captured_at: str = Field(examples=["2026-04-16T10:00:00Z"])


class SnapshotPageOut(BaseModel):
    data: list[SnapshotOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class RefreshOut(BaseModel):
    outcome: str
    next_refresh_at: str | None
    last_success_at: str | None


class TargetMetricsOut(MetricSet):
    target_id: str
    integration_id: str
    platform: str
    username: str
    status: str
    post_url: str | None
    captured_at: str | None = Field(description="When the latest metrics were read")
    delta: MetricSet = Field(description="Latest minus the reading before it")
    refresh: RefreshOut
    snapshots: list[SnapshotOut] = Field(description="Newest first, within `days`")


class PostMetricsOut(BaseModel):
    post_id: str
    totals: MetricSet
    delta: MetricSet
    targets: list[TargetMetricsOut]


class PostMetricsEnvelope(BaseModel):
    data: PostMetricsOut
