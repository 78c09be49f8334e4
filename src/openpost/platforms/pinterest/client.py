"""Pinterest API v5 client: the owner's own Pins, their analytics, and the account's counts.

Every call carries the account owner's token (Pinterest has no app-wide read): the
``credentials`` of each read are the sealed owner connection. ``user_tokens`` (the
registry's ``UserTokenSource``) is asked before each read and renews tokens that expire
soon; a 401 (code 2) renews them once more (``force``) and the read is retried once. A
refused renewal, or a refresh token past its 60 days, is ``TokenRefused`` (the integration
becomes ``needs_refresh``).

Calls (``reference/gated-platforms.md`` §7):

- ``GET /v5/pins?page_size=…&bookmark=…&pin_filter=exclude_repins``: the account's own Pins,
  newest first (rate category ``org_read``); ``page_size`` at most 250. Discovery follows
  ``bookmark`` until it reaches the Pins it saw before (cursor ``<pin id>@<created at>``)
  or ``limit``.
- ``GET /v5/pins/{pin_id}/analytics?start_date&end_date&metric_types=…&app_types=ALL&
  split_field=NO_SPLIT``: one Pin per call (``org_analytics``), so ``batch_size`` is 1 and
  a read of N Pins costs N requests. With ``OPENPOST_PINTEREST_BULK_ANALYTICS`` (the beta
  some apps have) ``GET /v5/pins/analytics?pin_ids=…`` reads up to 100 Pins per call; a Pin
  left out of that answer is asked alone, which says whether it is gone.
- The window is the last 90 UTC days up to today (what Pinterest keeps); see ``reading``
  for what each counter means. A 404 (code 50) is a deleted Pin.
- ``GET /v5/user_account``: followers, following and Pins (``fetch_accounts``).

Throttling: 429 (code 8) is ``RateLimited`` until ``Retry-After`` / ``x-ratelimit-reset``,
else (no header) the next UTC day on Trial access and a minute on Standard. The Trial
tier's 1,000 requests a day are the spec's daily budget, so the planner never plans past it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.base import (
    Account,
    AccountBatch,
    AccountReading,
    BatchResult,
    DiscoveredPost,
    DiscoveryPage,
    MalformedResponse,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateWindow,
)
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.pinterest.oauth import USER_ACCOUNT_PATH
from openpost.platforms.pinterest.reading import (
    METRIC_TYPES,
    PLATFORM,
    Window,
    error_body,
    http_error,
    is_deleted,
    malformed,
    reading_of,
    window_of,
)
from openpost.platforms.pinterest.urls import URLS

PAGE_MAX = 250
BULK_MAX = 100
SCOPE_REFUSED = 29  # 403 code 29: the token lacks a scope
_ID = re.compile(r"^[0-9]{1,20}$")
T = TypeVar("T")


def cursor_of(pin_id: str, created_at: datetime) -> str:
    return f"{pin_id}@{int(created_at.timestamp())}"


def parse_cursor(cursor: str) -> tuple[int, int]:
    """``(created at, pin id)`` of a discovery cursor, as integers for ordering."""
    pin_id, _, seconds = cursor.partition("@")
    if not (_ID.match(pin_id) and seconds.isascii() and seconds.isdigit()):
        raise ValueError("since_id must be a Pinterest discovery cursor (<pin id>@<time>)")
    return int(seconds), int(pin_id)


class PinterestClient:
    """The ``PlatformClient`` (and ``AccountReader``) for Pinterest."""

    platform = PLATFORM
    account_batch_size = 1  # /v5/user_account: the token's own account

    def __init__(
        self,
        *,
        base_url: str = "https://api.pinterest.com",
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
        bulk: bool = False,
        trial: bool = True,
    ) -> None:
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._user_tokens = user_tokens
        self.bulk = bulk
        self.batch_size = BULK_MAX if bulk else 1
        self._trial = trial
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
    ) -> PinterestClient:
        return cls(
            base_url=settings.pinterest_api_base_url,
            transport=transport,
            user_tokens=user_tokens,
            bulk=settings.pinterest_bulk_analytics,
            trial=settings.pinterest_daily_request_limit > 0,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PinterestClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PinterestClient(base_url={str(self._http.base_url)!r}, bulk={self.bulk})"

    # ---- PlatformClient ---------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:
        del handle
        raise NotFound(
            "Pinterest accounts are connected only with their owner's consent, not by handle",
            code="pinterest_consent_only",
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Pinterest reads at most {self.batch_size} Pins per call, not {len(unique)}"
            )
        errors: dict[str, PlatformError] = {}
        valid = []
        for pin_id in unique:
            if _ID.match(pin_id):
                valid.append(pin_id)
            else:
                errors[pin_id] = NotFound("not a Pinterest Pin id", code="pinterest_invalid_id")
        if not valid:
            return BatchResult(readings={}, errors=errors, calls=0)
        before = self.requests
        window = Window.ending(clock.now())

        def read(token: str) -> BatchResult:
            result = BatchResult(readings={}, errors=dict(errors))
            left = self._read_bulk(valid, token, window, result) if self.bulk else valid
            for pin_id in left:
                self._read_one(pin_id, token, window, result)
            return result

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
        seen = parse_cursor(since_id) if since_id is not None else None
        if limit <= 0:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        before = self.requests
        page = self._with_token(
            credentials, lambda token: self._discover(account, seen, since_id, limit, token)
        )
        return replace(page, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError("Pinterest reads one account (the token's own) per call")
        if not unique:
            return AccountBatch(readings={}, calls=0)
        before = self.requests
        body = self._with_token(
            credentials, lambda token: self._get(USER_ACCOUNT_PATH, {}, token, "user_account")
        )
        (wanted,) = unique
        found = body.get("id")
        if found != wanted:
            error = PermissionRequired(
                "the Pinterest token belongs to another account; reconnect it",
                code="pinterest_other_account",
            )
            return AccountBatch(readings={}, errors={wanted: error}, calls=self.requests - before)
        try:
            reading = account_reading(wanted, body)
        except MalformedResponse as exc:
            return AccountBatch(readings={}, errors={wanted: exc}, calls=self.requests - before)
        return AccountBatch(readings={wanted: reading}, calls=self.requests - before)

    def rate_window(self) -> RateWindow | None:
        return self._last_window

    def rate_windows(self) -> dict[str, RateWindow]:
        """The last window seen per rate category (``org_read``, ``org_analytics``)."""
        return dict(self._windows)

    # ---- reads --------------------------------------------------------------------------

    def _analytics_params(self, window: Window) -> dict[str, str]:
        return {
            **window.params(),
            "metric_types": ",".join(METRIC_TYPES),
            "app_types": "ALL",
            "split_field": "NO_SPLIT",
        }

    def _read_one(self, pin_id: str, token: str, window: Window, into: BatchResult) -> None:
        path = f"/v5/pins/{pin_id}/analytics"
        response = self._send(path, self._analytics_params(window), token, "org_analytics")
        if response.status_code == 200:
            try:
                into.readings[pin_id] = reading_of(
                    pin_id, json_object(response, platform=PLATFORM), window
                )
            except MalformedResponse as exc:
                into.errors[pin_id] = exc
            return
        if is_deleted(response):
            into.deleted.add(pin_id)
            return
        if response.status_code == 403 and error_body(response)[0] != SCOPE_REFUSED:
            # Not this account's Pin (or on a board it cannot see): that Pin alone fails;
            # the connection itself still reads (a missing scope, code 29, does not).
            into.errors[pin_id] = PlatformError(
                "Pinterest does not let this account read that Pin (not its own, or on a "
                "board it cannot see)",
                code="pinterest_pin_forbidden",
            )
            return
        error = http_error(response, clock.now(), trial=self._trial)
        if error.transient or isinstance(error, PermissionRequired):
            raise error  # the whole read waits (throttled, down, or the token refused)
        into.errors[pin_id] = error

    def _read_bulk(
        self, pin_ids: list[str], token: str, window: Window, into: BatchResult
    ) -> list[str]:
        """One bulk call; the Pins its answer left out (to be asked alone)."""
        params = {"pin_ids": ",".join(pin_ids), **self._analytics_params(window)}
        body = self._get("/v5/pins/analytics", params, token, "org_analytics")
        left = []
        for pin_id in pin_ids:
            section = body.get(pin_id)
            if section is None:
                left.append(pin_id)
            elif not isinstance(section, dict):
                into.errors[pin_id] = malformed(
                    "Pinterest's bulk answer for a Pin is not an object"
                )
            else:
                try:
                    into.readings[pin_id] = reading_of(pin_id, section, window)
                except MalformedResponse as exc:
                    into.errors[pin_id] = exc
        return left

    def _discover(
        self,
        account: Account,
        seen: tuple[int, int] | None,
        since_id: str | None,
        limit: int,
        token: str,
    ) -> DiscoveryPage:
        found: dict[str, tuple[int, DiscoveredPost]] = {}
        bookmark: str | None = None
        bookmarks: set[str] = set()
        while len(found) < limit:
            params = {"page_size": str(min(limit, PAGE_MAX)), "pin_filter": "exclude_repins"}
            if bookmark is not None:
                params["bookmark"] = bookmark
            body = self._get("/v5/pins", params, token, "org_read")
            items = body.get("items")
            if not isinstance(items, list):
                raise malformed("Pinterest's Pin list has no items")
            reached_seen = False
            for item in items:
                pin = self._pin(item, account)
                if pin is None:
                    continue
                at, post = pin
                if seen is not None and (at, int(post.platform_post_id)) <= seen:
                    reached_seen = True
                    continue
                found.setdefault(post.platform_post_id, (at, post))
            nxt = body.get("bookmark")
            if reached_seen or not isinstance(nxt, str) or not nxt or nxt in bookmarks:
                break
            bookmarks.add(nxt)
            bookmark = nxt
        ordered = sorted(
            found.values(), key=lambda p: (p[0], int(p[1].platform_post_id)), reverse=True
        )
        posts = [post for _at, post in ordered[:limit]]
        newest = posts[0] if posts else None
        newest_id = cursor_of(newest.platform_post_id, newest.published_at) if newest else since_id
        return DiscoveryPage(posts=posts, newest_id=newest_id)

    def _pin(self, item: object, account: Account) -> tuple[int, DiscoveredPost] | None:
        if not isinstance(item, dict):
            raise malformed("Pinterest's Pin list has an item that is not an object")
        pin_id = item.get("id")
        if not (isinstance(pin_id, str) and _ID.match(pin_id)):
            raise malformed("Pinterest's Pin list has a Pin without a valid id")
        if item.get("is_owner") is False:
            return None  # on a group board, but not the account's own Pin
        created = created_time(item.get("created_at"))
        if created is None:
            raise malformed("Pinterest's Pin list has a Pin without a creation time")
        title, description = item.get("title"), item.get("description")
        text = " — ".join(t for t in (title, description) if isinstance(t, str) and t)
        url = URLS.url_for(pin_id, account.username) or ""
        post = DiscoveredPost(
            platform_post_id=pin_id,
            post_url=url,
            published_at=created.astimezone(UTC),
            content=text,
        )
        return int(created.timestamp()), post

    # ---- requests ---------------------------------------------------------------------

    def _with_token(self, credentials: dict[str, Any] | None, call: Callable[[str], T]) -> T:
        """``call`` with the owner's token (renewed when it expires soon, and once more,
        with one retry, when Pinterest answers 401)."""
        if credentials is None:
            raise PermissionRequired(
                "Pinterest is read only with the owner's consent; connect the account",
                code="pinterest_user_token_missing",
            )
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        try:
            return call(_token_in(credentials))
        except PermissionRequired as exc:
            if exc.code != "pinterest_unauthorized" or self._user_tokens is None:
                raise
            if not credentials.get("refresh_token"):
                raise
        credentials = self._user_tokens(credentials, force=True)
        return call(_token_in(credentials))

    def _send(self, path: str, params: dict[str, str], token: str, category: str) -> httpx.Response:
        self.requests += 1
        headers = {"Authorization": f"Bearer {token}"}
        response = send(self._http, "GET", path, platform=PLATFORM, params=params, headers=headers)
        window = window_of(response.headers, clock.now(), trial=self._trial)
        self._last_window = window
        if window is not None:
            self._windows[category] = window
        return response

    def _get(self, path: str, params: dict[str, str], token: str, category: str) -> dict[str, Any]:
        response = self._send(path, params, token, category)
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        raise http_error(response, clock.now(), trial=self._trial)


def created_time(value: object) -> datetime | None:
    """A Pin's ``created_at``: ISO 8601, which Pinterest writes without an offset
    (``2026-03-01T10:20:30``) and means as UTC; ``None`` when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _token_in(credentials: dict[str, Any]) -> str:
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermissionRequired(
            "the Pinterest connection has no access token; reconnect the account",
            code="pinterest_user_token_missing",
        )
    return token


def account_reading(account_id: str, body: dict[str, Any]) -> AccountReading:
    """``/v5/user_account``'s counts: followers, following, and ``pin_count`` as posts
    (Pinterest counts the Pins the account created **and** saved)."""

    def count(name: str) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise malformed(f"Pinterest's {name} is not a count")
        return value

    return AccountReading(
        external_account_id=account_id,
        followers=count("follower_count"),
        following=count("following_count"),
        posts=count("pin_count"),
        platform_data={
            "posts_kind": "pins_created_and_saved",
            "board_count": count("board_count"),
            "monthly_views": count("monthly_views"),
            "account_type": body.get("account_type")
            if isinstance(body.get("account_type"), str)
            else None,
        },
    )
