"""TikTok API v2 client (Display API) with the account owner's token: discovery, batched
video counters and the account's own counters.

Calls (facts from ``reference/gated-platforms.md`` §6):

- ``POST /v2/video/list/?fields=…`` with ``{"max_count": ≤20, "cursor": <ms>}`` lists the
  owner's public videos newest first (``data.videos``, ``data.cursor``, ``data.has_more``).
  Discovery follows the cursor until it reaches the newest video it saw before (ids carry
  their creation time in the top bits, so "newer" is a comparison of ids) or ``limit``.
- ``POST /v2/video/query/?fields=id,view_count,like_count,comment_count,share_count`` with
  ``{"filters": {"video_ids": [≤20]}}`` reads up to 20 videos per request (``batch_size``),
  so N due posts cost ⌈N/20⌉ requests. Ids the owner does not own, or deleted ones, are
  simply missing from the answer: they are reported ``deleted``.
- ``GET /v2/user/info/?fields=open_id,follower_count,following_count,likes_count,
  video_count`` reads the owner's own counters (``fetch_accounts``: one account per call,
  the token's own; ``user.info.stats``).

Mapping: impressions = ``view_count`` (``impressions_kind`` "plays"), likes =
``like_count``, comments = ``comment_count``, shares = ``share_count``; account followers =
``follower_count``, following = ``following_count``, posts = ``video_count`` (``likes_count``
kept in ``platform_data``). A counter missing or not a non-negative integer fails that video
alone (``MalformedResponse``), never a guessed number.

Errors: the envelope's ``error.code``: ``access_token_invalid`` (401) refreshes the owner's
token once (``force``) and retries the read once, then ``PermissionRequired``;
``scope_not_authorized`` / ``scope_permission_missed`` are ``PermissionRequired`` (reconnect
and allow the scope); ``rate_limit_exceeded`` / 429 is ``RateLimited`` a minute ahead (each
endpoint has its own sliding 600-per-minute window; TikTok sends no rate headers, so after a
429 ``rate_window`` reports that endpoint spent for a rolling minute); ``internal_error`` and
5xx are ``TransientError``. Every read needs the owner's token (``credentials``); without one
it is ``PermissionRequired``. No message ever contains a token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import httpx
import orjson

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
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
)
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.http import DEFAULT_TIMEOUT, make_client, send
from openpost.platforms.tiktok.reading import (
    PLATFORM,
    RATE_LIMIT_PER_MINUTE,
    RATE_WINDOW,
    account_reading_of,
    data_of,
    discovered_of,
    is_id,
    malformed,
    reading_of,
    video_id,
)

DEFAULT_BASE_URL: str = Settings.model_fields["tiktok_api_base_url"].default
LIST_FIELDS = "id,create_time,title,share_url,view_count,like_count,comment_count,share_count"
QUERY_FIELDS = "id,view_count,like_count,comment_count,share_count"
ACCOUNT_FIELDS = "open_id,follower_count,following_count,likes_count,video_count"
PAGE_MAX = 20
T = TypeVar("T")


class TikTokClient:
    """The ``PlatformClient`` (and ``AccountReader``) for TikTok; every read uses the
    account owner's token."""

    platform = PLATFORM
    batch_size = 20
    account_batch_size = 1  # /v2/user/info/ answers for the token's own user only

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
    ) -> None:
        self._user_tokens = user_tokens
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._last_window: RateWindow | None = None
        self._windows: dict[str, RateWindow] = {}
        self.requests = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> TikTokClient:
        return cls(
            base_url=settings.tiktok_api_base_url, transport=transport, user_tokens=user_tokens
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TikTokClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show a token
        return f"TikTokClient(base_url={str(self._http.base_url)!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:  # noqa: ARG002 - protocol
        raise PermissionRequired(
            "TikTok accounts are connected only with their owner's consent (the connect "
            "button), not by handle",
            code="tiktok_consent_only",
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"TikTok reads at most {self.batch_size} videos per call, not {len(unique)}"
            )
        invalid: dict[str, PlatformError] = {
            i: NotFound("not a valid TikTok video id", code="tiktok_invalid_id")
            for i in unique
            if not is_id(i)
        }
        valid = [i for i in unique if i not in invalid]
        if not valid:
            return BatchResult(readings={}, errors=invalid, calls=0)
        before = self.requests
        result = self._with_token(credentials, lambda token: self._query(valid, token, invalid))
        return replace(result, calls=self.requests - before)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        if since_id is not None and not is_id(since_id):
            raise ValueError("since_id must be a TikTok video id (digits)")
        if limit <= 0:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        before = self.requests
        page = self._with_token(
            credentials, lambda token: self._discover(account, since_id, limit, token)
        )
        return replace(page, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """The owner's followers, following and video count (only the token's own account:
        any other id is an error without a call)."""
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError("TikTok reads one account per call (the token's own)")
        if not unique:
            return AccountBatch(readings={}, calls=0)
        before = self.requests
        (wanted,) = unique
        user = self._with_token(credentials, self._user_info)
        calls = self.requests - before
        open_id = user.get("open_id")
        if open_id != wanted:
            error = PermissionRequired(
                "this TikTok connection's token belongs to another account; reconnect it",
                code="tiktok_other_account",
            )
            return AccountBatch(readings={}, errors={wanted: error}, calls=calls)
        return AccountBatch(readings={wanted: account_reading_of(user, wanted)}, calls=calls)

    def rate_window(self) -> RateWindow | None:
        """The last request's window: TikTok reports none, so this is only known after a
        429 (that endpoint spent for a rolling minute)."""
        return self._last_window

    def rate_windows(self) -> dict[str, RateWindow]:
        """The windows known per endpoint (``video_list``, ``video_query``, ``user_info``)."""
        return dict(self._windows)

    # ---- reads ------------------------------------------------------------------------

    def _query(self, ids: list[str], token: str, invalid: dict[str, PlatformError]) -> BatchResult:
        body = {"filters": {"video_ids": ids}}
        data = self._call("POST", "/v2/video/query/", QUERY_FIELDS, body, token, "video_query")
        videos = data.get("videos", [])
        if not isinstance(videos, list):
            raise malformed("TikTok's video query answer has no list of videos")
        result = BatchResult(readings={}, errors=dict(invalid))
        wanted = set(ids)
        for item in videos:
            post_id = video_id(item) if isinstance(item, dict) else None
            if post_id is None or post_id not in wanted:
                continue
            try:
                result.readings[post_id] = reading_of(item, post_id)
            except MalformedResponse as exc:
                result.errors[post_id] = exc
        for post_id in ids:  # left out: deleted, made private, or not the owner's
            if post_id not in result.readings and post_id not in result.errors:
                result.deleted.add(post_id)
        return result

    def _discover(
        self, account: Account, since_id: str | None, limit: int, token: str
    ) -> DiscoveryPage:
        floor = int(since_id) if since_id is not None else -1
        posts: list[DiscoveredPost] = []
        cursor: int | None = None
        seen: set[int] = set()
        taken: set[str] = set()
        while len(posts) < limit:
            body: dict[str, Any] = {"max_count": min(PAGE_MAX, max(limit - len(posts), 1))}
            if cursor is not None:
                body["cursor"] = cursor
            data = self._call("POST", "/v2/video/list/", LIST_FIELDS, body, token, "video_list")
            videos = data.get("videos", [])
            if not isinstance(videos, list):
                raise malformed("TikTok's video list answer has no list of videos")
            page = [discovered_of(item, account.username) for item in videos]
            for post in page:
                fresh = int(post.platform_post_id) > floor and post.platform_post_id not in taken
                if fresh and len(posts) < limit:
                    posts.append(post)
                    taken.add(post.platform_post_id)
            # The page's last video is its oldest (a video pinned to the top of the profile
            # may come first out of order, so only the last one says the cursor is reached).
            reached = bool(page) and int(page[-1].platform_post_id) <= floor
            next_cursor = data.get("cursor")
            if (
                reached
                or len(posts) >= limit
                or not page
                or data.get("has_more") is not True
                or type(next_cursor) is not int
                or next_cursor in seen
            ):
                break
            seen.add(next_cursor)
            cursor = next_cursor
        posts.sort(key=lambda p: int(p.platform_post_id), reverse=True)
        newest_id = str(max([int(p.platform_post_id) for p in posts], default=floor))
        return DiscoveryPage(posts=posts, newest_id=newest_id if newest_id != "-1" else since_id)

    def _user_info(self, token: str) -> dict[str, Any]:
        data = self._call("GET", "/v2/user/info/", ACCOUNT_FIELDS, None, token, "user_info")
        user = data.get("user")
        if not isinstance(user, dict):
            raise malformed("TikTok's user info answer has no user object")
        return user

    # ---- requests ---------------------------------------------------------------------

    def _with_token(self, credentials: dict[str, Any] | None, call: Callable[[str], T]) -> T:
        """``call`` with the owner's token (renewed when it expires soon, and once more,
        with one retry, when TikTok answers ``access_token_invalid``)."""
        if credentials is None:
            raise PermissionRequired(
                "TikTok reads need the account owner's consent; connect the account",
                code="tiktok_user_token_missing",
            )
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        try:
            return call(_token_of(credentials))
        except PermissionRequired as exc:
            renewable = self._user_tokens is not None and credentials.get("refresh_token")
            if exc.code != "tiktok_token_invalid" or not renewable:
                raise
        assert self._user_tokens is not None
        credentials = self._user_tokens(credentials, force=True)
        return call(_token_of(credentials))

    def _call(
        self,
        method: str,
        path: str,
        fields: str,
        body: dict[str, Any] | None,
        token: str,
        endpoint: str,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = orjson.dumps(body)
        self.requests += 1
        response = send(
            self._http,
            method,
            path,
            platform=PLATFORM,
            params={"fields": fields},
            headers=headers,
            content=content,
        )
        try:
            data = data_of(response, clock.now())
        except RateLimited:
            spent = RateWindow(RATE_LIMIT_PER_MINUTE, 0, None, rolling=RATE_WINDOW)
            self._last_window = self._windows[endpoint] = spent
            raise
        self._last_window = None
        self._windows.pop(endpoint, None)
        return data


def _token_of(credentials: dict[str, Any]) -> str:
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermissionRequired(
            "the TikTok connection has no access token; reconnect the account",
            code="tiktok_user_token_missing",
        )
    return token
