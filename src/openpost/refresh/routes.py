"""/v1/analytics/refresh and /v1/analytics/status. Thin: parse, call, return.

A refresh claims its targets in the request's transaction; the jobs are queued by a
background task, which runs after the response has been sent, hence after the commit.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.background import BackgroundTask
from starlette.responses import Response

from openpost.auth.idempotency import IdempotencyKey, run_idempotent
from openpost.core import clock
from openpost.core.ids import parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.deps import CurrentCaller, DbSession, get_settings, require_json
from openpost.platforms.registry import Clients
from openpost.refresh import service
from openpost.refresh.batches import Batch
from openpost.refresh.runner import Jobs
from openpost.refresh.schemas import QueuedEnvelope, RefreshIn, StatusEnvelope
from openpost.refresh.tasks import JobQueue

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def get_queue(request: Request) -> JobQueue:
    """The process's job queue, made on first use."""
    queue: JobQueue | None = getattr(request.app.state, "job_queue", None)
    if queue is None:
        queue = JobQueue(get_settings(request))
        request.app.state.job_queue = queue
    return queue


@router.post(
    "/refresh",
    summary="Queue an immediate refresh of a post or an integration",
    description="Queues a read of the targets that policy allows (collectable, inside the "
    "platform's cap and daily budget). Give exactly one of `post_id` or `integration_id`.",
    status_code=202,
    response_model=QueuedEnvelope,
    responses=error_responses(400, 404, 413, 415),
    dependencies=[Depends(require_json)],
)
def refresh(
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    body: RefreshIn,
    idempotency: IdempotencyKey,
) -> Response:
    batches: list[Batch] = []

    def queue_refresh() -> Response:
        found = service.request_refresh(
            session,
            get_settings(request),
            Clients(get_settings(request)),
            caller.workspace_id,
            post_id=parse_uuid(body.post_id, "post_id") if body.post_id is not None else None,
            integration_id=(
                parse_uuid(body.integration_id, "integration_id")
                if body.integration_id is not None
                else None
            ),
            now=clock.now(),
        )
        batches.extend(found)
        return data({"queued": sum(len(b.targets) for b in found)}, 202)

    response = run_idempotent(session, caller.workspace_id, idempotency, queue_refresh)
    if batches:  # not on a replay: that request's jobs were queued by the first one
        response.background = BackgroundTask(get_queue(request).enqueue, Jobs(batches=batches))
    return response


@router.get(
    "/status",
    summary="Collection health per integration, and each platform's rate and credit state",
    response_model=StatusEnvelope,
    responses=error_responses(),
)
def status(request: Request, caller: CurrentCaller, session: DbSession) -> Response:
    return data(
        service.collection_status(
            session, get_settings(request), caller.workspace_id, now=clock.now()
        )
    )
