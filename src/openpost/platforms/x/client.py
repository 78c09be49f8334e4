"""X (Twitter) API v2 client: account lookup, batched public metrics, timeline discovery.

Calls (facts from ``reference/platform-apis.md`` §1):

- ``GET /2/users/by/username/:username`` resolves a handle to the account id.
- ``GET /2/tweets?ids=…`` reads up to 100 posts per request (``batch_size``), so N due
  posts cost ⌈N/100⌉ requests. Partial answers are HTTP 200 with ``errors[]``: a
  "Not Found Error" id is reported ``deleted``; authorization errors (protected or suspended
  author) are ``PermissionRequired`` for that id; the rest of the batch still succeeds.
- ``GET /2/users/:id/tweets`` discovers an account's new posts (``since_id``), following
  ``meta.next_token`` but never asking for more posts than ``limit``, because X bills every
  post read. Discovery passes ``exclude=retweets,replies``: reposts of other people's posts
  and replies inside conversations are not the workspace's published posts, and would
  crowd the newest-50 cap out. (X then reaches back 800 posts instead of 3,200; the cap is
  far below either.) The counters that come with the read are returned with each post.

Mapping (SPEC §2): impressions = ``impression_count``, likes = ``like_count``, comments =
``reply_count``, shares = ``retweet_count + quote_count``; ``platform_data`` keeps the six
public counters under X's names (and the private sections, when a user token gave them).
A post whose counters are missing or not non-negative integers fails alone with
``MalformedResponse``: the client never guesses a number.

Errors: 401 and 403 are ``PermissionRequired``; 429 is ``RateLimited`` until
``x-rate-limit-reset``, except a usage-capped 429, which is ``BudgetExhausted`` until the
cap's period ends (a daily cap: next UTC midnight; a monthly cap: X does not say when the
account's billing month turns, so we probe once a day, a rejected probe costing nothing);
402 credits-depleted is ``BudgetExhausted`` for an hour (probe at most hourly); 5xx and
network failures are ``TransientError``; bodies we cannot read are ``MalformedResponse``.
No message ever contains a token.

User context: ``credentials={"access_token": …}`` (an OAuth 2.0 PKCE user token of the
account's owner) sends that token instead of the app's and adds ``non_public_metrics`` and
``organic_metrics`` to metric reads. X refuses those fields for posts older than 30 days
("Field Authorization Error", the post left out); such posts are read again, in one more
request, with public fields only.

An owner's token lives two hours. ``user_tokens`` (a ``UserTokenSource``, given by the
registry; it stores rotated tokens, which a platform client cannot) is asked for the
credentials before each user-context read, and refreshes them when they expire within a few
minutes; a 401 on a user token refreshes them once more (``force``) and retries the read
once. A refused refresh raises ``PermissionRequired``, as a rejected token does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import httpx

from openpost.config import Settings
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
    RateWindow,
)
from openpost.platforms.consent import UserTokenSource as UserTokenSource  # the registry's
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.x.account_reading import USER_FIELDS, USERS_BATCH, users_batch
from openpost.platforms.x.reading import (
    PLATFORM,
    PRIVATE_SECTIONS,
    account_error,
    discovered_of,
    error_id,
    http_error,
    is_id,
    malformed,
    media_previews,
    post_error,
    problem,
    reading_of,
    window_of,
)

DEFAULT_BASE_URL: str = Settings.model_fields["x_api_base_url"].default
PUBLIC_FIELDS = "public_metrics,created_at,author_id"
TIMELINE_FIELDS = "public_metrics,created_at,attachments"
# Each post's first attached photo (or a video's still) as its preview on the dashboard.
TIMELINE_MEDIA = {"expansions": "attachments.media_keys", "media.fields": "url,preview_image_url"}
TIMELINE_PAGE_MIN, TIMELINE_PAGE_MAX = 5, 100
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
T = TypeVar("T")


class XClient:
    """The ``PlatformClient`` for X. One instance may serve every workspace (one app token)."""

    platform = PLATFORM
    batch_size = 100
    account_batch_size = USERS_BATCH  # GET /2/users?ids= (SPEC §9.4)

    def __init__(
        self,
        *,
        bearer_token: str,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
    ) -> None:
        self._token = bearer_token
        self._user_tokens = user_tokens
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._last_window: RateWindow | None = None
        self._windows: dict[str, RateWindow] = {}
        self.requests = 0  # requests sent, for the calls a read reports

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> XClient:
        return cls(
            bearer_token=settings.x_bearer_token,
            base_url=settings.x_api_base_url,
            transport=transport,
            user_tokens=user_tokens,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"XClient(base_url={self.base_url!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:
        username = handle.strip().removeprefix("@")
        if not _HANDLE.match(username):
            raise NotFound(
                "not a valid X handle (1 to 15 letters, digits or underscores)",
                code="x_invalid_handle",
            )
        body = self._get(
            f"/2/users/by/username/{username}", {}, token=self._app_token(), endpoint="users"
        )
        data = body.get("data")
        if data is None:
            raise account_error(body.get("errors"), username)
        if not isinstance(data, dict):
            raise malformed("X's user lookup answer has no user object")
        user_id, name, found = data.get("id"), data.get("name"), data.get("username")
        if not (is_id(user_id) and isinstance(name, str) and isinstance(found, str)):
            raise malformed("X's user lookup answer lacks the id, name or username")
        return Account(external_account_id=str(user_id), username=found, display_name=name)

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(f"X reads at most {self.batch_size} posts per call, not {len(unique)}")
        invalid: dict[str, PlatformError] = {}
        valid = []
        for post_id in unique:
            if is_id(post_id):
                valid.append(post_id)
            else:
                invalid[post_id] = NotFound("not a valid X post id", code="x_invalid_id")
        if not valid:
            return BatchResult(readings={}, errors=invalid, calls=0)
        private = credentials is not None
        before = self.requests

        def read(token: str) -> BatchResult:
            result = BatchResult(readings={}, errors=dict(invalid))
            refused = self._read_batch(valid, token=token, private=private, into=result)
            if refused:  # private fields refused (post older than 30 days): read them publicly
                self._read_batch(refused, token=token, private=False, into=result)
            return result

        result = self._with_token(credentials, read)
        return replace(result, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """Followers, following and post counts of up to 100 accounts in one users lookup
        (``platforms.x.account_reading``)."""
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > USERS_BATCH:
            raise ValueError(f"X reads at most {USERS_BATCH} users per call, not {len(unique)}")
        batch = AccountBatch(readings={}, calls=0)
        valid = []
        for account_id in unique:
            if is_id(account_id):
                valid.append(account_id)
            else:
                batch.errors[account_id] = NotFound(
                    "not a valid X account id", code="x_invalid_account"
                )
        if not valid:
            return batch
        before = self.requests

        def read(token: str) -> AccountBatch:
            into = AccountBatch(readings={}, errors=dict(batch.errors))
            params = {"ids": ",".join(valid), "user.fields": USER_FIELDS}
            users_batch(
                self._get("/2/users", params, token=token, endpoint="users_lookup"),
                valid,
                into,
            )
            return into

        result = self._with_token(credentials, read)
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
            raise ValueError("since_id must be an X post id (digits)")
        if not is_id(account.external_account_id):
            raise NotFound("not a valid X account id", code="x_invalid_account")
        before = self.requests
        page = self._with_token(
            credentials, lambda token: self._discover(account, since_id, limit, token)
        )
        return replace(page, calls=self.requests - before)

    def _discover(
        self, account: Account, since_id: str | None, limit: int, token: str
    ) -> DiscoveryPage:
        posts: list[DiscoveredPost] = []
        newest_id: str | None = None
        next_token: str | None = None
        seen_tokens: set[str] = set()
        while len(posts) < limit:
            wanted = limit - len(posts)
            params = {
                "max_results": str(min(max(wanted, TIMELINE_PAGE_MIN), TIMELINE_PAGE_MAX)),
                "tweet.fields": TIMELINE_FIELDS,
                "exclude": "retweets,replies",
                **TIMELINE_MEDIA,
            }
            if since_id is not None:
                params["since_id"] = since_id
            if next_token is not None:
                params["pagination_token"] = next_token
            path = f"/2/users/{account.external_account_id}/tweets"
            body = self._get(path, params, token=token, endpoint="timeline")
            data = body.get("data", [])
            if not isinstance(data, list):
                raise malformed("X's timeline answer has no list of posts")
            if not data and body.get("errors"):
                raise account_error(body.get("errors"), account.username)
            previews = media_previews(body.get("includes"))
            page = [discovered_of(item, account.username, previews) for item in data]
            posts.extend(page[:wanted])
            meta = body.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            if newest_id is None and page:
                newest = meta.get("newest_id")
                newest_id = (
                    newest if is_id(newest) else max((p.platform_post_id for p in page), key=int)
                )
            token_value = meta.get("next_token")
            if not page or not isinstance(token_value, str) or token_value in seen_tokens:
                break
            seen_tokens.add(token_value)
            next_token = token_value
        posts.sort(key=lambda p: int(p.platform_post_id), reverse=True)
        return DiscoveryPage(posts=posts, newest_id=newest_id or since_id)

    def rate_window(self) -> RateWindow | None:
        """The window of the last response (X limits each endpoint separately: see
        ``rate_windows``)."""
        return self._last_window

    def rate_windows(self) -> dict[str, RateWindow]:
        """The last window seen per endpoint: ``users``, ``tweets``, ``timeline``."""
        return dict(self._windows)

    # ---- requests ---------------------------------------------------------------------

    def _app_token(self) -> str:
        if not self._token:
            raise PermissionRequired(
                "no X bearer token is configured (OPENPOST_X_BEARER_TOKEN)",
                code="x_not_configured",
            )
        return self._token

    def _with_token(self, credentials: dict[str, Any] | None, call: Callable[[str], T]) -> T:
        """``call`` with the app token, or with the owner's (refreshed when it expires soon,
        and once more, with one retry, when X answers 401)."""
        if credentials is None:
            return call(self._app_token())
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        try:
            return call(self._token_for(credentials))
        except PermissionRequired as exc:
            refreshable = self._user_tokens is not None and credentials.get("refresh_token")
            if exc.code != "x_user_unauthorized" or not refreshable:
                raise
        assert self._user_tokens is not None
        credentials = self._user_tokens(credentials, force=True)
        return call(self._token_for(credentials))

    def _token_for(self, credentials: dict[str, Any] | None) -> str:
        if credentials is None:
            return self._app_token()
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermissionRequired(
                "the X connection has no access token; reconnect the account",
                code="x_user_token_missing",
            )
        return token

    def _read_batch(
        self, ids: list[str], *, token: str, private: bool, into: BatchResult
    ) -> list[str]:
        """One ``GET /2/tweets``; fills ``into``; returns ids refused private fields."""
        fields = PUBLIC_FIELDS + ("," + ",".join(PRIVATE_SECTIONS) if private else "")
        params = {"ids": ",".join(ids), "tweet.fields": fields}
        body = self._get("/2/tweets", params, token=token, endpoint="tweets")
        data = body.get("data", [])
        errors = body.get("errors", [])
        if not isinstance(data, list) or not isinstance(errors, list):
            raise malformed("X's post lookup answer has no list of posts")
        wanted = set(ids)
        for item in data:
            post_id = item.get("id") if isinstance(item, dict) else None
            if post_id not in wanted:
                continue
            try:
                into.readings[post_id] = reading_of(item)
            except MalformedResponse as exc:
                into.errors[post_id] = exc
        refused: list[str] = []
        for entry in errors:
            post_id = error_id(entry)
            if post_id not in wanted or post_id in into.readings:
                continue
            kind = problem(entry)
            if kind == "field" and private:
                refused.append(post_id)
            elif kind == "not_found":
                into.deleted.add(post_id)
            else:
                into.errors[post_id] = post_error(kind, entry)
        for post_id in ids:
            answered = post_id in into.readings or post_id in into.deleted
            if not answered and post_id not in into.errors and post_id not in refused:
                into.errors[post_id] = malformed("X's answer left this post out")
        return refused

    def _get(
        self, path: str, params: dict[str, str], *, token: str, endpoint: str
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        self.requests += 1
        response = send(self._http, "GET", path, platform=PLATFORM, params=params, headers=headers)
        window = window_of(response.headers)
        self._last_window = window
        if window is not None:
            self._windows[endpoint] = window
        status = response.status_code
        if status == 200:
            return json_object(response, platform=PLATFORM)
        raise http_error(response, window, user_token=token != self._token)
