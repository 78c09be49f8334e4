"""The JSON the fake Facebook Graph API writes: Page posts, counters, insights, Pages,
paging, and Meta's error bodies (``platforms.meta.fake_graph``), shaped as Graph writes them
(reference: gated-platforms.md §1, §4; examples there use invented values)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpost.platforms.facebook.fake import FakePage, FakePost

Body = dict[str, Any]

# Retired in the 2025-11 / 2026-06 waves (and 2024-03): asking for one fails the whole call.
RETIRED_METRICS = frozenset(
    {
        "post_impressions",
        "post_impressions_unique",
        "post_impressions_paid",
        "post_impressions_organic",
        "post_impressions_viral",
        "post_impressions_nonviral",
        "post_impressions_fan",
        "post_engaged_users",
        "page_impressions",
        "page_engaged_users",
    }
)
POST_METRICS = frozenset(
    {
        "post_media_view",
        "post_total_media_view_unique",
        "post_reactions_by_type_total",
        "post_clicks",
    }
)
VIDEO_METRICS = frozenset(
    {"blue_reels_play_count", "post_impressions_unique", "post_video_avg_time_watched"}
)

INVALID_TOKEN = (190, None, "Invalid OAuth access token - Cannot parse access token")
EXPIRED = "Error validating access token: Session has expired on Thursday, 16-Apr-26 10:00:00 PDT."
SUBCODE_MESSAGES = {
    458: "Error validating access token: The user has not authorized application.",
    460: "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons.",
    463: EXPIRED,
}


def graph_time(at: datetime) -> str:
    """Graph's time format: ``2026-03-01T10:00:00+0000``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def gone(node_id: str) -> tuple[int, int, str]:
    return (
        100,
        33,
        f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph "
        "API documentation at https://developers.facebook.com/docs/graph-api",
    )


def listed_post(post: FakePost, page: FakePage) -> Body:
    permalink = (
        f"https://www.facebook.com/reel/{post.video_id}"
        if post.video_id
        else f"https://www.facebook.com/{page.username}/posts/pfbid0{post.id.split('_')[1]}Xq"
    )
    body: Body = {"id": post.id, "created_time": graph_time(post.created_at)}
    body["permalink_url"] = permalink
    if post.message:
        body["message"] = post.message
    return body


def summary_edge(total: Any) -> Body:
    return {"data": [], "summary": {"total_count": total, "can_comment": True}}


def counters(post: FakePost, fields: list[str], node_id: str) -> Body:
    """A post's (or reel video's) counter fields as asked (``shares`` left out when 0, as
    Facebook does; a video node has no ``shares`` field)."""
    body: Body = {"id": node_id}
    for field in fields:
        name = field.split(".", 1)[0]
        if name == "reactions":
            body["reactions"] = summary_edge(post.reactions_total)
        elif name == "comments":
            body["comments"] = summary_edge(post.comments)
        elif name == "shares" and not post.video_id and post.shares:
            body["shares"] = {"count": post.shares}
        elif name == "message" and post.message:
            body["message"] = post.message
        elif name == "created_time":
            body["created_time"] = graph_time(post.created_at)
    return body


def _metric(node_id: str, name: str, value: Any, period: str = "lifetime") -> Body:
    return {
        "name": name,
        "period": period,
        "values": [{"value": value}],
        "title": name.replace("_", " ").capitalize(),
        "description": f"Lifetime: {name}",
        "id": f"{node_id}/insights/{name}/{period}",
    }


def insights(post: FakePost, node_id: str, metrics: list[str]) -> Body:
    """``/insights`` (or ``/video_insights``) data; empty while the insights are not ready."""
    if not post.insights_ready:
        return {"data": []}
    values: dict[str, Any] = {
        "post_media_view": post.views,
        "post_total_media_view_unique": post.reach,
        "post_reactions_by_type_total": {k: v for k, v in post.reactions.items() if v},
        "post_clicks": post.clicks,
        "blue_reels_play_count": post.views,
        "post_impressions_unique": post.reach,
        "post_video_avg_time_watched": 4200,
    }
    data = []
    for name in metrics:
        if name == "post_media_view":  # Graph gives it per day as well: lifetime must win
            data.append(_metric(node_id, name, max(post.views // 3, 0), "day"))
        data.append(_metric(node_id, name, values[name]))
    return {"data": data, "paging": {"previous": "", "next": ""}}


def page_fields(page: FakePage, fields: list[str]) -> Body:
    known: Body = {
        "id": page.id,
        "name": page.name,
        "username": page.username,
        "followers_count": page.followers,
        "fan_count": page.fans,
    }
    return {"id": page.id, **{f: known[f] for f in fields if f in known}}


def paged(data: list[Body], after: int | None, base: str) -> Body:
    """A page of a list, with Graph's cursor paging (``next`` only when more follow)."""
    body: Body = {"data": data}
    if data:
        paging: Body = {"cursors": {"before": "QVFIUjBlZA", "after": f"QVFI{after or 0:08d}"}}
        if after is not None:
            paging["next"] = f"{base}&after=QVFI{after:08d}"
        body["paging"] = paging
    return body


def cursor_offset(after: str | None) -> int:
    if not after or not after.startswith("QVFI") or not after[4:].isdigit():
        return 0
    return int(after[4:])
