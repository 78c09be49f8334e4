"""Reading X's API v2 answers: ids, counters, posts, errors and rate headers (the client,
``platforms.x``, sends the requests). Facts and mapping are in that module's docstring."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from openpost.core import clock
from openpost.platforms.base import (
    BudgetExhausted,
    DiscoveredPost,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.http import epoch_window, iso_time, json_object, safe_text

PLATFORM = "twitter"
PUBLIC_COUNTERS = (
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
)
PRIVATE_SECTIONS = ("non_public_metrics", "organic_metrics")
CREDITS_PROBE_INTERVAL = timedelta(hours=1)
DEFAULT_RATE_PAUSE = timedelta(minutes=15)

ID = re.compile(r"^[0-9]{1,19}$")


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID.match(value))


def is_counter(value: object) -> bool:
    return type(value) is int and value >= 0


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="x_malformed")


def reading_of(item: dict[str, Any]) -> MetricReading:
    """A post's counters, or ``MalformedResponse`` if any is missing or of the wrong type."""
    post_id = item["id"]
    public = item.get("public_metrics")
    if not isinstance(public, dict):
        raise malformed("X's answer has no public_metrics for this post")
    platform_data: dict[str, Any] = {}
    sections: dict[str, dict[str, int]] = {}
    for section in PRIVATE_SECTIONS:
        values = item.get(section)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(is_counter(v) for v in values.values()):
            raise malformed(f"X's {section} for this post are not counters")
        sections[section] = dict(values)
    impressions = public.get("impression_count")
    if impressions is None and "non_public_metrics" in sections:
        impressions = sections["non_public_metrics"].get("impression_count")
    counters = {**public, "impression_count": impressions}
    for name in PUBLIC_COUNTERS:
        if not is_counter(counters.get(name)):
            raise malformed(f"X's {name} for this post is missing or not a counter")
        platform_data[name] = counters[name]
    platform_data.update(sections)
    return MetricReading(
        platform_post_id=post_id,
        impressions=counters["impression_count"],
        likes=counters["like_count"],
        comments=counters["reply_count"],
        shares=counters["retweet_count"] + counters["quote_count"],
        platform_data=platform_data,
    )


def media_previews(includes: object) -> dict[str, str]:
    """``includes.media`` of an answer: media key → its preview image (a photo's ``url``, a
    video's or GIF's ``preview_image_url``); entries without one are left out."""
    media = includes.get("media") if isinstance(includes, dict) else None
    found: dict[str, str] = {}
    for entry in media if isinstance(media, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("media_key"), str):
            continue
        url = entry.get("url") if entry.get("type") == "photo" else entry.get("preview_image_url")
        if isinstance(url, str) and url.startswith("https://"):
            found[entry["media_key"]] = url
    return found


def first_preview(item: dict[str, Any], previews: dict[str, str]) -> str | None:
    attachments = item.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    for key in keys if isinstance(keys, list) else ():
        if isinstance(key, str) and key in previews:
            return previews[key]
    return None


def discovered_of(
    item: object, username: str, previews: dict[str, str] | None = None
) -> DiscoveredPost:
    if not isinstance(item, dict) or not is_id(item.get("id")):
        raise malformed("X's timeline answer has a post without an id")
    post_id: str = item["id"]
    published = iso_time(item.get("created_at"))
    if published is None:
        raise malformed("X's timeline answer has a post without a valid created_at")
    text = item.get("text")
    try:
        reading: MetricReading | None = reading_of(item)
    except MalformedResponse:
        reading = None  # discovered all the same; its counters are read with the next batch
    return DiscoveredPost(
        platform_post_id=post_id,
        post_url=f"https://x.com/{username}/status/{post_id}",
        published_at=published,
        content=text if isinstance(text, str) else "",
        reading=reading,
        preview_url=first_preview(item, previews or {}),
    )


def error_id(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    for key in ("resource_id", "value"):
        if isinstance(entry.get(key), str):
            return str(entry[key])
    return None


def problem(entry: object) -> str:
    """What an ``errors[]`` entry means: not_found, suspended, not_authorized, field, other.

    X writes ``type`` under both api.twitter.com and api.x.com, so only the suffix counts.
    """
    if not isinstance(entry, dict):
        return "other"
    kind = str(entry.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    title = str(entry.get("title", ""))
    if kind == "not-authorized-for-field" or title == "Field Authorization Error":
        return "field"
    if kind == "not-authorized-for-resource" or title == "Authorization Error":
        return "not_authorized"
    if title == "Forbidden" or "suspended" in str(entry.get("detail", "")).lower():
        return "suspended"
    if kind == "resource-not-found" or title == "Not Found Error":
        return "not_found"
    return "other"


def post_error(kind: str, entry: object) -> PlatformError:
    if kind == "not_authorized":
        return PermissionRequired(
            "X does not let this app read the post (the account is protected)",
            code="x_not_authorized",
        )
    if kind == "suspended":
        return PermissionRequired("X reports the author's account suspended", code="x_suspended")
    if kind == "field":
        return PermissionRequired(
            "X refused the post's private metrics to this connection", code="x_field_forbidden"
        )
    title = safe_text(entry.get("title") if isinstance(entry, dict) else None) or "unknown"
    return PlatformError(f"X reported an error for this post: {title}", code="x_post_error")


def account_error(errors: object, username: str) -> PlatformError:
    entries = errors if isinstance(errors, list) else []
    kinds = [problem(e) for e in entries]
    if "suspended" in kinds:
        return NotFound(f"X reports @{username} suspended", code="x_account_suspended")
    if "not_authorized" in kinds:
        return PermissionRequired(
            f"@{username} is protected: connect it with the owner's consent",
            code="x_not_authorized",
        )
    if "not_found" in kinds:
        return NotFound(f"X has no account @{username}", code="x_account_not_found")
    return malformed("X's answer has neither data nor a recognisable error")


def http_error(
    response: httpx.Response, window: RateWindow | None, *, user_token: bool
) -> PlatformError:
    status = response.status_code
    try:
        body: dict[str, Any] = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        body = {}
    title = safe_text(body.get("title"))
    problem = str(body.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    now = clock.now()
    if status == 401:
        if user_token:
            return PermissionRequired(
                "X rejected the account's access token; reconnect the account",
                code="x_user_unauthorized",
            )
        return PermissionRequired("X rejected the app bearer token", code="x_unauthorized")
    if status == 402 or problem == "credits-depleted":
        return BudgetExhausted(
            "X API credits are depleted; add credits in the X developer console",
            code="x_credits_depleted",
            retry_at=now + CREDITS_PROBE_INTERVAL,
        )
    if status == 429 and (problem == "usage-capped" or title == "UsageCapExceeded"):
        period = safe_text(body.get("period"), 20) or "unknown"
        return BudgetExhausted(
            f"X usage cap reached ({period.lower()} cap)",
            code="x_usage_capped",
            retry_at=next_utc_midnight(now),
        )
    if status == 429:
        retry_at = window.reset_at if window is not None and window.reset_at else None
        if retry_at is None:
            retry_at = now + DEFAULT_RATE_PAUSE
        return RateLimited(
            "X rate limit reached for this endpoint",
            code="x_rate_limited",
            retry_at=max(retry_at, now),
        )
    if status == 403:
        reason = f" ({title})" if title else ""
        return PermissionRequired(f"X refused access{reason}", code="x_forbidden")
    if status >= 500:
        return TransientError(f"X answered HTTP {status}", code="x_server_error")
    reason = f": {title}" if title else ""
    return PlatformError(f"X answered HTTP {status}{reason}", code=f"x_http_{status}")


def next_utc_midnight(now: datetime) -> datetime:
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


def window_of(headers: httpx.Headers) -> RateWindow | None:
    return epoch_window(headers, "x-rate-limit")
