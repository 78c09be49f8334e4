"""Instagram's answers, parsed: media listings, insights, counters and account fields in,
``DiscoveredPost``s, ``MetricReading``s and ``AccountReading``s out (pure: no HTTP here).

Facts (gated-platforms.md §3): media insights are ``{"data": [{"name", "period":
"lifetime", "values": [{"value": int}], …}]}``; an **empty** ``data`` means the numbers are
not available yet (up to 48 hours after publication), never zero. Mapping (SPEC §2, §9.1):
impressions = ``views`` (``impressions_kind: "views"``), likes = ``likes`` (else the media's
``like_count``), comments = ``comments`` (else ``comments_count``), shares = ``shares``;
``reach``, ``saved``, ``total_interactions`` (and, on Facebook Login, ``total_likes``,
``total_comments``, ``total_views``, which include ads) are kept in ``platform_data``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from openpost.platforms.base import (
    AccountReading,
    DiscoveredPost,
    MalformedResponse,
    MetricReading,
)

PLATFORM = "instagram"
# Organic per-post insights (never ``impressions`` or ``plays``: retired, they fail the call).
METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
# Facebook Login only: totals including ad and boosted engagement.
TOTAL_METRICS = ("total_likes", "total_comments", "total_views")
EXTRAS = ("reach", "saved", "total_interactions", *TOTAL_METRICS)
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,permalink,shortcode,timestamp,"
    "like_count,comments_count"
)
ACCOUNT_FIELDS = "id,username,followers_count,follows_count,media_count"
_ID = re.compile(r"^[0-9]{1,25}$")
_SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PERMALINK = re.compile(r"/(?:p|reels?|tv)/([A-Za-z0-9_-]{1,64})/?")


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="instagram_malformed")


def is_media_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def is_shortcode(value: object) -> bool:
    return isinstance(value, str) and bool(_SHORTCODE.match(value)) and not value.isdigit()


def graph_id(value: object) -> str | None:
    """A Graph id as text: Meta writes them as strings, but a big JSON number (a token
    answer's ``user_id``) is kept exact as its digits."""
    if isinstance(value, str) and _ID.match(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return None


def count(value: object) -> int | None:
    """A non-negative integer counter, ``None`` for anything else (never a guess)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def timestamp(value: object) -> datetime | None:
    """Meta's ``2026-03-01T10:00:00+0000`` (also ``+00:00``) as UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def shortcode_of(item: Mapping[str, Any]) -> str | None:
    """The media's public code: its ``shortcode`` field, else the one in its permalink."""
    code = item.get("shortcode")
    if is_shortcode(code):
        return str(code)
    permalink = item.get("permalink")
    if isinstance(permalink, str):
        found = _PERMALINK.search(permalink)
        if found:
            return found.group(1)
    return None


def listed_media(item: object) -> tuple[str, str, datetime, dict[str, Any]]:
    """``(media id, shortcode, published, item)`` of one ``/media`` entry."""
    if not isinstance(item, dict):
        raise malformed("an Instagram media entry is not an object")
    media_id, code, published = graph_id(item.get("id")), shortcode_of(item), None
    published = timestamp(item.get("timestamp"))
    if media_id is None or code is None or published is None:
        raise malformed("an Instagram media entry lacks its id, shortcode or timestamp")
    return media_id, code, published, item


def discovered(code: str, published: datetime, item: Mapping[str, Any]) -> DiscoveredPost:
    permalink = item.get("permalink")
    caption = item.get("caption")
    return DiscoveredPost(
        platform_post_id=code,
        post_url=permalink
        if isinstance(permalink, str) and permalink
        else f"https://www.instagram.com/p/{code}/",
        published_at=published,
        content=caption if isinstance(caption, str) else "",
    )


def insight_values(body: Mapping[str, Any]) -> dict[str, int]:
    """``{metric: value}`` of an insights answer (metrics whose value is not a count are
    left out; an empty ``data`` gives ``{}``)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed("Instagram's insights answer has no data list")
    values: dict[str, int] = {}
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise malformed("an Instagram insights entry has no name")
        points = entry.get("values")
        value: object = None
        if isinstance(points, list) and points and isinstance(points[0], dict):
            value = points[0].get("value")
        elif isinstance(entry.get("total_value"), dict):
            value = entry["total_value"].get("value")
        number = count(value)
        if number is not None:
            values[entry["name"]] = number
    return values


def reading_of(
    code: str, insights: Mapping[str, int], counters: Mapping[str, Any] | None
) -> MetricReading:
    """One post's reading from its insights (``{}``: not available yet) and, when the
    insights lack likes or comments, the media's own counters."""
    counters = counters or {}
    like_count, comments_count = (
        count(counters.get("like_count")),
        count(counters.get("comments_count")),
    )
    likes = insights.get("likes", like_count)
    comments = insights.get("comments", comments_count)
    data: dict[str, Any] = {"impressions_kind": "views"}
    for name in EXTRAS:
        if name in insights:
            data[name] = insights[name]
    if "views" in insights:
        data["views"] = insights["views"]
    if like_count is not None:
        data["like_count"] = like_count
    if comments_count is not None:
        data["comments_count"] = comments_count
    if not insights:
        data["insights"] = "not_available_yet"
    return MetricReading(
        platform_post_id=code,
        impressions=insights.get("views"),
        likes=likes,
        comments=comments,
        shares=insights.get("shares"),
        platform_data=data,
    )


def account_reading(account_id: str, body: Mapping[str, Any]) -> AccountReading:
    data = {
        name: body[name]
        for name in ("followers_count", "follows_count", "media_count")
        if count(body.get(name)) is not None
    }
    username = body.get("username")
    if isinstance(username, str):
        data["username"] = username
    return AccountReading(
        external_account_id=account_id,
        followers=count(body.get("followers_count")),
        following=count(body.get("follows_count")),
        posts=count(body.get("media_count")),
        platform_data=data,
    )


def cursor(published: datetime, code: str) -> str:
    """Discovery's cursor: the newest post's time (epoch seconds) and code, so that a
    deleted newest post still tells where "new" starts."""
    return f"{int(published.timestamp())}:{code}"


def parse_cursor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seconds, sep, code = value.partition(":")
    if not sep or not seconds.isdigit() or not is_shortcode(code):
        raise ValueError("not an Instagram discovery cursor")
    return int(seconds), code
