"""Facebook Pages: the pure parsing of Graph answers (JSON in, readings and errors out).

Facts (reference: gated-platforms.md §1, §4):

- Counters of a Page post: ``GET /{post-id}?fields=reactions.limit(0).summary(true),
  comments.limit(0).summary(true),shares`` → ``reactions.summary.total_count``,
  ``comments.summary.total_count``, ``shares.count``; ``shares`` is left out when 0.
- Insights: ``GET /{post-id}/insights?metric=post_media_view,post_total_media_view_unique,
  post_reactions_by_type_total`` → ``{"data": [{"name", "period", "values": [{"value"}]}]}``;
  a metric may come twice (``lifetime`` and ``day``): lifetime wins. No data yet (insights
  lag up to 48 h): the metric is missing, so impressions are ``None``, never 0.
- Reels (stored as their video id, bare digits) have no ``/insights`` edge: ``GET
  /{video-id}/video_insights?metric=blue_reels_play_count,post_impressions_unique`` (plays,
  and reach), and the video node has no ``shares`` field (shares ``None``).

Mapping (SPEC §2, §9.1): impressions = ``post_media_view`` (views; ``impressions_kind``
``views``; reels: ``blue_reels_play_count``, kind ``plays``), likes = reactions total (the
per-type counts in ``platform_data["reactions_by_type"]``), comments = comments total, shares
= ``shares.count``; reach in ``platform_data["reach"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openpost.platforms.base import DiscoveredPost, MalformedResponse, MetricReading
from openpost.platforms.http import iso_time

PLATFORM = "facebook"
COUNTER_FIELDS = "reactions.limit(0).summary(true),comments.limit(0).summary(true),shares"
VIDEO_COUNTER_FIELDS = "reactions.limit(0).summary(true),comments.limit(0).summary(true)"
POST_METRICS = ("post_media_view", "post_total_media_view_unique", "post_reactions_by_type_total")
REEL_METRICS = ("blue_reels_play_count", "post_impressions_unique")
DISCOVERY_FIELDS = "id,created_time,permalink_url,message"
ACCOUNT_FIELDS = "id,name,username,followers_count,fan_count"


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="facebook_malformed")


def is_reel_id(post_id: str) -> bool:
    """A bare number is read as a video (a reel: ``/reel/<id>``); ``<page>_<post>`` as a
    Page post."""
    return "_" not in post_id


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _summary_total(body: Mapping[str, Any], edge: str) -> int:
    section = body.get(edge)
    summary = section.get("summary") if isinstance(section, dict) else None
    total = _count(summary.get("total_count")) if isinstance(summary, dict) else None
    if total is None:
        raise malformed(f"Facebook's answer has no {edge} total for this post")
    return total


def insight_values(body: Mapping[str, Any]) -> dict[str, object]:
    """The metrics of an insights answer by name (lifetime preferred when one comes twice)."""
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed("Facebook's insights answer has no data list")
    found: dict[str, tuple[bool, object]] = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        values = item.get("values")
        if not isinstance(values, list) or not values or not isinstance(values[-1], dict):
            continue
        lifetime = item.get("period") == "lifetime"
        name = item["name"]
        if name in found and found[name][0] and not lifetime:
            continue
        found[name] = (lifetime, values[-1].get("value"))
    return {name: value for name, (_lifetime, value) in found.items()}


@dataclass(frozen=True, slots=True)
class Counters:
    likes: int
    comments: int
    shares: int | None


def counters_of(body: Mapping[str, Any], *, reel: bool) -> Counters:
    likes = _summary_total(body, "reactions")
    comments = _summary_total(body, "comments")
    if reel:
        return Counters(likes, comments, None)
    shares_section = body.get("shares")
    if shares_section is None:
        return Counters(likes, comments, 0)  # Facebook leaves ``shares`` out when it is 0
    shares = _count(shares_section.get("count")) if isinstance(shares_section, dict) else None
    if shares is None:
        raise malformed("Facebook's answer has a shares section without a count")
    return Counters(likes, comments, shares)


def reading_of(
    post_id: str, counters: Counters, insights: Mapping[str, object] | None, *, reel: bool
) -> MetricReading:
    """One post's reading from its counters and insights (``insights`` ``None``: none yet)."""
    values = insights or {}
    data: dict[str, Any] = {
        "impressions_kind": "plays" if reel else "views",
        "reactions": counters.likes,
        "comments": counters.comments,
    }
    if counters.shares is not None:
        data["shares"] = counters.shares
    if reel:
        views = _count(values.get("blue_reels_play_count"))
        reach = _count(values.get("post_impressions_unique"))
        if views is not None:
            data["blue_reels_play_count"] = views
    else:
        views = _count(values.get("post_media_view"))
        reach = _count(values.get("post_total_media_view_unique"))
        if views is not None:
            data["post_media_view"] = views
        by_type = values.get("post_reactions_by_type_total")
        if isinstance(by_type, dict):
            data["reactions_by_type"] = {
                str(kind): count for kind, n in by_type.items() if (count := _count(n)) is not None
            }
    if reach is not None:
        data["reach"] = reach
    if views is None:
        data["insights_pending"] = True
    return MetricReading(
        platform_post_id=post_id,
        impressions=views,
        likes=counters.likes,
        comments=counters.comments,
        shares=counters.shares,
        platform_data=data,
    )


# ---- discovery -------------------------------------------------------------------------------


def make_cursor(post_id: str, published_at: datetime) -> str:
    """Discovery's cursor: the newest post's id and publish time (the time lets a deleted
    cursor post still bound the next read)."""
    return f"{post_id}@{int(published_at.timestamp())}"


def parse_cursor(cursor: str) -> tuple[str, datetime | None]:
    """``(post id, publish time)`` of a cursor (``ValueError`` when it is none)."""
    post_id, at, seconds = cursor.partition("@")
    if not post_id or not all(part.isascii() and part.isdigit() for part in post_id.split("_")):
        raise ValueError("since_id must be a Facebook discovery cursor (<post id>@<time>)")
    if at and not (seconds.isascii() and seconds.isdigit()):
        raise ValueError("since_id must be a Facebook discovery cursor (<post id>@<time>)")
    return post_id, datetime.fromtimestamp(int(seconds), UTC) if at else None


def graph_time(value: object) -> datetime | None:
    """Graph's ``created_time`` (``2026-03-01T10:00:00+0000``) as UTC."""
    if isinstance(value, str) and len(value) >= 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    return iso_time(value)


def discovered_of(item: object, stored_id: str, post_url: str) -> DiscoveredPost:
    if not isinstance(item, dict):
        raise malformed("Facebook's post list holds something that is not a post")
    published = graph_time(item.get("created_time"))
    if published is None:
        raise malformed("Facebook's post list has a post without a readable created_time")
    message = item.get("message")
    return DiscoveredPost(
        platform_post_id=stored_id,
        post_url=post_url,
        published_at=published,
        content=message if isinstance(message, str) else "",
    )
