"""/v1/webhooks: subscriptions and their delivery log, always within the caller's workspace."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.crypto import Sealer
from openpost.core.errors import BadRequest, NotFound
from openpost.core.ids import new_id
from openpost.core.pagination import decode_cursor, encode_cursor
from openpost.core.timefmt import format_time
from openpost.platforms.netguard import NetGuard, UnsafeUrl
from openpost.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from openpost.webhooks.schemas import WebhookCreate


def check_url(url: str, settings: Settings) -> str:
    """The URL as stored, or ``BadRequest``: the guard's rules that hold without a DNS
    lookup (scheme, port, no user name, an IP literal's range); names are resolved and
    checked again at every delivery, where it matters (DNS may change)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port, host = parts.port, parts.hostname
    except ValueError:
        raise BadRequest("url: not a valid URL") from None
    if parts.fragment:
        raise BadRequest("url: may not have a #fragment")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("url: may not carry a user name or password")
    if not host:
        raise BadRequest("url: has no host")
    local = host.lower().rstrip(".")
    if not settings.webhook_allow_private_addresses and (
        local == "localhost" or local.endswith(".localhost")
    ):
        raise BadRequest(f"url: refused: {local} is a loopback name")
    guard = NetGuard(allow_private=settings.webhook_allow_private_addresses, code_prefix="webhook")
    try:
        guard.check_host(host, port=port, scheme=parts.scheme.lower(), resolve=False)
    except UnsafeUrl as exc:
        raise BadRequest(f"url: {exc.message}") from None
    return text


def _out(hook: Webhook) -> dict[str, Any]:
    return {
        "id": str(hook.id),
        "url": hook.url,
        "events": list(hook.events),
        "description": hook.description,
        "created_at": format_time(hook.created_at),
    }


def create(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    body: WebhookCreate,
    now: datetime,
) -> dict[str, Any]:
    url = check_url(body.url, settings)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        id=new_id(),
        workspace_id=workspace_id,
        url=url,
        events=sorted({e.value for e in body.events}),
        description=body.description,
        secret_sealed=Sealer.from_settings(settings).seal({"secret": secret}),
        created_at=now,
    )
    session.add(hook)
    session.flush()
    return {**_out(hook), "secret": secret}


def without_secret(body: bytes) -> bytes:
    """A created webhook's answer as kept for idempotent replays: the secret emptied."""
    answer = orjson.loads(body)
    answer["data"]["secret"] = ""
    return orjson.dumps(answer)


def list_hooks(session: Session, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    hooks = session.scalars(
        select(Webhook)
        .where(Webhook.workspace_id == workspace_id)
        .order_by(Webhook.created_at.desc(), Webhook.id.desc())
    )
    return [_out(h) for h in hooks]


def _hook(session: Session, workspace_id: uuid.UUID, hook_id: uuid.UUID) -> Webhook:
    hook = session.scalar(
        select(Webhook).where(Webhook.id == hook_id, Webhook.workspace_id == workspace_id)
    )
    if hook is None:
        raise NotFound("webhook not found")
    return hook


def remove(session: Session, workspace_id: uuid.UUID, hook_id: uuid.UUID) -> dict[str, Any]:
    """Delete the subscription and its pending deliveries (nothing more is sent)."""
    hook = _hook(session, workspace_id, hook_id)
    shown = _out(hook)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    session.delete(hook)
    return shown


def deliveries(
    session: Session,
    workspace_id: uuid.UUID,
    hook_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The subscription's deliveries, newest first, ``limit`` a page."""
    hook = _hook(session, workspace_id, hook_id)
    query = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.workspace_id == workspace_id)
    )
    if cursor is not None:  # ids are time-ordered (core.ids): newest first is by id
        _at, row_id = decode_cursor(cursor)
        query = query.where(WebhookDelivery.id < row_id)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    shown = [
        {
            "id": str(d.id),
            "event_id": str(d.event_id),
            "type": type_,
            "status": d.status,
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "created_at": format_time(d.created_at),
            "last_attempt_at": format_time(d.last_attempt_at),
            "next_attempt_at": format_time(d.next_attempt_at),
            "delivered_at": format_time(d.delivered_at),
        }
        for d, type_ in page
    ]
    more = len(rows) > limit
    last = page[-1][0] if page else None
    return shown, encode_cursor(last.created_at, last.id) if more and last else None


def recent_deliveries(
    session: Session, workspace_id: uuid.UUID, per_hook: int = 10
) -> list[dict[str, Any]]:
    """Each webhook of the workspace with its ``per_hook`` newest deliveries (the dashboard's
    delivery log)."""
    return [
        {
            **hook,
            "deliveries": deliveries(
                session, workspace_id, uuid.UUID(hook["id"]), limit=per_hook, cursor=None
            )[0],
        }
        for hook in list_hooks(session, workspace_id)
    ]
