"""/v1/posts: list, read and register published posts. Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from openpost.auth.idempotency import IdempotencyKey, run_idempotent
from openpost.core import clock
from openpost.core.ids import UUID_SCHEMA, parse_uuid
from openpost.core.schemas import error_responses
from openpost.core.web import data
from openpost.deps import CurrentCaller, DbSession, require_json
from openpost.posts import service
from openpost.posts.models import PostStatus
from openpost.posts.schemas import PostCreate, PostEnvelope, PostPageOut

router = APIRouter(prefix="/v1/posts", tags=["posts"])

# operationIds as FastAPI names them (function, path, method)
GET_POST = "get_post_v1_posts__post_id__get"
POST_METRICS = "post_metrics_v1_analytics_post__post_id__get"


def links_from(post_id: str) -> dict[str, object]:
    """OpenAPI links from an answer holding a post's id to the operations that take it."""
    return {
        "GetPost": {"operationId": GET_POST, "parameters": {"post_id": post_id}},
        "GetPostMetrics": {"operationId": POST_METRICS, "parameters": {"post_id": post_id}},
    }


@router.get(
    "",
    summary="The workspace's posts, newest first",
    response_model=PostPageOut,
    responses={200: {"links": links_from("$response.body#/data/0/id")}, **error_responses(400)},
)
def list_posts(
    caller: CurrentCaller,
    session: DbSession,
    status: Annotated[PostStatus | None, Query(description="Only posts in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Posts per page")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> Response:
    page = service.list_posts(
        session,
        caller.workspace_id,
        status=status.value if status is not None else None,
        limit=limit,
        cursor=cursor,
    )
    return data(page.rows, next_cursor=page.next_cursor)


@router.get(
    "/{post_id}",
    summary="One post and its targets",
    response_model=PostEnvelope,
    responses={200: {"links": links_from("$response.body#/data/id")}, **error_responses(400, 404)},
)
def get_post(
    caller: CurrentCaller,
    session: DbSession,
    post_id: Annotated[str, Path(description="The post's UUID", json_schema_extra=UUID_SCHEMA)],
) -> Response:
    return data(service.get_post(session, caller.workspace_id, parse_uuid(post_id, "post_id")))


@router.post(
    "",
    summary="Register an already published post for tracking",
    description="Each target names an integration and the post on it, by "
    "`platform_post_id` or by `post_url` (parsed into the platform's id; a URL of another "
    "platform is a 400). A post already tracked on that integration is a 400 naming it. "
    "Collection reads new targets at once. Unknown body fields are a 400.",
    status_code=201,
    response_model=PostEnvelope,
    responses={
        201: {"links": links_from("$response.body#/data/id")},
        **error_responses(400, 404, 413, 415),
    },
    dependencies=[Depends(require_json)],
)
def register_post(
    caller: CurrentCaller,
    session: DbSession,
    body: PostCreate,
    idempotency: IdempotencyKey,
) -> Response:
    def register() -> Response:
        post = service.register_post(session, caller.workspace_id, body, now=clock.now())
        return data(post, 201)

    return run_idempotent(session, caller.workspace_id, idempotency, register)
