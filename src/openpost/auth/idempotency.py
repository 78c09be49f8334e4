"""``Idempotency-Key`` for POSTs: the first response to a key is replayed for 24 hours.

How a POST route uses it::

    def create_thing(caller, session, body, idempotency: IdempotencyKey) -> Response:
        return run_idempotent(
            session, caller.workspace_id, idempotency,
            lambda: data(service.create_thing(session, ...), 201),
        )

Rules:

- The key is 1 to 255 printable ASCII characters (else 400). Keys are scoped per workspace:
  two workspaces may use the same key independently.
- A request is identified by method, path and the exact body bytes (SHA-256). The same key
  with the same request replays the first response, status and body byte for byte, with an
  ``Idempotent-Replayed: true`` header. The same key with another request is a 400.
- A key is remembered for ``settings.idempotency_ttl_hours`` from its first use. An expired
  record is ignored, and deleted when its key is used again (``purge_expired`` is there
  for a periodic sweep).
- Only a request that succeeds is remembered: the record is written in the same
  transaction as the request's own writes, so a request that fails (a 4xx, or a 500) rolls
  both back and its key can be used again.
- Concurrency: the record is claimed with ``INSERT … ON CONFLICT DO NOTHING`` *before* the
  handler runs. A second request with the same key waits on the first one's uncommitted
  row (PostgreSQL's unique index; SQLite's single writer), then finds the committed record
  and replays it (or gets the 400 for a different request). So two requests with one key
  never both write, and neither sees a unique-constraint error.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from openpost.auth.models import IdempotencyRecord
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import insert_ignoring_conflicts
from openpost.core.errors import BadRequest
from openpost.core.ids import new_id
from openpost.deps import get_settings

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY_PATTERN = re.compile(r"^[\x20-\x7e]{1,255}$")
# The same rule in the OpenAPI document, less what HTTP cannot carry: a header value's
# leading and trailing spaces are dropped on the way, so a key cannot begin or end with one.
KEY_SCHEMA_PATTERN = "^[\\x21-\\x7e]([\\x20-\\x7e]{0,253}[\\x21-\\x7e])?$"
_IN_PROGRESS = 0  # status_code of a claimed record whose response is not written yet

KEY_REUSED = "Idempotency-Key was already used with a different request"
IN_PROGRESS = "a request with this Idempotency-Key is still in progress; retry it"


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A POST that carries an ``Idempotency-Key``: the key and what identifies the request."""

    key: str
    request_hash: str
    ttl: timedelta


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 of method, path and body bytes: equal exactly when the requests are."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def parse_key(value: str) -> str:
    if not _KEY_PATTERN.match(value):
        raise BadRequest(f"{HEADER} must be 1 to 255 printable ASCII characters")
    return value


async def idempotent_request(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Makes the POST safe to retry: the same key with the same body "
            "replays the first response for 24 h; with another body it is a 400.",
            json_schema_extra={"pattern": KEY_SCHEMA_PATTERN, "minLength": 1, "maxLength": 255},
        ),
    ] = None,
) -> IdempotentRequest | None:
    """The dependency: reads the header and the body bytes (async: the body is cached)."""
    if idempotency_key is None:
        return None
    key = parse_key(idempotency_key)
    body = await request.body()
    return IdempotentRequest(
        key=key,
        request_hash=request_hash(request.method, request.url.path, body),
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )


IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotent_request)]


def run_idempotent(
    session: Session,
    workspace_id: uuid.UUID,
    request: IdempotentRequest | None,
    handler: Callable[[], Response],
    *,
    now: datetime | None = None,
    stored: Callable[[bytes], bytes] | None = None,
) -> Response:
    """Run ``handler`` once per key: replay its stored response to a repeated request.

    ``handler`` does the POST's work in ``session`` and returns its response; the record of
    that response joins the same transaction, which the caller commits. ``stored`` rewrites
    the body kept for replays (a secret shown once is not kept).
    """
    if request is None:
        return handler()
    now = now or clock.now()
    cutoff = now - request.ttl

    found = _find(session, workspace_id, request.key)
    if found is not None and found.created_at > cutoff:
        return _replay(found, request)

    record_id = _claim(session, workspace_id, request, now=now, cutoff=cutoff)
    if record_id is None:
        # Another request holds (or just committed) this key: answer as it did.
        found = _find(session, workspace_id, request.key)
        if found is None:
            raise BadRequest(IN_PROGRESS)
        return _replay(found, request)

    response = handler()
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id, IdempotencyRecord.workspace_id == workspace_id)
        .values(
            status_code=response.status_code,
            response_body=(stored or bytes)(bytes(response.body)).decode(),
        )
    )
    return response


def purge_expired(session: Session, *, now: datetime, ttl: timedelta) -> int:
    """Delete every record older than ``ttl`` (all workspaces); returns how many went."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= now - ttl)
    )
    return int(getattr(result, "rowcount", 0) or 0)


_Found = Row[str, int, str, datetime]  # request_hash, status_code, response_body, created_at


def _find(session: Session, workspace_id: uuid.UUID, key: str) -> _Found | None:
    return session.execute(
        select(
            IdempotencyRecord.request_hash,
            IdempotencyRecord.status_code,
            IdempotencyRecord.response_body,
            IdempotencyRecord.created_at,
        ).where(IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key)
    ).first()


def _claim(
    session: Session,
    workspace_id: uuid.UUID,
    request: IdempotentRequest,
    *,
    now: datetime,
    cutoff: datetime,
) -> uuid.UUID | None:
    """Insert this key's record, or return None if a live record holds the key."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id,
            IdempotencyRecord.key == request.key,
            IdempotencyRecord.created_at <= cutoff,
        )
    )
    statement = (
        insert_ignoring_conflicts(session, IdempotencyRecord, ["workspace_id", "key"])
        .values(
            id=new_id(),
            workspace_id=workspace_id,
            key=request.key,
            request_hash=request.request_hash,
            status_code=_IN_PROGRESS,
            response_body="",
            created_at=now,
        )
        .returning(IdempotencyRecord.id)
    )
    claimed: uuid.UUID | None = session.scalar(statement)
    return claimed


def _replay(found: _Found, request: IdempotentRequest) -> Response:
    if found.request_hash != request.request_hash:
        raise BadRequest(KEY_REUSED)
    if found.status_code == _IN_PROGRESS:
        raise BadRequest(IN_PROGRESS)
    return Response(
        found.response_body.encode(),
        status_code=found.status_code,
        media_type="application/json",
        headers={REPLAY_HEADER: "true"},
    )
