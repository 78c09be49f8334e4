"""TikTok's wire format, for the fake: the ``{"data", "error"}`` envelope, the error object
and its HTTP statuses, the OAuth error body, the field lists of ``/v2/user/info/`` and the
video endpoints, and how a video or a user is written. Shapes follow
``reference/gated-platforms.md`` §6 and ``platform-apis.md`` §9; messages are ours."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.tiktok.fake import FakeUser, FakeVideo

# error.code → HTTP status (developers.tiktok.com/doc/tiktok-api-v2-error-handling).
STATUS = {
    "ok": 200,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "scope_permission_missed": 401,
    "invalid_params": 400,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}

VIDEO_FIELDS = frozenset(
    {
        "id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
        "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
        "share_count", "view_count",
    }
)  # fmt: skip
# user/info fields by the scope each needs.
USER_FIELD_SCOPES = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}


def log_id(now: datetime) -> str:
    """A log id as TikTok writes them: the time, then random hex."""
    return now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(9).upper()


def envelope(data: dict[str, Any], now: datetime) -> Response:
    body = {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id(now)}}
    return JSONResponse(body, status_code=200)


def error(code: str, message: str, now: datetime, *, status: int | None = None) -> Response:
    """An API error: the envelope with an empty ``data`` and the error object."""
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": log_id(now)}}
    return JSONResponse(body, status_code=status or STATUS.get(code, 400))


def oauth_error(error_code: str, description: str, now: datetime, *, status: int) -> Response:
    """The token endpoint's error body (``error``, ``error_description``, ``log_id``)."""
    body = {"error": error_code, "error_description": description, "log_id": log_id(now)}
    return JSONResponse(body, status_code=status)


def fault_response(kind: str, status: int, now: datetime) -> Response:
    """What an injected fault looks like: TikTok's own error codes, or the proxy's 5xx."""
    if kind == "rate_limited":
        return error("rate_limit_exceeded", "API rate limit exceeded.", now)
    if kind == "token_invalid":
        return error(
            "access_token_invalid", "The access token is invalid or not found in the request.", now
        )
    if kind == "scope_not_authorized":
        message = "The user did not authorize the scope required for completing this request."
        return error("scope_not_authorized", message, now)
    if kind == "not_json":
        return Response("<html><body>502 Bad Gateway</body></html>", 502, media_type="text/html")
    if status == 500:
        return error("internal_error", "Something went wrong.", now)
    return Response("Service Unavailable", status, media_type="text/plain")


def fields_of(raw: str | None, allowed: frozenset[str] | set[str]) -> list[str] | str:
    """The comma-separated ``fields`` query parameter, or the message of a bad one."""
    if not raw:
        return "fields is required"
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        return f"invalid field: {unknown[0]}"
    return fields


def render_video(video: FakeVideo, username: str, fields: list[str]) -> dict[str, Any]:
    every: dict[str, Any] = {
        "id": video.id,
        "create_time": int(video.create_time.timestamp()),
        "title": video.title,
        "video_description": video.title,
        "share_url": f"https://www.tiktok.com/@{username}/video/{video.id}",
        "embed_link": f"https://www.tiktok.com/player/v1/{video.id}",
        "cover_image_url": f"https://p16-sign.tiktokcdn.com/obj/{video.id}.jpeg",
        "duration": video.duration,
        "height": 1920,
        "width": 1080,
        "view_count": video.counts.get("view_count"),
        "like_count": video.counts.get("like_count"),
        "comment_count": video.counts.get("comment_count"),
        "share_count": video.counts.get("share_count"),
    }
    return {name: every[name] for name in fields if name in every}


def render_user(user: FakeUser, video_count: int, fields: list[str]) -> dict[str, Any]:
    every: dict[str, Any] = {
        "open_id": user.open_id,
        "union_id": user.union_id,
        "avatar_url": f"https://p16-sign.tiktokcdn.com/avatar/{user.open_id}.jpeg",
        "avatar_url_100": f"https://p16-sign.tiktokcdn.com/avatar/{user.open_id}~100.jpeg",
        "avatar_large_url": f"https://p16-sign.tiktokcdn.com/avatar/{user.open_id}~720.jpeg",
        "display_name": user.display_name,
        "bio_description": "",
        "profile_deep_link": f"https://vm.tiktok.com/{user.open_id[:9]}/",
        "is_verified": False,
        "username": user.username,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "likes_count": user.likes_count,
        "video_count": video_count,
    }
    return {name: every[name] for name in fields}
