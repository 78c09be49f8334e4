"""Bluesky client: the public AppView (no authentication), read over XRPC.

Calls (facts from ``reference/platform-apis.md`` §2 and the AT Protocol lexicons):

- ``app.bsky.actor.getProfile?actor=<handle>`` connects an account: its DID is the
  external account id, its handle the username.
- ``app.bsky.feed.getPosts?uris=…&uris=…`` reads up to 25 posts per request
  (``batch_size``), so N due posts cost ⌈N/25⌉ requests. Posts that were deleted (or whose
  author is gone) are silently left out of the answer: they are reported ``deleted``.
- Post ids are AT-URIs, ``at://<did>/app.bsky.feed.post/<rkey>``. A post registered by URL
  may carry a handle instead of the DID (``at://alice.bsky.social/…``); the AppView does not
  resolve handles inside ``uris`` (it would leave the post out, as if deleted), so the client
  first resolves each such handle with ``com.atproto.identity.resolveHandle`` (cached for an
  hour, process-wide) and reports the reading under the id it was given. A handle that no
  longer resolves fails its posts with ``NotFound``.
- ``app.bsky.feed.getAuthorFeed`` discovers new posts with
  ``filter=posts_and_author_threads``: the account's own posts and the continuations of its
  own threads, without replies into other people's conversations (they are not the
  workspace's published posts and would crowd the cap out, as on X). Items with a
  ``reason`` (reposts, ``#reasonRepost``; pinned posts, ``#reasonPin``) and anything not
  authored by the account are skipped: a repost of an old post of the account's own would
  otherwise sit at the top of the feed and end the reading there.
  It follows ``cursor`` but never returns more than ``limit`` posts, and stops as soon as it
  reaches a post it has already seen.

``since_id`` is the AT-URI of the newest post a previous discovery returned
(``DiscoveryPage.newest_id``). Post record keys are TIDs, which encode their creation time
(microseconds) and sort as strings, so "newer than since_id" means "a larger TID than
since_id's record key"; the DID part plays no role. (A post whose record key is not a TID is
placed by its ``createdAt`` instead.)

Mapping (SPEC §2): impressions = ``None`` (Bluesky reports none), likes = ``likeCount``,
comments = ``replyCount``, shares = ``repostCount + quoteCount``; ``platform_data`` keeps
those four counts under Bluesky's names, plus ``bookmarkCount`` when the AppView sends it.
The lexicon marks every count optional, but the AppView always sends the first four; a post
whose counts are missing or not non-negative integers fails alone with
``MalformedResponse``: the client never guesses a number.

Errors: 400 ``InvalidRequest`` "Profile not found" and "Unable to resolve handle" are
``NotFound``, as are ``AccountTakedown`` and ``AccountDeactivated``; 429 is ``RateLimited``
until ``ratelimit-reset`` (or ``Retry-After``, else 5 minutes); 401/403 are
``PermissionRequired``; 5xx and network failures are ``TransientError``; bodies we cannot
read are ``MalformedResponse``. ``ratelimit-*`` headers, when the AppView sends them, give
``rate_window()``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlencode

import httpx

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.base import (
    Account,
    BatchResult,
    DiscoveredPost,
    DiscoveryPage,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, safe_text, send

PLATFORM = "bluesky"
DEFAULT_BASE_URL: str = Settings.model_fields["bluesky_api_base_url"].default
POST_COLLECTION = "app.bsky.feed.post"
FEED_FILTER = "posts_and_author_threads"
FEED_PAGE_MAX = 100
FEED_MAX_PAGES = 20  # a feed of reposts only must not page forever
COUNTS = ("likeCount", "repostCount", "replyCount", "quoteCount")
OPTIONAL_COUNTS = ("bookmarkCount",)
HANDLE_TTL = timedelta(hours=1)
DEFAULT_RATE_PAUSE = timedelta(minutes=5)
INVALID_HANDLE = "handle.invalid"  # what the AppView shows for an unverified handle

_HANDLE = re.compile(
    r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{0,2000}[A-Za-z0-9._-]$")
_RKEY = r"(?!\.{1,2}$)[A-Za-z0-9._:~-]{1,512}"  # "." and ".." are not record keys
_AT_URI = re.compile(rf"^at://([^/\s]{{1,2048}})/{re.escape(POST_COLLECTION)}/({_RKEY})$")
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_PROFILE_URL = re.compile(r"^(?:https?://)?(?:www\.)?bsky\.app/profile/([^/?#]+)/?$")


class HandleCache:
    """Handle → DID answers, kept ``ttl`` (handles can move to another DID)."""

    def __init__(self, ttl: timedelta = HANDLE_TTL) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[datetime, str]] = {}
        self._lock = threading.Lock()

    def get(self, handle: str) -> str | None:
        with self._lock:
            entry = self._entries.get(handle)
        if entry is None or entry[0] <= clock.now():
            return None
        return entry[1]

    def put(self, handle: str, did: str) -> None:
        with self._lock:
            self._entries[handle] = (clock.now() + self._ttl, did)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


SHARED_HANDLES = HandleCache()
"""The process-wide cache ``from_settings`` uses (clients are built per job)."""


class BlueskyClient:
    """The ``PlatformClient`` for Bluesky. One instance may serve every workspace."""

    platform = PLATFORM
    batch_size = 25

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        handles: HandleCache | None = None,
    ) -> None:
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._handles = handles if handles is not None else HandleCache()
        self._last_window: RateWindow | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        handles: HandleCache | None = None,
    ) -> BlueskyClient:
        return cls(
            base_url=settings.bluesky_api_base_url,
            transport=transport,
            handles=handles if handles is not None else SHARED_HANDLES,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BlueskyClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BlueskyClient(base_url={self.base_url!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:
        actor = _actor(handle)
        body = self._get("app.bsky.actor.getProfile", [("actor", actor)])
        did, found, name = body.get("did"), body.get("handle"), body.get("displayName")
        if not (_is_did(did) and isinstance(found, str)):
            raise _malformed("Bluesky's profile answer lacks the DID or handle")
        username = found if found != INVALID_HANDLE else actor
        if _HANDLE.match(username):
            self._handles.put(username, did)
        display = name.strip() if isinstance(name, str) and name.strip() else username
        return Account(external_account_id=did, username=username, display_name=display)

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        del credentials  # the public AppView takes no credentials
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Bluesky reads at most {self.batch_size} posts per call, not {len(unique)}"
            )
        result = BatchResult(readings={})
        parsed: dict[str, tuple[str, str]] = {}
        for post_id in unique:
            match = _AT_URI.match(post_id)
            authority = match[1].lower() if match else ""
            if match and (_is_did(match[1]) or _HANDLE.match(authority)):
                parsed[post_id] = (match[1] if _is_did(match[1]) else authority, match[2])
            else:
                result.errors[post_id] = NotFound(
                    "not a Bluesky post id (at://<did>/app.bsky.feed.post/<rkey>)",
                    code="bluesky_invalid_id",
                )
        dids = self._resolve_handles({a for a, _ in parsed.values() if not _is_did(a)})
        wanted: dict[str, list[str]] = {}  # the URI we ask for → the ids it answers
        for post_id, (authority, rkey) in parsed.items():
            did = authority if _is_did(authority) else dids.get(authority)
            if did is None:
                result.errors[post_id] = NotFound(
                    f"the handle {authority} no longer resolves to a Bluesky account",
                    code="bluesky_handle_not_found",
                )
                continue
            wanted.setdefault(_post_uri(did, rkey), []).append(post_id)
        if not wanted:
            return result
        body = self._get("app.bsky.feed.getPosts", [("uris", uri) for uri in wanted])
        posts = body.get("posts")
        if not isinstance(posts, list):
            raise _malformed("Bluesky's getPosts answer has no list of posts")
        answered: set[str] = set()
        for item in posts:
            uri = item.get("uri") if isinstance(item, dict) else None
            if not isinstance(uri, str) or uri not in wanted or uri in answered:
                continue
            answered.add(uri)
            for post_id in wanted[uri]:
                try:
                    result.readings[post_id] = _reading(post_id, item)
                except MalformedResponse as exc:
                    result.errors[post_id] = exc
        for uri, ids in wanted.items():
            if uri not in answered:
                result.deleted.update(ids)
        return result

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        del credentials
        since = _since_key(since_id)
        actor = account.external_account_id
        if not _is_did(actor):
            raise NotFound("not a Bluesky account id (a DID)", code="bluesky_invalid_account")
        posts: list[tuple[int, DiscoveredPost]] = []
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for _ in range(FEED_MAX_PAGES):
            if len(posts) >= limit:
                break
            params = [
                ("actor", actor),
                ("limit", str(min(max(limit - len(posts), 1), FEED_PAGE_MAX))),
                ("filter", FEED_FILTER),
            ]
            if cursor is not None:
                params.append(("cursor", cursor))
            body = self._get("app.bsky.feed.getAuthorFeed", params)
            feed = body.get("feed")
            if not isinstance(feed, list):
                raise _malformed("Bluesky's author feed answer has no list of posts")
            reached_known = False
            for item in feed:
                found = _feed_post(item, actor, account.username)
                if found is None:
                    continue
                key, post = found
                if since is not None and not since.is_older_than(key, post.platform_post_id):
                    reached_known = True
                    break
                if len(posts) < limit:
                    posts.append((key, post))
            next_cursor = body.get("cursor")
            if reached_known or not feed or not isinstance(next_cursor, str):
                break
            if next_cursor in seen_cursors:
                break
            seen_cursors.add(next_cursor)
            cursor = next_cursor
        posts.sort(key=lambda kp: kp[0], reverse=True)
        newest_id = posts[0][1].platform_post_id if posts else since_id
        return DiscoveryPage(posts=[p for _, p in posts], newest_id=newest_id)

    def rate_window(self) -> RateWindow | None:
        return self._last_window

    def canonical_post_id(self, post_id: str) -> str:
        """The DID form of a post's AT-URI, as discovery reports it: a handle inside it is
        resolved (one call, cached). Store this form so that a post registered by URL and
        the same post found by discovery are one post."""
        match = _AT_URI.match(post_id.strip())
        if match is None or not (_is_did(match[1]) or _HANDLE.match(match[1].lower())):
            raise NotFound(
                "not a Bluesky post id (at://<did>/app.bsky.feed.post/<rkey>)",
                code="bluesky_invalid_id",
            )
        if _is_did(match[1]):
            return _post_uri(match[1], match[2])
        handle = match[1].lower()
        did = self._resolve_handles({handle}).get(handle)
        if did is None:
            raise NotFound(
                f"the handle {handle} does not resolve to a Bluesky account",
                code="bluesky_handle_not_found",
            )
        return _post_uri(did, match[2])

    # ---- requests ---------------------------------------------------------------------

    def _resolve_handles(self, handles: set[str]) -> dict[str, str]:
        """Handle → DID for each handle that resolves (one call per handle not cached)."""
        found: dict[str, str] = {}
        for handle in sorted(handles):
            did = self._handles.get(handle)
            if did is None:
                try:
                    body = self._get("com.atproto.identity.resolveHandle", [("handle", handle)])
                except NotFound:
                    continue
                did = body.get("did")
                if not _is_did(did):
                    raise _malformed("Bluesky's resolveHandle answer has no DID")
                self._handles.put(handle, did)
            found[handle] = did
        return found

    def _get(self, method: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        path = f"/xrpc/{method}?{urlencode(params)}"
        response = send(self._http, "GET", path, platform=PLATFORM)
        self._last_window = _window(response.headers)
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        raise _http_error(response, self._last_window)


# ---- reading Bluesky's answers ---------------------------------------------------------


class _Since:
    def __init__(self, uri: str, rkey: str) -> None:
        self.uri = uri
        self.key = _tid_value(rkey)

    def is_older_than(self, key: int, uri: str) -> bool:
        """Whether ``since_id`` is older than a post (given by its ordering key and URI)."""
        if self.key is None:
            return uri != self.uri
        return key > self.key


def _since_key(since_id: str | None) -> _Since | None:
    if since_id is None:
        return None
    match = _AT_URI.match(since_id)
    if match is None:
        raise ValueError("since_id must be a Bluesky post AT-URI")
    return _Since(since_id, match[2])


def _is_did(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_DID.match(value))


def _post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def _actor(handle: str) -> str:
    """A handle (or DID) as typed by a user: ``@alice.bsky.social``, a profile URL, a DID."""
    text = handle.strip()
    if match := _PROFILE_URL.match(text):
        text = match[1]
    text = text.removeprefix("@")
    if _is_did(text):
        return text
    lowered = text.lower()
    if not _HANDLE.match(lowered):
        raise NotFound(
            "not a Bluesky handle: a handle is a domain name, such as alice.bsky.social",
            code="bluesky_invalid_handle",
        )
    return lowered


def _tid_value(rkey: str) -> int | None:
    if not _TID.match(rkey):
        return None
    value = 0
    for char in rkey:
        value = (value << 5) | _TID_ALPHABET.index(char)
    return value


def _counter(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


def _malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="bluesky_malformed")


def _reading(post_id: str, item: dict[str, Any]) -> MetricReading:
    """A post's counters, or ``MalformedResponse`` if any is missing or of the wrong type."""
    counts: dict[str, int] = {}
    for name in COUNTS:
        value = item.get(name)
        if not _counter(value):
            raise _malformed(f"Bluesky's {name} for this post is missing or not a counter")
        counts[name] = value
    for name in OPTIONAL_COUNTS:
        if name in item:
            value = item[name]
            if not _counter(value):
                raise _malformed(f"Bluesky's {name} for this post is not a counter")
            counts[name] = value
    return MetricReading(
        platform_post_id=post_id,
        impressions=None,
        likes=counts["likeCount"],
        comments=counts["replyCount"],
        shares=counts["repostCount"] + counts["quoteCount"],
        platform_data=counts,
    )


def _feed_post(item: object, did: str, username: str) -> tuple[int, DiscoveredPost] | None:
    """One author-feed item as a discovered post (with its ordering key), or ``None`` for a
    repost or someone else's post."""
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        raise _malformed("Bluesky's author feed has an item without a post")
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
        raise _malformed("Bluesky's author feed has a post without a URI")
    match = _AT_URI.match(uri)
    if match is None or match[1] != did:
        raise _malformed("Bluesky's author feed has a post without a valid URI")
    record = post.get("record")
    if not isinstance(record, dict):
        raise _malformed("Bluesky's author feed has a post without its record")
    published = _timestamp(record.get("createdAt")) or _timestamp(post.get("indexedAt"))
    if published is None:
        raise _malformed("Bluesky's author feed has a post without a valid createdAt")
    rkey = match[2]
    key = _tid_value(rkey)
    if key is None:
        key = int(published.timestamp() * 1_000_000) << 10
    handle = author.get("handle")
    shown = handle if isinstance(handle, str) and _HANDLE.match(handle) else username or did
    text = record.get("text")
    try:
        reading: MetricReading | None = _reading(uri, post)
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


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _window(headers: httpx.Headers) -> RateWindow | None:
    limit = _header_int(headers, "ratelimit-limit")
    remaining = _header_int(headers, "ratelimit-remaining")
    reset = _header_int(headers, "ratelimit-reset")
    if limit is None and remaining is None and reset is None:
        return None
    reset_at = datetime.fromtimestamp(reset, UTC) if reset is not None else None
    return RateWindow(limit=limit, remaining=remaining, reset_at=reset_at)


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name, "").strip()
    if not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def _http_error(response: httpx.Response, window: RateWindow | None) -> PlatformError:
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
            after = _header_int(response.headers, "retry-after")
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
