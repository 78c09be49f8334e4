"""/v1/integrations: the workspace's connected accounts. Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from openpost.auth.idempotency import IdempotencyKey, run_idempotent
from openpost.config import Settings
from openpost.core import clock
from openpost.core.ids import UUID_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.deps import CurrentCaller, DbSession, get_settings, require_json
from openpost.integrations import service
from openpost.integrations.schemas import (
    IntegrationCreate,
    IntegrationEnvelope,
    IntegrationListEnvelope,
)

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])

IntegrationId = Annotated[
    str, Path(description="The integration's UUID", json_schema_extra=UUID_SCHEMA)
]


@router.get(
    "",
    summary="The workspace's integrations, newest first",
    description="Every connected account, disconnected ones included (see `status`).",
    response_model=IntegrationListEnvelope,
    responses=error_responses(),
)
def list_integrations(caller: CurrentCaller, session: DbSession) -> Response:
    return data(service.list_integrations(session, caller.workspace_id))


@router.get(
    "/{integration_id}",
    summary="One integration",
    response_model=IntegrationEnvelope,
    responses=error_responses(400, 404),
)
def get_integration(
    caller: CurrentCaller, session: DbSession, integration_id: IntegrationId
) -> Response:
    found = service.get_integration(
        session, caller.workspace_id, parse_uuid(integration_id, "integration_id")
    )
    return data(found)


@router.post(
    "",
    summary="Connect a public account by its handle",
    description="In a test workspace this connects a synthetic account on any platform. "
    "In a live workspace the platform resolves the handle (X, Bluesky, Mastodon, YouTube) "
    "and its recent posts are discovered: 400 for a handle the platform does not know, a "
    "Mastodon instance the URL guard refuses (private or loopback addresses, a port other "
    "than 443) or a platform without a live client; 503 when the platform cannot answer "
    "now. Connecting an account that is already connected returns it with 200, "
    "reactivated if it was disconnected or needed a refresh. Unknown body fields are a 400.",
    status_code=201,
    response_model=IntegrationEnvelope,
    responses={
        200: {"model": IntegrationEnvelope, "description": "The account was already connected"},
        **error_responses(400, 413, 415, 503),
    },
    dependencies=[Depends(require_json)],
)
def connect_integration(
    caller: CurrentCaller,
    session: DbSession,
    body: IntegrationCreate,
    idempotency: IdempotencyKey,
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    def connect() -> Response:
        result = service.connect_by_handle(
            session,
            caller.workspace_id,
            mode=caller.mode,
            platform=body.platform.value,
            username=body.username,
            now=clock.now(),
            settings=settings,
        )
        return data(result.integration, 201 if result.created else 200)

    return run_idempotent(session, caller.workspace_id, idempotency, connect)


@router.delete(
    "/{integration_id}",
    summary="Disconnect an integration",
    description="Sets `status` to `disconnected`: collection stops, history stays.",
    response_model=IntegrationEnvelope,
    responses=error_responses(400, 404),
)
def disconnect_integration(
    caller: CurrentCaller, session: DbSession, integration_id: IntegrationId
) -> Response:
    found = service.disconnect(
        session, caller.workspace_id, parse_uuid(integration_id, "integration_id")
    )
    return data(found)
