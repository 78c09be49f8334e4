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
- ``app.bsky.actor.getProfiles?actors=…`` reads up to 25 accounts' own counters
  (``account_batch_size``, SPEC §9.4): ``followersCount``, ``followsCount``,
  ``postsCount``; an account left out of the answer (gone, taken down) is missing.
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

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.base import (
    Account,
    AccountBatch,
    BatchResult,
    DiscoveredPost,
    DiscoveryPage,
    MalformedResponse,
    NotFound,
    RateWindow,
)
from openpost.platforms.bluesky.reading import (
    AT_URI,
    HANDLE,
    INVALID_HANDLE,
    PLATFORM,
    actor_of,
    feed_post,
    http_error,
    is_did,
    malformed,
    post_uri,
    profile_reading,
    reading_of,
    since_key,
    window_of,
)
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send

DEFAULT_BASE_URL: str = Settings.model_fields["bluesky_api_base_url"].default
FEED_FILTER = "posts_and_author_threads"
FEED_PAGE_MAX = 100
FEED_MAX_PAGES = 20  # a feed of reposts only must not page forever
HANDLE_TTL = timedelta(hours=1)


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
    account_batch_size = 25  # app.bsky.actor.getProfiles (SPEC §9.4)

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
        self.requests = 0  # requests sent, for the calls a read reports

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
        actor = actor_of(handle)
        body = self._get("app.bsky.actor.getProfile", [("actor", actor)])
        did, found, name = body.get("did"), body.get("handle"), body.get("displayName")
        if not (is_did(did) and isinstance(found, str)):
            raise malformed("Bluesky's profile answer lacks the DID or handle")
        username = found if found != INVALID_HANDLE else actor
        if HANDLE.match(username):
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
        before = self.requests
        result = BatchResult(readings={})
        parsed: dict[str, tuple[str, str]] = {}
        for post_id in unique:
            match = AT_URI.match(post_id)
            authority = match[1].lower() if match else ""
            if match and (is_did(match[1]) or HANDLE.match(authority)):
                parsed[post_id] = (match[1] if is_did(match[1]) else authority, match[2])
            else:
                result.errors[post_id] = NotFound(
                    "not a Bluesky post id (at://<did>/app.bsky.feed.post/<rkey>)",
                    code="bluesky_invalid_id",
                )
        dids = self._resolve_handles({a for a, _ in parsed.values() if not is_did(a)})
        wanted: dict[str, list[str]] = {}  # the URI we ask for → the ids it answers
        for post_id, (authority, rkey) in parsed.items():
            did = authority if is_did(authority) else dids.get(authority)
            if did is None:
                result.errors[post_id] = NotFound(
                    f"the handle {authority} no longer resolves to a Bluesky account",
                    code="bluesky_handle_not_found",
                )
                continue
            wanted.setdefault(post_uri(did, rkey), []).append(post_id)
        if not wanted:
            return replace(result, calls=self.requests - before)
        body = self._get("app.bsky.feed.getPosts", [("uris", uri) for uri in wanted])
        posts = body.get("posts")
        if not isinstance(posts, list):
            raise malformed("Bluesky's getPosts answer has no list of posts")
        answered: set[str] = set()
        for item in posts:
            uri = item.get("uri") if isinstance(item, dict) else None
            if not isinstance(uri, str) or uri not in wanted or uri in answered:
                continue
            answered.add(uri)
            for post_id in wanted[uri]:
                try:
                    result.readings[post_id] = reading_of(post_id, item)
                except MalformedResponse as exc:
                    result.errors[post_id] = exc
        for uri, ids in wanted.items():
            if uri not in answered:
                result.deleted.update(ids)
        return replace(result, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """Followers, following and post counts of up to 25 accounts (DIDs) in one
        ``app.bsky.actor.getProfiles``; an account the AppView leaves out is missing."""
        del credentials  # the public AppView takes no credentials
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError(
                f"Bluesky reads at most {self.account_batch_size} profiles per call, "
                f"not {len(unique)}"
            )
        before = self.requests
        batch = AccountBatch(readings={})
        wanted = [a for a in unique if is_did(a)]
        for account_id in unique:
            if not is_did(account_id):
                batch.errors[account_id] = NotFound(
                    "not a Bluesky account id (a DID)", code="bluesky_invalid_account"
                )
        if not wanted:
            return replace(batch, calls=0)
        body = self._get("app.bsky.actor.getProfiles", [("actors", did) for did in wanted])
        profiles = body.get("profiles")
        if not isinstance(profiles, list):
            raise malformed("Bluesky's getProfiles answer has no list of profiles")
        for item in profiles:
            did = item.get("did") if isinstance(item, dict) else None
            if did not in wanted or did in batch.readings:
                continue
            try:
                batch.readings[did] = profile_reading(item)
            except MalformedResponse as exc:
                batch.errors[did] = exc
        for did in wanted:
            if did not in batch.readings and did not in batch.errors:
                batch.missing.add(did)
        return replace(batch, calls=self.requests - before)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        del credentials
        since = since_key(since_id)
        actor = account.external_account_id
        if not is_did(actor):
            raise NotFound("not a Bluesky account id (a DID)", code="bluesky_invalid_account")
        before = self.requests
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
                raise malformed("Bluesky's author feed answer has no list of posts")
            reached_known = False
            for item in feed:
                found = feed_post(item, actor, account.username)
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
        calls = self.requests - before
        return DiscoveryPage(posts=[p for _, p in posts], newest_id=newest_id, calls=calls)

    def rate_window(self) -> RateWindow | None:
        return self._last_window

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
                if not is_did(did):
                    raise malformed("Bluesky's resolveHandle answer has no DID")
                self._handles.put(handle, did)
            found[handle] = did
        return found

    def _get(self, method: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        path = f"/xrpc/{method}?{urlencode(params)}"
        self.requests += 1
        response = send(self._http, "GET", path, platform=PLATFORM)
        self._last_window = window_of(response.headers)
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        raise http_error(response, self._last_window)
