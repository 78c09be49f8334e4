"""/v1/analytics/accounts (SPEC §9.4): account snapshots and one account's growth. Thin:
parse, call, return; the same conventions as the post-snapshot endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session
from starlette.responses import Response

from openpost.accounts import service
from openpost.accounts.schemas import AccountDetailEnvelope, AccountPageOut
from openpost.core import clock
from openpost.core.as_of import AsOf, parse_as_of
from openpost.core.ids import UUID_OR_EMPTY_SCHEMA, UUID_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.read_deps import CurrentReader

router = APIRouter(prefix="/v1/analytics/accounts", tags=["analytics"])

Days = Annotated[int, Query(ge=1, le=365, description="How many days back to include")]


@router.get(
    "",
    summary="Account snapshots (followers, following, posts), newest first",
    response_model=AccountPageOut,
    responses=error_responses(400, 404),
)
async def list_accounts(
    reader: CurrentReader,
    days: Days = 30,
    integration_id: Annotated[
        str | None,
        Query(
            description="Only this integration's account snapshots (UUID)",
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
        found = service.list_accounts(
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
    "/{integration_id}",
    summary="One account's latest values, change, growth per local day and history",
    response_model=AccountDetailEnvelope,
    responses=error_responses(400, 404),
)
async def account_detail(
    reader: CurrentReader,
    integration_id: Annotated[
        str, Path(description="The integration's UUID", json_schema_extra=UUID_SCHEMA)
    ],
    days: Days = 30,
    as_of: AsOf = None,
) -> Response:
    workspace_id = reader.caller.workspace_id
    integration = parse_uuid(integration_id, "integration_id")
    now = clock.now()
    at = parse_as_of(as_of, now)

    def detail(session: Session) -> Response:
        return data(
            service.account_detail(session, workspace_id, integration, now=now, days=days, as_of=at)
        )

    return await reader.run(detail)
