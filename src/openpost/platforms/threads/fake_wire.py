"""What the fake Threads API writes: Graph error bodies (``THApiException`` for the API,
``OAuthException`` for tokens), the usage header, and posts and insights as Threads renders
them (field names and shapes from ``reference/gated-platforms.md`` §2)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from openpost.platforms.meta import fake_graph

if TYPE_CHECKING:
    from openpost.platforms.threads.fake import FakeMedia

API_ERROR = "THApiException"
OAUTH_ERROR = "OAuthException"
LISTABLE_FIELDS = frozenset(
    {
        "id", "media_product_type", "media_type", "permalink", "owner", "username", "text",
        "timestamp", "shortcode", "is_quote_post", "quoted_post", "reposted_post",
    }
)  # fmt: skip
MEDIA_METRICS = frozenset({"views", "likes", "replies", "reposts", "quotes", "shares"})
USER_METRICS = frozenset(
    {"views", "likes", "replies", "reposts", "quotes", "clicks", "followers_count"}
)
METRIC_TITLES = {
    "views": "Views", "likes": "Likes", "replies": "Replies", "reposts": "Reposts",
    "quotes": "Quotes", "shares": "Shares", "followers_count": "Followers",
}  # fmt: skip


def json_response(
    body: object, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON as Meta writes it: integers as JSON numbers (``user_id`` is a big one)."""
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def api_error(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    status: int = 400,
    headers: dict[str, str] | None = None,
) -> Response:
    return fake_graph.error_response(
        code, message, subcode=subcode, status=status, kind=API_ERROR, headers=headers
    )


def oauth_error(code: int, message: str, *, subcode: int | None = None) -> Response:
    return fake_graph.error_response(code, message, subcode=subcode, kind=OAUTH_ERROR)


def token_refused(subcode: int | None = None) -> Response:
    """190: the token is invalid, expired (463) or its session is gone (460, 467)."""
    messages = {
        463: "Error validating access token: Session has expired.",
        460: "Error validating access token: The session has been invalidated.",
    }
    message = messages.get(subcode or 0, "Invalid OAuth access token - Cannot parse access token")
    return fake_graph.error_response(190, message, subcode=subcode, kind=OAUTH_ERROR)


def gone(object_id: str) -> Response:
    return api_error(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
    )


def usage(user_id: str, used: int, limit: int, *, regain_minutes: int = 0) -> dict[str, str]:
    """The per app-user usage header (a Business-Use-Case shape, in whole percents rounded
    up: Threads' headers are undocumented, so this is the Graph convention)."""
    percent = 100 if limit <= 0 else min(100, math.ceil(used * 100 / limit))
    return fake_graph.business_usage(user_id, "threads", percent, regain_minutes=regain_minutes)


def timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+0000")


def render_media(media: FakeMedia, username: str, fields: set[str]) -> dict[str, Any]:
    full: dict[str, Any] = {
        "id": media.id,
        "media_product_type": "THREADS",
        "media_type": media.media_type,
        "permalink": f"https://www.threads.net/@{username}/post/{media.shortcode}",
        "owner": {"id": media.owner_id},
        "username": username,
        "text": media.text,
        "timestamp": timestamp(media.created_at),
        "shortcode": media.shortcode,
        "is_quote_post": False,
    }
    if media.copyright_flagged:
        del full["permalink"]
    return {name: value for name, value in full.items() if name in fields or name == "id"}


def metric_entry(
    owner: str, name: str, value: object, *, period: str = "lifetime"
) -> dict[str, Any]:
    return {
        "name": name,
        "period": period,
        "values": [{"value": value}],
        "title": METRIC_TITLES.get(name, name),
        "description": f"The number of {name} of the post.",
        "id": f"{owner}/insights/{name}/{period}",
    }


def total_entry(owner: str, name: str, value: object) -> dict[str, Any]:
    return {
        "name": name,
        "period": "day",
        "title": METRIC_TITLES.get(name, name),
        "description": f"The {name} of the profile.",
        "total_value": {"value": value},
        "id": f"{owner}/insights/{name}/day",
    }


def html_error(status: int) -> Response:
    return Response(
        f"<html><body>{status} Server Error</body></html>", status, media_type="text/html"
    )
