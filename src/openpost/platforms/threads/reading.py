"""Reading Threads' Graph answers: listed posts, insights, account counters and discovery
cursors (the client, ``platforms.threads.client``, sends the requests; facts there).

Mapping (``reference/gated-platforms.md`` §2.4): impressions = ``views`` (kind "views"),
likes = ``likes``, comments = ``replies``, shares = ``reposts`` + ``quotes``;
``platform_data`` keeps every metric Threads reported under its own name (``quotes``, and
``shares``: sends off Threads, not reposts). ``views`` and ``shares`` are "in development"
and may be missing: a missing metric is ``None``, never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openpost.platforms.base import DiscoveredPost, MalformedResponse, MetricReading
from openpost.platforms.http import iso_time
from openpost.platforms.threads.urls import SHORTCODE

PLATFORM = "threads"
INSIGHT_METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
# Without the two "in development" metrics, for an answer refusing one of them (code 100).
CORE_METRICS = ("likes", "replies", "reposts", "quotes")
LIST_FIELDS = "id,media_product_type,media_type,permalink,username,text,timestamp,shortcode"
REPOST = "REPOST_FACADE"  # a repost of someone else's post: not the account's own
SINCE_MIN = 1688540400  # Threads refuses an earlier ``since``

MEDIA_ID = re.compile(r"^[0-9]{1,24}$")


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="threads_malformed")


def is_counter(value: object) -> bool:
    return type(value) is int and value >= 0


def stored_id_valid(post_id: str) -> bool:
    """A stored Threads id: a numeric media id or a shortcode."""
    return bool(MEDIA_ID.match(post_id) or SHORTCODE.match(post_id))


def reading_of(post_id: str, body: dict[str, Any]) -> MetricReading:
    """A post's counters from ``GET /{media}/insights`` (``data`` empty: insights are not
    available yet, every counter ``None``)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed("Threads' insights answer has no data list")
    values: dict[str, int] = {}
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise malformed("Threads' insights answer has an entry without a name")
        points = entry.get("values")
        total = entry.get("total_value")
        if isinstance(points, list) and points and isinstance(points[0], dict):
            value = points[0].get("value")
        elif isinstance(total, dict):
            value = total.get("value")
        else:
            raise malformed(f"Threads' {entry['name']} for this post has no value")
        if not is_counter(value):
            raise malformed(f"Threads' {entry['name']} for this post is not a counter")
        values[entry["name"]] = int(value)  # type: ignore[arg-type]  # checked just above
    reposts, quotes = values.get("reposts"), values.get("quotes")
    shares = None if reposts is None and quotes is None else (reposts or 0) + (quotes or 0)
    platform_data: dict[str, Any] = {"impressions_kind": "views"}
    platform_data.update({name: values[name] for name in INSIGHT_METRICS if name in values})
    return MetricReading(
        platform_post_id=post_id,
        impressions=values.get("views"),
        likes=values.get("likes"),
        comments=values.get("replies"),
        shares=shares,
        platform_data=platform_data,
    )


@dataclass(frozen=True, slots=True)
class Listed:
    """One entry of ``GET /{user}/threads``: its media id, the id stored for it (the
    shortcode, else the media id), its time, and the post as discovery returns it."""

    media_id: str
    stored_id: str
    published_at: datetime
    post: DiscoveredPost
    repost: bool


def listed_of(item: object, username: str) -> Listed:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise malformed("Threads' listing has a post without an id")
    media_id: str = item["id"]
    if not MEDIA_ID.match(media_id):
        raise malformed("Threads' listing has a post whose id is not a media id")
    shortcode = item.get("shortcode")
    stored = shortcode if isinstance(shortcode, str) and SHORTCODE.match(shortcode) else media_id
    published = iso_time(item.get("timestamp"))
    if published is None:
        raise malformed("Threads' listing has a post without a valid timestamp")
    permalink = item.get("permalink")
    author = item.get("username") if isinstance(item.get("username"), str) else username
    if not isinstance(permalink, str) or not permalink.startswith("https://"):
        # Left out for copyright-flagged media: build it from the shortcode where there is one.
        permalink = f"https://www.threads.net/@{author}/post/{stored}" if stored != media_id else ""
    text = item.get("text")
    post = DiscoveredPost(
        platform_post_id=stored,
        post_url=permalink,
        published_at=published,
        content=text if isinstance(text, str) else "",
    )
    return Listed(media_id, stored, published, post, repost=item.get("media_type") == REPOST)


def page_of(body: dict[str, Any]) -> tuple[list[object], str | None]:
    """A listing page's entries, and the ``after`` cursor when Threads says there is more
    (a ``paging.next`` link)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed("Threads' listing answer has no data list")
    paging = body.get("paging")
    paging = paging if isinstance(paging, dict) else {}
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    more = isinstance(paging.get("next"), str) and isinstance(after, str) and bool(after)
    return data, after if more else None


def make_cursor(published_at: datetime, stored_id: str) -> str:
    """Discovery's cursor: the newest post's Unix time and stored id (``1712345678:abc``),
    so a deleted cursor post still bounds what is new."""
    return f"{int(published_at.timestamp())}:{stored_id}"


def parse_cursor(cursor: str) -> tuple[int, str]:
    seconds, _, stored = cursor.partition(":")
    if not seconds.isdigit() or not stored or not stored_id_valid(stored):
        raise ValueError("not a Threads discovery cursor")
    return int(seconds), stored


def cursor_time(cursor: str) -> datetime:
    return datetime.fromtimestamp(parse_cursor(cursor)[0], UTC)


def followers_of(body: dict[str, Any]) -> int | None:
    """``followers_count`` of ``GET /{user}/threads_insights`` (``total_value.value``)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed("Threads' account insights answer has no data list")
    for entry in data:
        if isinstance(entry, dict) and entry.get("name") == "followers_count":
            total = entry.get("total_value")
            value = total.get("value") if isinstance(total, dict) else None
            if value is None:
                return None
            if not is_counter(value):
                raise malformed("Threads' followers_count is not a counter")
            return int(value)
    return None
