"""/v1/analytics/tags and /v1/analytics/posting-times: what works best. Thin.

Included by ``analytics.routes`` (same prefix and tag). Both cover the posts published in
the last ``days`` days (optionally of one integration): ``engagement_reports`` says how.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session
from starlette.responses import Response

from openpost.analytics import engagement_reports
from openpost.analytics.engagement_schemas import PostingTimesEnvelope, TagReportEnvelope
from openpost.analytics.overview import Scope
from openpost.core import clock
from openpost.core.ids import UUID_OR_EMPTY_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.integrations.service import find_integration
from openpost.read_deps import CurrentReader
from openpost.workspaces.service import get_workspace

router = APIRouter()

Days = Annotated[int, Query(ge=1, le=365, description="Posts published in the last days")]
IntegrationId = Annotated[
    str | None,
    Query(
        description="Only this integration's posts (UUID)", json_schema_extra=UUID_OR_EMPTY_SCHEMA
    ),
]


def _scope(
    session: Session, workspace_id: uuid.UUID, now: datetime, days: int, integration: Any
) -> Scope:
    if integration is not None:
        find_integration(session, workspace_id, integration)  # 404 unless the caller's
    return Scope(workspace_id, now - timedelta(days=days), now, integration_id=integration)


@router.get(
    "/tags",
    summary="Per tag: posts, total and median engagement, engagement rate",
    description=(
        "Posts published in the last `days` days, grouped by tag (a post counts once per "
        "distinct tag; posts without tags in `untagged`). A post's engagements: the sum of "
        "its targets' latest `engagements` (likes + comments + shares over those reported). "
        "`engagement_rate`: Σ engagements ÷ Σ impressions over the tag's targets that "
        "report both, a fraction."
    ),
    response_model=TagReportEnvelope,
    responses=error_responses(400, 404),
)
async def tags(
    reader: CurrentReader, days: Days = 30, integration_id: IntegrationId = None
) -> Response:
    workspace_id = reader.caller.workspace_id
    integration = parse_uuid(integration_id, "integration_id") if integration_id else None
    now = clock.now()

    def answer(session: Session) -> Response:
        scope = _scope(session, workspace_id, now, days, integration)
        return data(engagement_reports.tag_report(session, scope).as_json())

    return await reader.run(answer)


@router.get(
    "/posting-times",
    summary="Median engagement at 24 h by local weekday and hour of publication",
    description=(
        "Posts published in the last `days` days, by the workspace-local weekday and hour "
        "of publication, compared at the same age: each target's reading nearest to "
        "`age_hours` after publication (within `tolerance_hours`), its `engagements` summed "
        "over the post's targets. Each cell, weekday and hour gives its sample size "
        "(`posts`); with fewer than `min_posts` the median is null and `too_few` true."
    ),
    response_model=PostingTimesEnvelope,
    responses=error_responses(400, 404),
)
async def posting_times(
    reader: CurrentReader, days: Days = 90, integration_id: IntegrationId = None
) -> Response:
    workspace_id = reader.caller.workspace_id
    integration = parse_uuid(integration_id, "integration_id") if integration_id else None
    now = clock.now()

    def answer(session: Session) -> Response:
        scope = _scope(session, workspace_id, now, days, integration)
        timezone = get_workspace(session, workspace_id).timezone
        return data(engagement_reports.posting_times(session, scope, timezone).as_json())

    return await reader.run(answer)
