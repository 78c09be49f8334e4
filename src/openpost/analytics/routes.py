"""/v1/analytics: workspace snapshots and per-post metrics. Thin: parse, call, return.

The two JSON reads are ``async`` over ``CurrentReader``: one thread-pool hop for the key,
one for the query and the JSON (``read_deps`` says why).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response, StreamingResponse

from openpost.analytics import export, growth, routes_engagement, service
from openpost.analytics.schemas import (
    EXPORT_RANGE_PARAMETER,
    GrowthEnvelope,
    PostMetricsEnvelope,
    SnapshotPageOut,
)
from openpost.core import clock
from openpost.core.as_of import AsOf, parse_as_of
from openpost.core.ids import UUID_OR_EMPTY_SCHEMA, UUID_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.deps import CurrentCaller, DbSession, get_sessionmaker, get_settings
from openpost.integrations.models import Platform
from openpost.read_deps import CurrentReader
from openpost.refresh.policy import CollectionPolicy

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Days = Annotated[int, Query(ge=1, le=365, description="How many days back to include")]


@router.get(
    "",
    summary="Workspace snapshots, newest first",
    response_model=SnapshotPageOut,
    responses=error_responses(400, 404),
)
async def list_snapshots(
    reader: CurrentReader,
    days: Days = 30,
    integration_id: Annotated[
        str | None,
        Query(
            description="Only this integration's snapshots (UUID)",
            json_schema_extra=UUID_OR_EMPTY_SCHEMA,
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows per page")] = 500,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
    as_of: AsOf = None,
) -> Response:
    workspace_id = reader.caller.workspace_id
    integration = parse_uuid(integration_id, "integration_id") if integration_id else None
    now = clock.now()
    at = parse_as_of(as_of, now)

    def page(session: Session) -> Response:
        found = service.list_snapshots(
            session,
            workspace_id,
            now=now,
            days=days,
            integration_id=integration,
            limit=limit,
            cursor=cursor,
            as_of=at,
        )
        return data(found.rows, next_cursor=found.next_cursor)

    return await reader.run(page)


@router.get(
    "/post/{post_id}",
    summary="One post's latest metrics, deltas, totals and history",
    response_model=PostMetricsEnvelope,
    responses=error_responses(400, 404),
)
async def post_metrics(
    reader: CurrentReader,
    post_id: Annotated[str, Path(description="The post's UUID", json_schema_extra=UUID_SCHEMA)],
    request: Request,
    days: Days = 30,
    as_of: AsOf = None,
) -> Response:
    workspace_id = reader.caller.workspace_id
    post = parse_uuid(post_id, "post_id")
    now = clock.now()
    at = parse_as_of(as_of, now)
    schedule = None
    if at is not None:
        schedule = CollectionPolicy.from_settings(get_settings(request)).next_due

    def metrics(session: Session) -> Response:
        return data(
            service.post_metrics(
                session, workspace_id, post, now=now, days=days, as_of=at, schedule=schedule
            )
        )

    return await reader.run(metrics)


@router.get(
    "/growth",
    summary="Every post's growth per local day, estimated days marked",
    description=(
        "Per local day of the workspace's timezone (the last `days` days, today included), "
        "how much every post grew, whenever it was published: each reading's change spread "
        "over the time since the reading before it (a first reading: since the target's "
        "`published_at`), in proportion to time. `estimated` is true on a day that holds "
        "spread-out change. Integer shares: cumulative floor, so each reading's shares add "
        "up to its change exactly."
    ),
    response_model=GrowthEnvelope,
    responses=error_responses(400, 404),
)
async def growth_per_day(
    reader: CurrentReader,
    days: Days = 30,
    integration_id: Annotated[
        str | None,
        Query(
            description="Only this integration's posts (UUID)",
            json_schema_extra=UUID_OR_EMPTY_SCHEMA,
        ),
    ] = None,
) -> Response:
    workspace_id = reader.caller.workspace_id
    integration = parse_uuid(integration_id, "integration_id") if integration_id else None
    now = clock.now()

    def answer(session: Session) -> Response:
        return data(
            growth.growth_per_day(
                session, workspace_id, now=now, days=days, integration_id=integration
            )
        )

    return await reader.run(answer)


@router.get(
    "/export",
    summary="CSV export: every snapshot in range, or each target's latest metrics",
    description=export.OPENAPI_DESCRIPTION,
    response_class=Response,
    responses={
        200: {
            "description": "The CSV file, streamed (`Content-Disposition: attachment`)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(400, 404),
    },
    # days, since and until are one parameter in the document, so that its schema can say
    # which go together (OpenAPI has no rule across parameters); on the wire they stay
    # three query keys (form style, exploded), and the route reads them as three.
    openapi_extra={"parameters": [EXPORT_RANGE_PARAMETER]},
)
def export_csv(
    caller: CurrentCaller,
    session: DbSession,
    factory: Annotated[sessionmaker[Session], Depends(get_sessionmaker)],
    days: Annotated[
        int | None,
        Query(
            ge=1,
            le=365,
            description="How many days back (default 30); not with since/until",
            include_in_schema=False,  # in EXPORT_RANGE_PARAMETER
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="RFC 3339 start, inclusive, any offset",
            include_in_schema=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            max_length=64,
            description="RFC 3339 end, exclusive (needs since)",
            include_in_schema=False,
        ),
    ] = None,
    integration_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this integration (UUID)",
            json_schema_extra=UUID_OR_EMPTY_SCHEMA,
        ),
    ] = None,
    post_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this post (UUID)",
            json_schema_extra=UUID_OR_EMPTY_SCHEMA,
        ),
    ] = None,
    view: Annotated[
        export.View,
        Query(
            description="`snapshots`: every snapshot; `latest`: one row a target; "
            "`accounts`: every account snapshot (`post_id` and `search` do not apply to it: "
            "a 400)"
        ),
    ] = export.View.snapshots,
    platform: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Only this platform's accounts (`bluesky`)",
            json_schema_extra={"enum": [p.value for p in Platform]},
        ),
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=200, description="Only posts whose text contains this (any case)"),
    ] = None,
    as_of: AsOf = None,
) -> Response:
    now = clock.now()
    request = export.parse_request(
        now=now,
        days=days,
        since=since,
        until=until,
        integration_id=integration_id,
        post_id=post_id,
        view=view,
        platform=platform,
        search=search,
        as_of=as_of,
    )
    csv = export.open_export(session, factory, caller.workspace_id, request, now=now)
    return StreamingResponse(csv.chunks, media_type=export.MEDIA_TYPE, headers=csv.headers)


# SPEC §9.5 reports (tags, posting times): their own module, under this prefix.
router.include_router(routes_engagement.router)
