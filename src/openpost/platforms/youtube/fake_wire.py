"""YouTube's wire format, for the fake: Google's error envelope, identifiers (channel ids,
video ids, uploads playlists), page tokens and the resources (``channel``, ``video``,
``playlistItem``) with their list-response wrappers. Shapes follow the YouTube Data API v3
reference (``reference/platform-apis.md`` §8); messages are ours."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from openpost.platforms.fakes.base import bad_gateway

if TYPE_CHECKING:
    from openpost.platforms.youtube.fake import FakeChannel, FakeVideo

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
VIDEO_LAST = "AEIMQUYcgkosw048"  # an 11-character id holds 64 bits: its last character 4
CHANNEL_LAST = "AQgw"  # a 22-character channel id body holds 128 bits: its last one 2
STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
CHANNEL_PARTS = frozenset(
    {
        "auditDetails", "brandingSettings", "contentDetails", "contentOwnerDetails", "id",
        "localizations", "snippet", "statistics", "status", "topicDetails",
    }
)  # fmt: skip
VIDEO_PARTS = frozenset(
    {
        "contentDetails", "fileDetails", "id", "liveStreamingDetails", "localizations",
        "paidProductPlacementDetails", "player", "processingDetails", "recordingDetails",
        "snippet", "statistics", "status", "suggestions", "topicDetails",
    }
)  # fmt: skip
PLAYLIST_ITEM_PARTS = frozenset({"contentDetails", "id", "snippet", "status"})

QUOTA_MESSAGE = "The request cannot be completed because you have exceeded your quota."
KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."
KEY_MISSING_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Google's JSON error envelope."""
    entry: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location is not None:
        entry["location"] = location
        entry["locationType"] = "parameter"
    body: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [entry],
        "status": STATUS_TEXT.get(status, "UNKNOWN"),
    }
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def quota_exceeded() -> Response:
    return error(403, "quotaExceeded", QUOTA_MESSAGE, domain="youtube.quota")


def key_invalid(style: str) -> Response:
    """A key Google does not know. Older answers say ``keyInvalid`` in ``errors[]``; newer
    ones say ``badRequest`` there and ``API_KEY_INVALID`` in ``details[]``."""
    if style == "keyInvalid":
        return error(400, "keyInvalid", KEY_INVALID_MESSAGE, domain="usageLimits")
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "youtube.googleapis.com"},
    }
    return error(400, "badRequest", KEY_INVALID_MESSAGE, details=[info])


def key_missing() -> Response:
    return error(403, "forbidden", KEY_MISSING_MESSAGE)


def invalid(reason: str, message: str, parameter: str, *, domain: str = "global") -> Response:
    return error(400, reason, message, domain=domain, location=parameter)


def required(parameter: str) -> Response:
    return invalid("required", f"Required parameter: {parameter}", parameter)


def unknown_part(part: str) -> Response:
    return invalid("unknownPart", part, "part", domain="youtube.part")


def check_parts(raw: str | None, allowed: frozenset[str]) -> tuple[set[str], Response | None]:
    if not raw:
        return set(), required("part")
    parts = {p.strip() for p in raw.split(",") if p.strip()}
    for part in sorted(parts):
        if part not in allowed:
            return parts, unknown_part(part)
    return parts, None


def fault_response(kind: str, *, status: int) -> Response:
    """What Google sends for each fault a test can inject."""
    if kind == "server_error":
        if status == 502:
            return bad_gateway()
        return error(status, "backendError", "Backend Error")
    if kind == "rate_limited":  # a 403 unless a test asked for another status than the default
        status = 403 if status == 503 else status
        return error(status, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
    if kind == "user_rate_limited":
        message = "User Rate Limit Exceeded"
        return error(403, "userRateLimitExceeded", message, domain="usageLimits")
    if kind == "too_many_requests":
        message = "Too many requests; slow down."
        return error(429, "rateLimitExceeded", message, headers={"Retry-After": "30"})
    if kind == "quota_exceeded":
        return quota_exceeded()
    if kind == "daily_limit":
        message = "Daily Limit Exceeded. The quota will be reset at midnight Pacific Time."
        return error(403, "dailyLimitExceeded", message, domain="usageLimits")
    if kind == "access_not_configured":
        message = (
            "YouTube Data API v3 has not been used in project 123456789 before or it is "
            "disabled. Enable it by visiting the Google Cloud console, then retry."
        )
        return error(403, "accessNotConfigured", message, domain="usageLimits")
    if kind == "forbidden":
        return error(403, "forbidden", "Access forbidden. The request may not be authorized.")
    if kind == "not_json":
        return Response(
            "<html><body>Service unavailable</body></html>", 200, media_type="text/html"
        )
    return JSONResponse({"kind": "youtube#videoListResponse", "items": {"oops": 1}})  # wrong_shape


# ---- identifiers -------------------------------------------------------------------------


def _chars(seed: str, count: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(ID_ALPHABET[b % 64] for b in digest[:count])


def channel_id_for(handle: str) -> str:
    """A stable ``UC`` + 22-character channel id for a handle."""
    body = _chars("channel:" + handle.lower(), 21)
    return "UC" + body + CHANNEL_LAST[hashlib.sha256(handle.encode()).digest()[0] % 4]


def video_id_for(seed: str) -> str:
    """A stable 11-character video id."""
    return _chars("video:" + seed, 10) + VIDEO_LAST[hashlib.sha256(seed.encode()).digest()[1] % 16]


def uploads_id_for(channel_id: str) -> str:
    return "UU" + channel_id[2:]


def etag(*parts: object) -> str:
    return _chars("etag:" + "|".join(str(p) for p in parts), 27)


def encode_token(offset: int) -> str:
    """An opaque page token (Google's look like ``CDIQAA``: base64 of a small message)."""
    raw = b"\x08" + offset.to_bytes(4, "big") + b"\x10\x00"
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 7 or raw[0] != 0x08 or raw[5:] != b"\x10\x00":
        return None
    return int.from_bytes(raw[1:5], "big")


def timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- resources -------------------------------------------------------------------------------


def thumbnails(kind: str, ident: str) -> dict[str, Any]:
    base = f"https://i.ytimg.com/{kind}/{ident}"
    return {
        "default": {"url": f"{base}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{base}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{base}/hqdefault.jpg", "width": 480, "height": 360},
    }


def render_channel(channel: FakeChannel, parts: set[str], videos: int) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "kind": "youtube#channel",
        "etag": etag(channel.id, channel.title, videos),
        "id": channel.id,
    }
    if "snippet" in parts:
        snippet: dict[str, Any] = {
            "title": channel.title,
            "description": f"The fake channel of {channel.title}",
            "publishedAt": timestamp(channel.created_at),
            "thumbnails": thumbnails("vi", channel.id),
            "localized": {"title": channel.title, "description": ""},
        }
        if channel.handle is not None:
            snippet["customUrl"] = "@" + channel.handle.lower()
        rendered["snippet"] = snippet
    if "contentDetails" in parts:
        rendered["contentDetails"] = {
            "relatedPlaylists": {"likes": "", "uploads": channel.uploads_id}
        }
    if "statistics" in parts:
        statistics: dict[str, Any] = {
            "viewCount": str(channel.views),
            "subscriberCount": str(channel.subscribers),
            "hiddenSubscriberCount": channel.hidden_subscribers,
            "videoCount": str(videos),
        }
        if channel.hidden_subscribers:  # YouTube then leaves the count out
            del statistics["subscriberCount"]
        rendered["statistics"] = statistics
    return rendered


def render_video(video: FakeVideo, channel: FakeChannel, parts: set[str]) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "kind": "youtube#video",
        "etag": etag(video.id, sorted(parts), repr(video.statistics)),
        "id": video.id,
    }
    if "snippet" in parts:
        rendered["snippet"] = {
            "publishedAt": timestamp(video.published_at),
            "channelId": channel.id,
            "title": video.title,
            "description": video.description,
            "thumbnails": thumbnails("vi", video.id),
            "channelTitle": channel.title,
            "categoryId": "28",
            "liveBroadcastContent": "none",
        }
    if "contentDetails" in parts:
        rendered["contentDetails"] = {
            "duration": video.duration,
            "dimension": "2d",
            "definition": "hd",
            "caption": "false",
            "licensedContent": False,
            "projection": "rectangular",
        }
    if "statistics" in parts:
        rendered["statistics"] = copy.deepcopy(video.statistics)  # tests may put anything here
    if "status" in parts:
        rendered["status"] = {
            "uploadStatus": "processed",
            "privacyStatus": video.privacy,
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": False,
        }
    return rendered


def render_playlist_item(
    video: FakeVideo,
    channel: FakeChannel,
    playlist_id: str,
    position: int,
    parts: set[str],
) -> dict[str, Any]:
    """An uploads playlist item. A private video keeps its place with a placeholder title,
    no ``videoPublishedAt`` and ``privacyStatus: private``, as YouTube shows it."""
    visible = video.privacy != "private"
    rendered: dict[str, Any] = {
        "kind": "youtube#playlistItem",
        "etag": etag(playlist_id, video.id, position),
        "id": _chars(f"item:{playlist_id}:{video.id}", 27),
    }
    if "snippet" in parts:
        snippet: dict[str, Any] = {
            "publishedAt": timestamp(video.published_at),
            "channelId": channel.id,
            "title": video.title if visible else "Private video",
            "description": video.description if visible else "This video is private.",
            "thumbnails": thumbnails("vi", video.id) if visible else {},
            "channelTitle": channel.title,
            "playlistId": playlist_id,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video.id},
        }
        if visible:
            snippet["videoOwnerChannelTitle"] = channel.title
            snippet["videoOwnerChannelId"] = channel.id
        rendered["snippet"] = snippet
    if "contentDetails" in parts:
        details: dict[str, Any] = {"videoId": video.id}
        if visible:
            details["videoPublishedAt"] = timestamp(video.published_at)
        rendered["contentDetails"] = details
    if "status" in parts:
        rendered["status"] = {"privacyStatus": video.privacy}
    return rendered


def list_response(
    kind: str, items: list[dict[str, Any]], *, total: int, per_page: int, **extra: Any
) -> dict[str, Any]:
    """A list response; ``channels.list`` leaves ``items`` out when nothing matched."""
    body: dict[str, Any] = {"kind": kind, "etag": etag(kind, [i.get("id") for i in items])}
    body.update({k: v for k, v in extra.items() if v is not None})
    if items or kind != "youtube#channelListResponse":
        body["items"] = items
    body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
    return body
