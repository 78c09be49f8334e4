"""Reading the Bluesky AppView's answers: ids, handles, counts, feed items, rate headers
and errors (the client, ``platforms.bluesky``, sends the requests). Facts and mapping are in
that module's docstring."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, TypeGuard

import httpx

from openpost.core import clock
from openpost.platforms.base import (
    AccountReading,
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
from openpost.platforms.http import epoch_window, header_int, iso_time, json_object, safe_text

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
COUNTS = ("likeCount", "repostCount", "replyCount", "quoteCount")
OPTIONAL_COUNTS = ("bookmarkCount",)
DEFAULT_RATE_PAUSE = timedelta(minutes=5)
INVALID_HANDLE = "handle.invalid"  # what the AppView shows for an unverified handle

HANDLE = re.compile(
    r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{0,2000}[A-Za-z0-9._-]$")
RKEY = r"(?!\.{1,2}$)[A-Za-z0-9._:~-]{1,512}"  # "." and ".." are not record keys
AT_URI = re.compile(rf"^at://([^/\s]{{1,2048}})/{re.escape(POST_COLLECTION)}/({RKEY})$")
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
PROFILE_URL = re.compile(r"^(?:https?://)?(?:www\.)?bsky\.app/profile/([^/?#]+)/?$")


class Since:
    def __init__(self, uri: str, rkey: str) -> None:
        self.uri = uri
        self.key = tid_value(rkey)

    def is_older_than(self, key: int, uri: str) -> bool:
        """Whether ``since_id`` is older than a post (given by its ordering key and URI)."""
        if self.key is None:
            return uri != self.uri
        return key > self.key


def since_key(since_id: str | None) -> Since | None:
    if since_id is None:
        return None
    match = AT_URI.match(since_id)
    if match is None:
        raise ValueError("since_id must be a Bluesky post AT-URI")
    return Since(since_id, match[2])


def is_did(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(DID.match(value))


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def actor_of(handle: str) -> str:
    """A handle (or DID) as typed by a user: ``@alice.bsky.social``, a profile URL, a DID."""
    text = handle.strip()
    if match := PROFILE_URL.match(text):
        text = match[1]
    text = text.removeprefix("@")
    if is_did(text):
        return text
    lowered = text.lower()
    if not HANDLE.match(lowered):
        raise NotFound(
            "not a Bluesky handle: a handle is a domain name, such as alice.bsky.social",
            code="bluesky_invalid_handle",
        )
    return lowered


def tid_value(rkey: str) -> int | None:
    if not TID.match(rkey):
        return None
    value = 0
    for char in rkey:
        value = (value << 5) | TID_ALPHABET.index(char)
    return value


def is_counter(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="bluesky_malformed")


def reading_of(post_id: str, item: dict[str, Any]) -> MetricReading:
    """A post's counters, or ``MalformedResponse`` if any is missing or of the wrong type."""
    counts: dict[str, int] = {}
    for name in COUNTS:
        value = item.get(name)
        if not is_counter(value):
            raise malformed(f"Bluesky's {name} for this post is missing or not a counter")
        counts[name] = value
    for name in OPTIONAL_COUNTS:
        if name in item:
            value = item[name]
            if not is_counter(value):
                raise malformed(f"Bluesky's {name} for this post is not a counter")
            counts[name] = value
    return MetricReading(
        platform_post_id=post_id,
        impressions=None,
        likes=counts["likeCount"],
        comments=counts["replyCount"],
        shares=counts["repostCount"] + counts["quoteCount"],
        platform_data=counts,
    )


def feed_post(item: object, did: str, username: str) -> tuple[int, DiscoveredPost] | None:
    """One author-feed item as a discovered post (with its ordering key), or ``None`` for a
    repost or someone else's post."""
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        raise malformed("Bluesky's author feed has an item without a post")
    if item.get("reason") is not None:
        # A repost (``#reasonRepost``), or a pinned post (``#reasonPin``) lifted to the top
        # out of its place in time, which would stop the reading at an old post; the post
        # itself comes again at its own place.
        return None
    post: dict[str, Any] = item["post"]
    author = post.get("author")
    if not isinstance(author, dict) or author.get("did") != did:
        return None
    uri = post.get("uri")
    if not isinstance(uri, str):
        raise malformed("Bluesky's author feed has a post without a URI")
    match = AT_URI.match(uri)
    if match is None or match[1] != did:
        raise malformed("Bluesky's author feed has a post without a valid URI")
    record = post.get("record")
    if not isinstance(record, dict):
        raise malformed("Bluesky's author feed has a post without its record")
    published = iso_time(record.get("createdAt")) or iso_time(post.get("indexedAt"))
    if published is None:
        raise malformed("Bluesky's author feed has a post without a valid createdAt")
    rkey = match[2]
    key = tid_value(rkey)
    if key is None:
        key = int(published.timestamp() * 1_000_000) << 10
    handle = author.get("handle")
    shown = handle if isinstance(handle, str) and HANDLE.match(handle) else username or did
    text = record.get("text")
    try:
        reading: MetricReading | None = reading_of(uri, post)
    except MalformedResponse:
        reading = None  # discovered all the same; its counters are read with the next batch
    found = DiscoveredPost(
        platform_post_id=uri,
        post_url=f"https://bsky.app/profile/{shown}/post/{rkey}",
        published_at=published,
        content=text if isinstance(text, str) else "",
        reading=reading,
    )
    return key, found


def http_error(response: httpx.Response, window: RateWindow | None) -> PlatformError:
    status = response.status_code
    try:
        body: dict[str, Any] = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        body = {}
    error = safe_text(body.get("error"), 60) or ""
    message = safe_text(body.get("message")) or ""
    now = clock.now()
    if status == 429:
        retry_at = window.reset_at if window is not None else None
        if retry_at is None:
            after = header_int(response.headers, "retry-after")
            retry_at = now + (timedelta(seconds=after) if after else DEFAULT_RATE_PAUSE)
        return RateLimited(
            "Bluesky rate limit reached", code="bluesky_rate_limited", retry_at=max(retry_at, now)
        )
    if status == 400:
        lowered = message.lower()
        if error == "AccountTakedown":
            return NotFound("Bluesky reports the account suspended", code="bluesky_suspended")
        if error == "AccountDeactivated":
            return NotFound("the Bluesky account is deactivated", code="bluesky_deactivated")
        if "profile not found" in lowered or error == "ProfileNotFound":
            return NotFound("Bluesky has no such account", code="bluesky_account_not_found")
        if "unable to resolve handle" in lowered or error == "HandleNotFound":
            return NotFound("the Bluesky handle does not resolve", code="bluesky_handle_not_found")
        if error in ("BlockedActor", "BlockedByActor"):
            return PermissionRequired("Bluesky refused the read (blocked)", code="bluesky_blocked")
    if status in (401, 403):
        return PermissionRequired(
            f"Bluesky refused the read (HTTP {status})", code="bluesky_forbidden"
        )
    if status >= 500:
        return TransientError(f"Bluesky answered HTTP {status}", code="bluesky_server_error")
    detail = ": ".join(part for part in (error, message) if part)
    reason = f" ({detail})" if detail else ""
    return PlatformError(f"Bluesky answered HTTP {status}{reason}", code=f"bluesky_http_{status}")


def window_of(headers: httpx.Headers) -> RateWindow | None:
    return epoch_window(headers, "ratelimit")


PROFILE_COUNTERS = {
    "followers": "followersCount",
    "following": "followsCount",
    "posts": "postsCount",
}


def profile_reading(item: dict[str, Any]) -> AccountReading:
    """An account's counters from a ``profileViewDetailed`` (SPEC §9.4): followers =
    ``followersCount``, following = ``followsCount``, posts = ``postsCount``; a counter the
    view leaves out is ``None`` (not 0), one of the wrong type fails the account alone."""
    values: dict[str, int | None] = {}
    for field_name, name in PROFILE_COUNTERS.items():
        value = item.get(name)
        if value is not None and not is_counter(value):
            raise malformed(f"Bluesky's {name} for this profile is not a counter")
        values[field_name] = value
    return AccountReading(
        external_account_id=str(item["did"]),
        followers=values["followers"],
        following=values["following"],
        posts=values["posts"],
        platform_data={n: item[n] for n in PROFILE_COUNTERS.values() if n in item},
    )
