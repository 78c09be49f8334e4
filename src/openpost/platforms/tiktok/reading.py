"""Reading TikTok's API v2 answers: the envelope and its error object, videos, users and
throttling (the client, ``platforms.tiktok.client``, sends the requests). Facts and mapping
are in that module's docstring."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from openpost.platforms.base import (
    AccountReading,
    DiscoveredPost,
    MalformedResponse,
    MetricReading,
    PermissionRequired,
    PlatformError,
    RateLimited,
    TransientError,
)
from openpost.platforms.http import json_object, safe_text

PLATFORM = "tiktok"
COUNTERS = ("view_count", "like_count", "comment_count", "share_count")
ACCOUNT_COUNTERS = ("follower_count", "following_count", "video_count", "likes_count")
# Each endpoint allows 600 requests in any sliding minute; TikTok sends no rate headers.
RATE_LIMIT_PER_MINUTE = 600
RATE_WINDOW = timedelta(minutes=1)

ID = re.compile(r"^[0-9]{1,20}$")
SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID.match(value))


def is_counter(value: object) -> bool:
    return type(value) is int and value >= 0


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="tiktok_malformed")


def video_id(item: dict[str, Any]) -> str | None:
    """A video's id as text: TikTok writes it as a string; a JSON integer is taken exactly
    (never through a float)."""
    raw = item.get("id")
    if type(raw) is int and raw >= 0:
        raw = str(raw)
    return raw if is_id(raw) else None


def error_object(body: dict[str, Any]) -> tuple[str, str]:
    """``(code, message)`` of the envelope's error object (``("", "")`` when absent)."""
    error = body.get("error")
    if not isinstance(error, dict):
        return "", ""
    code, message = error.get("code"), error.get("message")
    return (code if isinstance(code, str) else ""), (safe_text(message) or "")


def data_of(response: httpx.Response, now: datetime) -> dict[str, Any]:
    """The ``data`` object of a successful answer (HTTP 200, ``error.code == "ok"``), or the
    error the answer means."""
    status = response.status_code
    try:
        body = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        if status == 429:
            raise rate_limited(now) from None
        if status >= 500:
            raise TransientError(
                f"TikTok answered HTTP {status}", code="tiktok_server_error"
            ) from None
        raise
    code, message = error_object(body)
    if status == 200 and code == "ok":
        data = body.get("data")
        if not isinstance(data, dict):
            raise malformed("TikTok's answer has no data object")
        return data
    raise api_error(status, code, message, now)


def api_error(status: int, code: str, message: str, now: datetime) -> PlatformError:
    """What TikTok's ``error.code`` (or, without one, the HTTP status) means."""
    reason = f" ({message})" if message else ""
    if code == "access_token_invalid" or (status == 401 and code not in SCOPE_CODES):
        return PermissionRequired(
            "TikTok rejected the account's access token; reconnect the account",
            code="tiktok_token_invalid",
        )
    if code in SCOPE_CODES:
        return PermissionRequired(
            "the TikTok connection lacks a permission this read needs (video.list or "
            "user.info.stats); reconnect the account and allow it",
            code="tiktok_scope_not_authorized",
        )
    if code == "rate_limit_exceeded" or status == 429:
        return rate_limited(now)
    if code == "internal_error" or status >= 500:
        return TransientError(f"TikTok answered HTTP {status}{reason}", code="tiktok_server_error")
    if code == "invalid_params":
        return PlatformError(f"TikTok refused the request{reason}", code="tiktok_invalid_params")
    if status == 200:
        return malformed("TikTok's answer has neither data nor a known error code")
    return PlatformError(f"TikTok answered HTTP {status}{reason}", code=f"tiktok_http_{status}")


def rate_limited(now: datetime) -> RateLimited:
    """The endpoint's sliding minute is spent: a minute from now it has room again."""
    return RateLimited(
        "TikTok rate limit reached for this endpoint (600 requests per minute)",
        code="tiktok_rate_limited",
        retry_at=now + RATE_WINDOW,
    )


def reading_of(item: dict[str, Any], post_id: str) -> MetricReading:
    """A video's counters (plays as impressions), or ``MalformedResponse`` if any is missing
    or not a counter."""
    values: dict[str, int] = {}
    for name in COUNTERS:
        value = item.get(name)
        if type(value) is not int or value < 0:
            raise malformed(f"TikTok's {name} for this video is missing or not a counter")
        values[name] = value
    return MetricReading(
        platform_post_id=post_id,
        impressions=values["view_count"],
        likes=values["like_count"],
        comments=values["comment_count"],
        shares=values["share_count"],
        platform_data={**values, "impressions_kind": "plays"},
    )


def discovered_of(item: object, username: str) -> DiscoveredPost:
    if not isinstance(item, dict):
        raise malformed("TikTok's video list has an entry that is not an object")
    post_id = video_id(item)
    if post_id is None:
        raise malformed("TikTok's video list has a video without an id")
    created = item.get("create_time")
    if type(created) is not int or created <= 0:
        raise malformed("TikTok's video list has a video without a valid create_time")
    share_url = item.get("share_url")
    url = (
        share_url
        if isinstance(share_url, str) and share_url.startswith("https://www.tiktok.com/")
        else f"https://www.tiktok.com/@{username}/video/{post_id}"
    )
    title = item.get("title") or item.get("video_description")
    try:
        reading: MetricReading | None = reading_of(item, post_id)
    except MalformedResponse:
        reading = None  # discovered all the same; its counters come with the next read
    return DiscoveredPost(
        platform_post_id=post_id,
        post_url=url,
        published_at=datetime.fromtimestamp(created, UTC),
        content=title if isinstance(title, str) else "",
        reading=reading,
    )


def account_reading_of(user: dict[str, Any], open_id: str) -> AccountReading:
    """The user's own counters; ``None`` for one TikTok did not report (never 0)."""

    def counter(name: str) -> int | None:
        value = user.get(name)
        return value if is_counter(value) else None

    reported = {name: user[name] for name in ACCOUNT_COUNTERS if is_counter(user.get(name))}
    return AccountReading(
        external_account_id=open_id,
        followers=counter("follower_count"),
        following=counter("following_count"),
        posts=counter("video_count"),
        platform_data=reported,
    )
