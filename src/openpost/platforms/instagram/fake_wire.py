"""The JSON the fake Instagram writes: media entries, insights, paging and Meta's errors
(with ``type: IGApiException`` as Instagram's Graph writes them)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from openpost.platforms.meta.fake_graph import error_response

if TYPE_CHECKING:
    from openpost.platforms.instagram.fake import FakeMedia

KIND = "IGApiException"
RETIRED_METRICS = frozenset(
    {
        "impressions",
        "plays",
        "video_views",
        "engagement",
        "clips_replays_count",
        "ig_reels_aggregated_all_plays_count",
    }
)
MEDIA_METRICS = frozenset(
    {
        "views",
        "reach",
        "likes",
        "comments",
        "shares",
        "saved",
        "total_interactions",
        "follows",
        "profile_visits",
        "profile_activity",
        "ig_reels_avg_watch_time",
        "ig_reels_video_view_total_time",
        "replies",
        "navigation",
    }
)
FACEBOOK_ONLY_METRICS = frozenset({"total_likes", "total_comments", "total_views"})


def meta_time(moment: datetime) -> str:
    """Meta's timestamp form: ``2026-03-01T10:00:00+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def media_entry(media: FakeMedia, fields: list[str]) -> dict[str, Any]:
    every: dict[str, Any] = {
        "id": media.id,
        "caption": media.caption,
        "media_type": media.media_type,
        "media_product_type": media.product,
        "permalink": f"https://www.instagram.com/{'reel' if media.product == 'REELS' else 'p'}"
        f"/{media.code}/",
        "shortcode": media.code,
        "timestamp": meta_time(media.created_at),
        "like_count": media.counters.get("like_count"),
        "comments_count": media.counters.get("comments_count"),
        "owner": {"id": media.owner_id},
    }
    chosen = {"id": media.id}
    for name in fields:
        if name in every and every[name] is not None:
            chosen[name] = every[name]
    return chosen


def insight(media_id: str, name: str, value: Any) -> dict[str, Any]:
    return {
        "name": name,
        "period": "lifetime",
        "values": [{"value": value}],
        "title": name.replace("_", " ").capitalize(),
        "description": f"The {name.replace('_', ' ')} of this media.",
        "id": f"{media_id}/insights/{name}/lifetime",
    }


def cursor_of(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def index_of(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "i" and number.isdigit() else None


def gone(object_id: str, headers: dict[str, str] | None = None) -> Response:
    return error_response(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
        kind=KIND,
        headers=headers,
    )


def invalid_metric(headers: dict[str, str] | None = None) -> Response:
    return error_response(
        100, "(#100) The value must be a valid insights metric", kind=KIND, headers=headers
    )


def expired_token(headers: dict[str, str] | None = None) -> Response:
    return error_response(
        190,
        "Error validating access token: Session has expired on Thursday, 03-Dec-26 10:00:00 "
        "PST. The current time is Thursday, 03-Dec-26 11:00:00 PST.",
        subcode=463,
        kind="OAuthException",
        headers=headers,
    )


def bad_token() -> Response:
    return error_response(
        190, "Invalid OAuth access token - Cannot parse access token", kind="OAuthException"
    )


def throttled(regain_minutes: int, headers: dict[str, str]) -> Response:
    del regain_minutes  # the regain time travels in the usage header
    return error_response(
        80002,
        "There have been too many calls to this Instagram account. Wait a bit and try again.",
        kind=KIND,
        headers=headers,
    )


def app_throttled(headers: dict[str, str]) -> Response:
    return error_response(
        4, "(#4) Application request limit reached", kind="OAuthException", headers=headers
    )


def not_enough_viewers(headers: dict[str, str]) -> Response:
    return error_response(
        10, "(#10) Not enough viewers for the media to show insights", kind=KIND, headers=headers
    )


def transient(headers: dict[str, str] | None = None) -> Response:
    return error_response(
        2, "An unexpected error has occurred. Please retry your request later.",
        kind="OAuthException", status=500, headers=headers,
    )  # fmt: skip


def oauth_error(message: str, *, code: int = 400) -> Response:
    """api.instagram.com's own error body (not the Graph shape)."""
    import orjson

    body = {"error_type": "OAuthException", "code": code, "error_message": message}
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def error_response_param(message: str, headers: dict[str, str] | None = None) -> Response:
    return error_response(100, message, kind=KIND, headers=headers)


def error_response_unknown_path() -> Response:
    return error_response(2500, "Unknown path components", kind="OAuthException", status=400)
