"""Mastodon client: any instance, public statuses, no application registration.

An account is ``user@instance`` (``@alice@mastodon.social`` or a profile URL also do); its
instance is read at ``https://<instance>`` (``OPENPOST_MASTODON_API_BASE_URL`` replaces that
for every instance, to point the service at a fake). The instance comes from users, so each
base URL passes ``NetGuard`` first (https only, public addresses only, default port, the
connection pinned to the checked address) unless
``OPENPOST_MASTODON_ALLOW_PRIVATE_ADDRESSES`` is on.

Calls (facts from ``reference/platform-apis.md`` §3 and the Mastodon API docs):

- ``GET /api/v1/accounts/lookup?acct=<user>`` connects an account: its id (a string, local
  to the instance) is the external account id; the username is ``user@instance``.
- ``GET /api/v1/statuses?id[]=…`` (Mastodon 4.3+) reads up to 20 statuses per request
  (``batch_size``): N due posts on one instance cost ⌈N/20⌉ requests. Statuses that were
  deleted (or are no longer visible) are left out of the answer: reported ``deleted``.
- On an older instance that endpoint does not exist (404): the client falls back to
  ``GET /api/v1/statuses/:id``, one request per status, and remembers that instance for a
  day (process-wide) so later batches go straight to the fallback. There a 404 carrying
  Mastodon's JSON error body means deleted; a 404 without it (a parked domain, a proxy)
  fails the post instead, so a vanished instance never marks its posts deleted.
- ``GET /api/v1/accounts/:id`` reads one account's own counters per request
  (``account_batch_size`` 1: Mastodon has no batch, SPEC §9.4): ``followers_count``,
  ``following_count``, ``statuses_count``. An account the instance does not know (404 with
  Mastodon's error body) or reports suspended (its counts then read 0) is missing.
- ``GET /api/v1/accounts/:id/statuses?exclude_reblogs=true&exclude_replies=true&since_id=…
  &limit=40`` discovers new posts, newest first. ``exclude_replies`` drops replies to other
  accounts but keeps the account's own threads (as Bluesky's author threads and X's
  timeline without replies). Paging follows the ``Link`` header's ``rel="next"`` (its
  ``max_id``, re-sent with our own ``since_id``, which Mastodon's link leaves out, and never
  to another host), stops at ``limit`` posts, and ``since_id`` is the newest status id a
  previous discovery returned.

Which instance a metrics batch is read on is not in a status id (ids are local to their
instance), so ``fetch_metrics`` takes it from ``credentials={"instance": "<instance>"}``
(the integration's ``MastodonClient.instance_of(username)``); ``"access_token"`` there, if
any, is sent as a bearer token (private statuses, instances that require sign-in). Batches
must not mix instances.

Mapping (SPEC §2): impressions = ``None``, likes = ``favourites_count``, comments =
``replies_count``, shares = ``reblogs_count`` (+ ``quotes_count`` where the instance
reports it, 4.5+); ``platform_data`` keeps those counts under Mastodon's names. A status
whose counts are missing or not non-negative integers fails alone with
``MalformedResponse``.

Errors: 429 is ``RateLimited`` until ``X-RateLimit-Reset`` (an ISO 8601 time), 401/403 are
``PermissionRequired``, a missing account is ``NotFound``, 5xx and network failures are
``TransientError``. ``rate_window()`` is the last response's ``X-RateLimit-*`` window;
limits are per instance (``rate_windows()``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

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
    PlatformError,
    RateWindow,
)
from openpost.platforms.http import DEFAULT_TIMEOUT, make_client, safe_text, send
from openpost.platforms.mastodon.reading import (
    PLATFORM,
    access_token,
    account_reading,
    discovered,
    has_error_body,
    http_error,
    id_order,
    instance_name,
    is_mastodon_id,
    is_newer,
    json_body,
    malformed,
    next_max_id,
    parse_handle,
    rate_window_of,
    read_statuses,
)
from openpost.platforms.netguard import NetGuard, Resolver, SafeTarget

TIMELINE_PAGE_MAX = 40
TIMELINE_MAX_PAGES = 20
SINGLE_ONLY_FOR = timedelta(hours=24)
MISSING_ENDPOINT = (404, 405, 501)


class InstanceMemory:
    """Instances without ``GET /api/v1/statuses`` (before 4.3), remembered for ``ttl`` so
    that an upgraded instance is tried again."""

    def __init__(self, ttl: timedelta = SINGLE_ONLY_FOR) -> None:
        self._ttl = ttl
        self._single_only: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def single_only(self, instance: str) -> bool:
        with self._lock:
            until = self._single_only.get(instance)
        return until is not None and until > clock.now()

    def remember_single_only(self, instance: str) -> None:
        with self._lock:
            self._single_only[instance] = clock.now() + self._ttl

    def clear(self) -> None:
        with self._lock:
            self._single_only.clear()


SHARED_MEMORY = InstanceMemory()
"""The process-wide memory ``from_settings`` uses (clients are built per job)."""


class MastodonClient:
    """The ``PlatformClient`` for Mastodon. One instance serves every Mastodon instance."""

    platform = PLATFORM
    batch_size = 20
    account_batch_size = 1  # GET /api/v1/accounts/:id, one account per request

    def __init__(
        self,
        *,
        base_url: str = "",
        allow_private: bool = False,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        memory: InstanceMemory | None = None,
    ) -> None:
        self._override = base_url.strip().rstrip("/")
        self._guard = NetGuard(allow_private=allow_private, resolver=resolver, code_prefix=PLATFORM)
        self._http = make_client("", transport=self._guard.transport(transport), timeout=timeout)
        self._memory = memory if memory is not None else InstanceMemory()
        self._last_window: RateWindow | None = None
        self._windows: dict[str, RateWindow] = {}
        self.requests = 0  # requests sent, for the calls a read reports

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        memory: InstanceMemory | None = None,
    ) -> MastodonClient:
        return cls(
            base_url=settings.mastodon_api_base_url,
            allow_private=settings.mastodon_allow_private_addresses,
            resolver=resolver,
            transport=transport,
            memory=memory if memory is not None else SHARED_MEMORY,
        )

    @staticmethod
    def instance_of(username: str) -> str:
        """The instance of a connected account's username (``alice@mastodon.social`` →
        ``mastodon.social``): the ``credentials["instance"]`` of its metric reads."""
        return parse_handle(username)[1]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MastodonClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MastodonClient(base_url={self._override or 'https://<instance>'!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:
        user, instance = parse_handle(handle)
        target = self._target(instance)
        try:
            body = self._get(target, instance, "/api/v1/accounts/lookup", [("acct", user)])
        except _MissingEndpoint as missing:
            if missing.mastodon_body:
                raise NotFound(
                    f"{instance} has no account @{user}", code="mastodon_account_not_found"
                ) from None
            raise NotFound(
                f"{instance} does not answer like a Mastodon instance",
                code="mastodon_not_mastodon",
            ) from None
        if not isinstance(body, dict):
            raise malformed("the instance's account lookup answer is not an account")
        account_id, username, acct = body.get("id"), body.get("username"), body.get("acct")
        if not (is_mastodon_id(account_id) and isinstance(username, str) and isinstance(acct, str)):
            raise malformed("the instance's account lookup answer lacks the id or username")
        home = acct.partition("@")[2].lower()
        if home and home != instance:
            raise NotFound(
                f"@{user} lives on {safe_text(home, 100)}; connect it as {user}@{home}",
                code="mastodon_remote_account",
            )
        if body.get("suspended") is True:
            raise NotFound(f"{instance} reports @{user} suspended", code="mastodon_suspended")
        name = body.get("display_name")
        display = name.strip() if isinstance(name, str) and name.strip() else username
        return Account(
            external_account_id=account_id,
            username=f"{username}@{instance}",
            display_name=display,
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        given = (credentials or {}).get("instance")
        if not isinstance(given, str) or not given.strip():
            raise ValueError('Mastodon reads need credentials={"instance": "<instance>"}')
        instance = instance_name(given)
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Mastodon reads at most {self.batch_size} statuses per call, not {len(unique)}"
            )
        result = BatchResult(readings={}, calls=0)
        valid = []
        for post_id in unique:
            if is_mastodon_id(post_id):
                valid.append(post_id)
            else:
                result.errors[post_id] = NotFound(
                    "not a Mastodon status id", code="mastodon_invalid_id"
                )
        if not valid:
            return result
        target = self._target(instance)
        token = access_token(credentials)
        before = self.requests
        if not self._memory.single_only(instance):
            params = [("id[]", post_id) for post_id in valid]
            try:
                body = self._get(target, instance, "/api/v1/statuses", params, token=token)
            except _MissingEndpoint:
                self._memory.remember_single_only(instance)
            else:
                read_statuses(body, valid, result)
                return replace(result, calls=self.requests - before)
        for post_id in valid:
            path = f"/api/v1/statuses/{quote(post_id, safe='')}"
            try:
                status = self._get(target, instance, path, [], token=token)
            except _MissingEndpoint as missing:
                if missing.mastodon_body:
                    result.deleted.add(post_id)
                else:
                    result.errors[post_id] = PlatformError(
                        f"{instance} answered HTTP {missing.status} without Mastodon's error "
                        "body; is it still a Mastodon instance?",
                        code="mastodon_not_mastodon",
                    )
                continue
            read_statuses([status], [post_id], result)
        return replace(result, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """Followers, following and statuses counts, one ``GET /api/v1/accounts/:id`` per
        account, on the instance ``credentials["instance"]`` names (as for metrics)."""
        given = (credentials or {}).get("instance")
        if not isinstance(given, str) or not given.strip():
            raise ValueError('Mastodon reads need credentials={"instance": "<instance>"}')
        instance = instance_name(given)
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError(f"Mastodon reads one account per call, not {len(unique)}")
        batch = AccountBatch(readings={}, calls=0)
        target = self._target(instance)
        token = access_token(credentials)
        before = self.requests
        for account_id in unique:
            if not is_mastodon_id(account_id):
                batch.errors[account_id] = NotFound(
                    "not a Mastodon account id", code="mastodon_invalid_account"
                )
                continue
            path = f"/api/v1/accounts/{quote(account_id, safe='')}"
            try:
                body = self._get(target, instance, path, [], token=token)
            except _MissingEndpoint as missing:
                if missing.mastodon_body:
                    batch.missing.add(account_id)
                else:
                    batch.errors[account_id] = PlatformError(
                        f"{instance} answered HTTP {missing.status} without Mastodon's error "
                        "body; is it still a Mastodon instance?",
                        code="mastodon_not_mastodon",
                    )
                continue
            if isinstance(body, dict) and body.get("suspended") is True:
                batch.missing.add(account_id)
                continue
            try:
                batch.readings[account_id] = account_reading(account_id, body)
            except MalformedResponse as exc:
                batch.errors[account_id] = exc
        return replace(batch, calls=self.requests - before)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        if since_id is not None and not is_mastodon_id(since_id):
            raise ValueError("since_id must be a Mastodon status id")
        if not is_mastodon_id(account.external_account_id):
            raise NotFound("not a Mastodon account id", code="mastodon_invalid_account")
        user, instance = parse_handle(account.username)
        target = self._target(instance)
        token = access_token(credentials)
        path = f"/api/v1/accounts/{account.external_account_id}/statuses"
        before = self.requests
        posts: list[DiscoveredPost] = []
        max_id: str | None = None
        for _ in range(TIMELINE_MAX_PAGES):
            if len(posts) >= limit:
                break
            params = [
                ("limit", str(min(max(limit - len(posts), 1), TIMELINE_PAGE_MAX))),
                ("exclude_reblogs", "true"),
                ("exclude_replies", "true"),
            ]
            if since_id is not None:
                params.append(("since_id", since_id))
            if max_id is not None:
                params.append(("max_id", max_id))
            try:
                response = self._call(target, instance, path, params, token=token)
            except _MissingEndpoint:
                raise NotFound(
                    f"{instance} has no account with this id", code="mastodon_account_not_found"
                ) from None
            page = json_body(response)
            if not isinstance(page, list):
                raise malformed("the instance's timeline answer is not a list of statuses")
            for status in page:
                found = discovered(status, account.external_account_id, user, instance)
                if found is None or (since_id is not None and not is_newer(found, since_id)):
                    continue
                if len(posts) < limit:
                    posts.append(found)
            next_max = next_max_id(response.headers.get("link", ""))
            if not page or next_max is None or next_max == max_id:
                break
            max_id = next_max
        posts.sort(key=lambda p: id_order(p.platform_post_id), reverse=True)
        newest_id = posts[0].platform_post_id if posts else since_id
        return DiscoveryPage(posts=posts, newest_id=newest_id, calls=self.requests - before)

    def rate_window(self) -> RateWindow | None:
        return self._last_window

    def rate_windows(self) -> dict[str, RateWindow]:
        """The last window seen per instance (each instance limits on its own)."""
        return dict(self._windows)

    # ---- requests ---------------------------------------------------------------------

    def _target(self, instance: str) -> SafeTarget:
        base = self._override or f"https://{instance}"
        return self._guard.check_url(base)

    def _get(
        self,
        target: SafeTarget,
        instance: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        token: str | None = None,
    ) -> Any:
        """The JSON body of a 200 answer."""
        return json_body(self._call(target, instance, path, params, token=token))

    def _call(
        self,
        target: SafeTarget,
        instance: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        token: str | None = None,
    ) -> httpx.Response:
        """A 200 answer; 404/405/410/501 raise ``_MissingEndpoint``, the rest their error."""
        url = target.base_url + path + (f"?{urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.requests += 1
        response = send(self._http, "GET", url, platform=PLATFORM, headers=headers)
        window = rate_window_of(response.headers)
        self._last_window = window
        if window is not None:
            self._windows[instance] = window
        status = response.status_code
        if status == 200:
            return response
        if status in MISSING_ENDPOINT or status == 410:
            raise _MissingEndpoint(status, has_error_body(response))
        raise http_error(response, window, instance)


class _MissingEndpoint(Exception):
    """404/405/410/501: what it means depends on the call (an old instance, a deleted
    status, an unknown account)."""

    def __init__(self, status: int, mastodon_body: bool) -> None:
        super().__init__(status)
        self.status = status
        self.mastodon_body = mastodon_body
