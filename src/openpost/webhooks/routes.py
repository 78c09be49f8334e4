"""/v1/webhooks: subscriptions and their delivery log (SPEC §9.7). Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from openpost.auth.idempotency import IdempotencyKey, run_idempotent
from openpost.config import Settings
from openpost.core import clock
from openpost.core.ids import UUID_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.deps import CurrentCaller, DbSession, get_settings, require_json
from openpost.webhooks import service
from openpost.webhooks.schemas import (
    DeliveryPageOut,
    WebhookCreate,
    WebhookCreatedEnvelope,
    WebhookEnvelope,
    WebhookListEnvelope,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(description="The webhook's UUID", json_schema_extra=UUID_SCHEMA)]


@router.post(
    "",
    summary="Subscribe a URL to events",
    description='Each event is POSTed as JSON `{"id", "type", "created_at", "data"}` '
    'with the header `OpenPost-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` '
    "made with the `secret` of this answer (shown once). Deliveries without a 2xx answer are "
    "retried with backoff for 24 hours; the `id` stays the same, so deduplicate on it. A URL "
    "the guard refuses (not https, another port, a private or loopback address) is a 400. "
    "A request repeated with the same `Idempotency-Key` gets the same webhook with an empty "
    "`secret`: the secret is never stored in the clear.",
    status_code=201,
    response_model=WebhookCreatedEnvelope,
    responses=error_responses(400, 413, 415),
    dependencies=[Depends(require_json)],
)
def create_webhook(
    caller: CurrentCaller,
    session: DbSession,
    body: WebhookCreate,
    idempotency: IdempotencyKey,
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    def create() -> Response:
        created = service.create(session, settings, caller.workspace_id, body, clock.now())
        return data(created, status_code=201)

    return run_idempotent(
        session, caller.workspace_id, idempotency, create, stored=service.without_secret
    )


@router.get(
    "",
    summary="The workspace's webhooks, newest first",
    response_model=WebhookListEnvelope,
    responses=error_responses(),
)
def list_webhooks(caller: CurrentCaller, session: DbSession) -> Response:
    return data(service.list_hooks(session, caller.workspace_id))


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook",
    description="Nothing more is delivered to it, pending retries included.",
    response_model=WebhookEnvelope,
    responses=error_responses(400, 404),
)
def delete_webhook(caller: CurrentCaller, session: DbSession, webhook_id: WebhookId) -> Response:
    removed = service.remove(session, caller.workspace_id, parse_uuid(webhook_id, "webhook_id"))
    return data(removed)


@router.get(
    "/{webhook_id}/deliveries",
    summary="A webhook's delivery log, newest first",
    description="Each event sent to the webhook: its status (`pending` while retries remain, "
    "`delivered`, `failed`), attempts, the receiver's last HTTP status and error.",
    response_model=DeliveryPageOut,
    responses=error_responses(400, 404),
)
def list_deliveries(
    caller: CurrentCaller,
    session: DbSession,
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=200, description="Deliveries per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> Response:
    rows, next_cursor = service.deliveries(
        session,
        caller.workspace_id,
        parse_uuid(webhook_id, "webhook_id"),
        limit=limit,
        cursor=cursor,
    )
    return data(rows, next_cursor=next_cursor)
