"""Reading the YouTube Data API's answers: ids, channel references, statistics, playlist
items and Google's error envelope. Pure functions; ``youtube.py`` makes the calls.

Google's error envelope (every Google JSON API):
``{"error": {"code": 403, "message": "…", "errors": [{"message", "domain", "reason"}],
"status": "PERMISSION_DENIED", "details": [{"@type": "…ErrorInfo", "reason": "…"}]}}``.
The ``reason`` of ``errors[]`` tells the failures apart (``quotaExceeded``,
``rateLimitExceeded``, ``keyInvalid`` …); newer answers for a bad key say ``badRequest``
there and put ``API_KEY_INVALID`` in ``details[].reason``, so both places are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import unquote, urlsplit

import httpx

from openpost.platforms.base import (
    Account,
    AccountReading,
    BudgetExhausted,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    TransientError,
)
from openpost.platforms.http import iso_time, json_object, safe_text
from openpost.platforms.youtube.quota import next_quota_reset

PLATFORM = "youtube"
COUNTERS = ("viewCount", "likeCount", "commentCount", "favoriteCount")
MAX_COUNT = 2**63 - 1  # what a snapshot column holds
DEFAULT_RATE_PAUSE = timedelta(minutes=1)
WATCH_URL = "https://www.youtube.com/watch?v="

QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset(
    {"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_NOT_FOUND"}
)
RESTRICTED_REASONS = frozenset(
    {
        "ipRefererBlocked",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
    }
)
NOT_CONFIGURED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
UNCHARGED_CODES = frozenset({"youtube_quota_exceeded", "youtube_key_invalid"})
"""Answers that spend no quota: the quota is already gone, or the key names no project."""

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_PLAYLIST_ID = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_HANDLE = re.compile(r"^[\w.\-·]{3,30}$")
_USERNAME = re.compile(r"^[A-Za-z0-9]{1,60}$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_REASON = re.compile(r"^[A-Za-z_]{1,64}$")
_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com"})


def is_video_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_VIDEO_ID.match(value))


def is_channel_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_CHANNEL_ID.match(value))


def uploads_playlist_of(channel_id: str) -> str:
    """A channel's uploads playlist id: ``UC…`` → ``UU…`` (the same 22 characters).

    YouTube does not document this, but every channel's ``relatedPlaylists.uploads`` has had
    this form for years; discovery falls back to asking the channel when it is not found.
    """
    return "UU" + channel_id[2:]


def watch_url(video_id: str) -> str:
    return WATCH_URL + video_id


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="youtube_malformed")


# ---- channel references ------------------------------------------------------------------


def channel_query(typed: str) -> tuple[str, str]:
    """How to ask ``channels.list`` for a channel a user typed: ``("forHandle", "@name")``,
    ``("id", "UC…")`` or ``("forUsername", "name")``.

    Accepted: ``@name``, ``name``, a channel id, and channel URLs
    (``youtube.com/@name``, ``/channel/UC…``, ``/user/name``, ``/c/name``; a legacy ``/c/``
    custom name is tried as a handle, which most of them became).
    """
    text = typed.strip()
    if "/" in text:
        text = _from_url(text)
        if text.startswith("user:"):
            return "forUsername", text.removeprefix("user:")
    if is_channel_id(text):
        return "id", text
    name = text.removeprefix("@")
    if _HANDLE.match(name):
        return "forHandle", "@" + name
    raise NotFound(
        "not a YouTube channel: give its handle (@name), its channel id (UC…) or its URL",
        code="youtube_invalid_handle",
    )


def _from_url(text: str) -> str:
    url = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in _HOSTS:
        return ""
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if not segments:
        return ""
    first = segments[0]
    if first.startswith("@"):
        return first
    if first == "channel" and len(segments) > 1 and is_channel_id(segments[1]):
        return segments[1]
    if first == "user" and len(segments) > 1 and _USERNAME.match(segments[1]):
        return "user:" + segments[1]
    if first == "c" and len(segments) > 1:
        return "@" + segments[1]
    return ""


@dataclass(frozen=True, slots=True)
class Channel:
    account: Account
    uploads: str


def channel_from(body: dict[str, Any], asked: str) -> Channel | None:
    """The first channel of a ``channels.list`` answer (``None`` when there is none)."""
    items = body.get("items", [])
    if not isinstance(items, list):
        raise malformed("YouTube's channel answer has no list of channels")
    if not items:
        return None
    item = items[0]
    if not isinstance(item, dict) or not is_channel_id(item.get("id")):
        raise malformed("YouTube's channel answer has a channel without a valid id")
    channel_id: str = item["id"]
    snippet = item.get("snippet")
    snippet = snippet if isinstance(snippet, dict) else {}
    title = snippet.get("title")
    custom = snippet.get("customUrl")
    if isinstance(custom, str) and custom.startswith("@") and _HANDLE.match(custom[1:]):
        username = custom[1:]
    else:
        username = asked.removeprefix("@") if asked.startswith("@") else channel_id
    display = title.strip() if isinstance(title, str) and title.strip() else username
    details = item.get("contentDetails")
    related = details.get("relatedPlaylists") if isinstance(details, dict) else None
    uploads = related.get("uploads") if isinstance(related, dict) else None
    if not (isinstance(uploads, str) and _PLAYLIST_ID.match(uploads)):
        uploads = uploads_playlist_of(channel_id)
    return Channel(Account(channel_id, username, display), uploads)


# ---- statistics ----------------------------------------------------------------------------


def reading(video_id: str, item: dict[str, Any]) -> MetricReading:
    """A video's counters, or ``MalformedResponse`` when one is not a count.

    Counts are decimal strings. ``likeCount`` is absent when the owner hides likes and
    ``commentCount`` when comments are off: those are ``None`` (not reported), never 0.
    ``viewCount`` is always reported, so its absence is malformed.
    """
    statistics = item.get("statistics")
    if not isinstance(statistics, dict):
        raise malformed("YouTube's answer has no statistics for this video")
    counts: dict[str, int] = {}
    for name in COUNTERS:
        value = statistics.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not _DIGITS.match(value) or int(value) > MAX_COUNT:
            raise malformed(f"YouTube's {name} for this video is not a count")
        counts[name] = int(value)
    if "viewCount" not in counts:
        raise malformed("YouTube's answer has no viewCount for this video")
    return MetricReading(
        platform_post_id=video_id,
        impressions=counts["viewCount"],
        likes=counts.get("likeCount"),
        comments=counts.get("commentCount"),
        shares=None,
        platform_data={"impressions_kind": "views", **counts},
    )


# ---- playlist items ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    video_id: str
    published_at: datetime
    title: str


def discovery_cursor(upload: Upload) -> str:
    """The discovery cursor after ``upload``: its id and its publish time in Unix seconds
    (``dQw4w9WgXcQ@1700000000``). Video ids carry no order, so the time is what tells an
    older video from a newer one once the cursor's own video is deleted."""
    return f"{upload.video_id}@{int(upload.published_at.timestamp())}"


def parse_cursor(cursor: str) -> tuple[str, datetime | None]:
    """``(video id, publish time)`` of a discovery cursor; a bare video id (the form
    stored before the time was added) has no time. ``ValueError`` for anything else."""
    video_id, at, seconds = cursor.partition("@")
    if not is_video_id(video_id) or (at and not (seconds.isascii() and seconds.isdigit())):
        raise ValueError("since_id must be a YouTube discovery cursor (<video id>[@<time>])")
    return video_id, datetime.fromtimestamp(int(seconds), UTC) if at else None


def upload_from(item: object) -> Upload | None:
    """One ``playlistItems.list`` item, or ``None`` for a video nobody may watch.

    A private or deleted video keeps its place in a playlist with ``privacyStatus``
    ``private`` (or unspecified) and no ``videoPublishedAt``: it is skipped. A public (or
    unlisted) video without a readable publish time is malformed.
    """
    if not isinstance(item, dict):
        raise malformed("YouTube's playlist answer has an item that is not an object")
    details = item.get("contentDetails")
    details = details if isinstance(details, dict) else {}
    snippet = item.get("snippet")
    snippet = snippet if isinstance(snippet, dict) else {}
    video_id = details.get("videoId")
    if not is_video_id(video_id):
        resource = snippet.get("resourceId")
        video_id = resource.get("videoId") if isinstance(resource, dict) else None
    if not is_video_id(video_id):
        raise malformed("YouTube's playlist answer has an item without a video id")
    status = item.get("status")
    privacy = status.get("privacyStatus") if isinstance(status, dict) else None
    if privacy is not None and privacy not in ("public", "unlisted"):
        return None
    published = details.get("videoPublishedAt")
    if published is None:
        return None
    when = iso_time(published)
    if when is None:
        raise malformed("YouTube's playlist answer has a video without a valid videoPublishedAt")
    title = snippet.get("title")
    return Upload(video_id, when, title if isinstance(title, str) else "")


# ---- errors ----------------------------------------------------------------------------------


def http_error(response: httpx.Response, now: datetime, *, secret: str) -> PlatformError:
    """The ``PlatformError`` for a non-200 answer. Messages are our own words plus Google's
    reason; the one free text kept (a bad request's message) is scrubbed of ``secret``."""
    status = response.status_code
    try:
        body: dict[str, Any] = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        body = {}
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    reasons = _reasons(error)
    if found := _pick(reasons, QUOTA_REASONS):
        return BudgetExhausted(
            f"YouTube's daily quota is spent ({found}); it comes back at midnight Pacific time",
            code="youtube_quota_exceeded",
            retry_at=next_quota_reset(now),
        )
    if status == 429 or _pick(reasons, RATE_REASONS):
        return RateLimited(
            f"YouTube is throttling requests{_named(_pick(reasons, RATE_REASONS))}",
            code="youtube_rate_limited",
            retry_at=now + _retry_after(response.headers),
        )
    found = _pick(reasons, KEY_REASONS)
    if found or (status == 400 and "api key not valid" in _text(error).lower()):
        return PermissionRequired(
            f"YouTube rejected the API key{_named(found)}; check OPENPOST_YOUTUBE_API_KEY",
            code="youtube_key_invalid",
        )
    if found := _pick(reasons, NOT_CONFIGURED_REASONS):
        return PermissionRequired(
            f"the YouTube Data API is not enabled for the API key's project ({found})",
            code="youtube_access_not_configured",
        )
    if found := _pick(reasons, RESTRICTED_REASONS):
        return PermissionRequired(
            f"the API key's restrictions do not allow this server ({found})",
            code="youtube_key_restricted",
        )
    named = _named(reasons[0] if reasons else None)
    if status == 401:
        return PermissionRequired(
            f"YouTube refused the request{named}", code="youtube_unauthorized"
        )
    if status == 403:
        return PermissionRequired(f"YouTube refused the request{named}", code="youtube_forbidden")
    if status == 404:
        what, code = _MISSING.get(reasons[0] if reasons else "", ("resource", "youtube_not_found"))
        return NotFound(f"YouTube has no such {what}", code=code)
    if status >= 500:
        return TransientError(f"YouTube answered HTTP {status}{named}", code="youtube_server_error")
    text = _text(error)
    message = safe_text(text.replace(secret, "…") if secret else text)
    detail = f": {message}" if message else ""
    return PlatformError(
        f"YouTube answered HTTP {status}{named}{detail}", code=f"youtube_http_{status}"
    )


_MISSING = {
    "channelNotFound": ("channel", "youtube_channel_not_found"),
    "playlistNotFound": ("playlist", "youtube_playlist_not_found"),
    "videoNotFound": ("video", "youtube_video_not_found"),
}


def _pick(reasons: list[str], group: frozenset[str]) -> str | None:
    return next((reason for reason in reasons if reason in group), None)


def _named(reason: str | None) -> str:
    return f" ({reason})" if reason else ""


def _reasons(error: dict[str, Any]) -> list[str]:
    """Google's reasons, ``errors[]`` first, then ``details[]``."""
    found: list[str] = []
    for key in ("errors", "details"):
        entries = error.get(key)
        for entry in entries if isinstance(entries, list) else []:
            value = entry.get("reason") if isinstance(entry, dict) else None
            if isinstance(value, str) and _REASON.match(value) and value not in found:
                found.append(value)
    return found


def _text(error: dict[str, Any]) -> str:
    message = error.get("message")
    return message if isinstance(message, str) else ""


def _retry_after(headers: httpx.Headers) -> timedelta:
    value = headers.get("retry-after", "").strip()
    if value.isdigit() and len(value) <= 6:
        return timedelta(seconds=max(int(value), 1))
    return DEFAULT_RATE_PAUSE


def channel_reading(item: dict[str, Any]) -> AccountReading:
    """A channel's own counters from ``channels.list?part=statistics`` (SPEC §9.4):
    followers = ``subscriberCount`` (``None`` when ``hiddenSubscriberCount``: the channel
    hides it), posts = ``videoCount``, following = ``None`` (YouTube has no such count).
    Counts are decimal strings; one that is not fails the channel alone."""
    statistics = item.get("statistics")
    if not isinstance(statistics, dict):
        raise malformed("YouTube's channel answer has no statistics")
    data: dict[str, Any] = {}
    for name in ("subscriberCount", "videoCount", "viewCount"):
        value = statistics.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise malformed(f"YouTube's {name} for this channel is not a decimal count")
        data[name] = int(value)
    hidden = statistics.get("hiddenSubscriberCount") is True
    data["hiddenSubscriberCount"] = hidden
    return AccountReading(
        external_account_id=str(item["id"]),
        followers=None if hidden else data.get("subscriberCount"),
        following=None,
        posts=data.get("videoCount"),
        platform_data=data,
    )
