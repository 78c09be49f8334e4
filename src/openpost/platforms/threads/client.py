"""Threads API client (graph.threads.net, version v1.0): discovery, per-post insights and
the account's followers, always with the account owner's token.

Calls (``reference/gated-platforms.md`` §1, §2):

- ``GET /v1.0/{user}/threads?fields=…&limit=≤100&since=&after=`` lists the account's own
  posts, newest first; ``paging.cursors.after`` (with a ``paging.next`` link) pages on.
  Reposts of other people's posts (``media_type=REPOST_FACADE``) are skipped.
- ``GET /v1.0/{media}/insights?metric=views,likes,replies,reposts,quotes,shares``: one
  call **per post**. Threads has no multi-post insights, and whether the Graph batch
  endpoint (``POST /?batch=``) or ``?ids=`` works on graph.threads.net is unconfirmed, so
  the client does not rely on it; batching would save round trips, not quota, anyway (each
  operation counts as a call). ``calls`` counts every request. An answer refusing a metric
  (code 100 without subcode: one bad metric fails the whole call) is asked again once
  without ``views`` and ``shares``, the two "in development" ones; the client then keeps
  asking without them.
- ``GET /v1.0/{user}/threads_insights?metric=followers_count`` (``total_value``) and
  ``GET /v1.0/{user}?fields=id,username,name``: the account's followers (following and post
  counts are not reported: ``None``).

Stored ids: a post's **shortcode** (what its URL carries, ``/@user/post/<code>``), or its
numeric media id where it has none. Insights need the media id, so the client keeps the
shortcode → media id pairs it has seen (``MediaIds``, shared by a process's clients) and,
for shortcodes it has not seen, lists the owner's posts (``/v1.0/me/threads``, at most
``RESOLVE_PAGES`` pages of 100) until it finds them. A shortcode missing from a complete
listing is reported deleted; one beyond the pages listed is ``NotFound``.

Discovery's cursor is ``<Unix time>:<stored id>`` of the newest post seen: the next run asks
``since`` that time (so a deleted cursor post still bounds what is new).

Errors are Graph JSON, read by ``platforms.meta.graph.classify``: 190/102 → ``TokenRefused``
(the integration needs reconnecting: a Threads token is renewed before expiry by the
consent machinery, never after a refusal, since a refused token cannot renew itself);
10/200-299 → ``PermissionRequired`` (Threads may send it as HTTP 500); 100/33 → the post is
deleted; 4/17/32/613/80000-80014 → ``RateLimited`` until the usage headers' regain time.
Threads limits each app-user pair over 24 hours, so reads spend the owner's credential key;
its usage comes in ``X-Business-Use-Case-Usage`` (undocumented for Threads [L]: read when
present). Throttled part-way through a batch, the client keeps the readings it has, reports
the rest ``RateLimited`` and a spent window, so collection pauses the credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

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
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.meta import media_ids as meta_media_ids
from openpost.platforms.meta.graph import classify, graph_error, usage_windows
from openpost.platforms.threads.reading import (
    CORE_METRICS,
    INSIGHT_METRICS,
    LIST_FIELDS,
    MEDIA_ID,
    PLATFORM,
    SINCE_MIN,
    Listed,
    followers_of,
    listed_of,
    make_cursor,
    malformed,
    page_of,
    parse_cursor,
    reading_of,
    stored_id_valid,
)

DEFAULT_BASE_URL: str = Settings.model_fields["threads_api_base_url"].default
VERSION = "/v1.0"
PAGE_MAX = 100
RESOLVE_PAGES = 20  # shortcodes are looked for among the owner's 2,000 newest posts
BAD_METRIC = 100  # code 100 without a subcode: "… must be a valid insights metric"


class MediaIds(meta_media_ids.MediaIds):
    """Shortcode → media id pairs seen in listings; a stored id that already is a media id
    passes through."""

    def get(self, code: str) -> str | None:
        return code if MEDIA_ID.match(code) else super().get(code)

    def put(self, code: str, media_id: str) -> None:
        if code != media_id:
            super().put(code, media_id)


SHARED_MEDIA_IDS = MediaIds()


class ThreadsClient:
    """The ``PlatformClient`` (and ``AccountReader``) for Threads; reads need an owner's
    token in ``credentials``."""

    platform = PLATFORM
    batch_size = 25  # one insights call per post: what one capture job carries at most
    account_batch_size = 1  # one owner token, one account

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
        media_ids: MediaIds | None = None,
    ) -> None:
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._user_tokens = user_tokens
        self._media = media_ids if media_ids is not None else SHARED_MEDIA_IDS
        self._windows: list[RateWindow] = []
        self._metrics: tuple[str, ...] = INSIGHT_METRICS
        self.requests = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> ThreadsClient:
        return cls(
            base_url=settings.threads_api_base_url, transport=transport, user_tokens=user_tokens
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ThreadsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never a token
        return f"ThreadsClient(base_url={str(self._http.base_url)!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:  # noqa: ARG002 - the protocol's
        raise NotFound(
            "Threads accounts connect only with their owner's consent, not by handle",
            code="threads_consent_only",
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Threads reads at most {self.batch_size} posts per batch, not {len(unique)}"
            )
        result = BatchResult(readings={}, errors={}, calls=0)
        media: dict[str, str] = {}
        unseen: list[str] = []
        for post_id in unique:
            if not stored_id_valid(post_id):
                result.errors[post_id] = NotFound(
                    "not a Threads post id", code="threads_invalid_id"
                )
            elif (known := self._media.get(post_id)) is not None:
                media[post_id] = known
            else:
                unseen.append(post_id)
        if not media and not unseen:
            return result
        before = self.requests
        token = self._token(credentials)
        if unseen:
            found, complete = self._resolve(token, unseen)
            for post_id in unseen:
                if post_id in found:
                    media[post_id] = found[post_id]
                elif complete:
                    result.deleted.add(post_id)
                else:
                    result.errors[post_id] = NotFound(
                        f"not among the account's {RESOLVE_PAGES * PAGE_MAX} newest Threads posts",
                        code="threads_not_listed",
                    )
        pending = list(media.items())
        for index, (post_id, media_id) in enumerate(pending):
            try:
                result.readings[post_id] = self._insights(token, post_id, media_id)
            except NotFound:
                result.deleted.add(post_id)
                self._media.forget(post_id)
            except RateLimited as exc:
                if not result.readings and not result.deleted:
                    raise
                self._spent(exc)
                for rest, _ in pending[index:]:
                    result.errors[rest] = exc
                break
            except PermissionRequired:
                raise
            except TransientError as exc:  # the platform is struggling: the rest waits too
                for rest, _ in pending[index:]:
                    result.errors[rest] = exc
                break
            except PlatformError as exc:
                result.errors[post_id] = exc
        return replace(result, calls=self.requests - before)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        cursor = parse_cursor(since_id) if since_id is not None else None
        if not MEDIA_ID.match(account.external_account_id):
            raise NotFound("not a Threads user id", code="threads_invalid_account")
        if limit <= 0:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        before = self.requests
        token = self._token(credentials)
        params = {"fields": LIST_FIELDS, "limit": str(min(limit, PAGE_MAX))}
        if cursor is not None:
            params["since"] = str(max(cursor[0] - 1, SINCE_MIN))
        path = f"{VERSION}/{account.external_account_id}/threads"
        posts: list[Listed] = []
        seen: set[str] = set()
        while len(posts) < limit:
            data, after = page_of(self._get(path, params, token))
            older = False
            for item in data:
                listed = listed_of(item, account.username)
                self._media.put(listed.stored_id, listed.media_id)
                if listed.repost or listed.stored_id in seen:
                    continue
                stamp = listed.published_at.timestamp()
                if cursor is not None and (listed.stored_id == cursor[1] or stamp < cursor[0]):
                    older = older or stamp < cursor[0]
                    continue
                seen.add(listed.stored_id)
                posts.append(listed)
            if older or after is None or not data:
                break
            params = {**params, "after": after}
        posts.sort(key=lambda p: p.published_at, reverse=True)
        posts = posts[:limit]
        newest = make_cursor(posts[0].published_at, posts[0].stored_id) if posts else since_id
        found: list[DiscoveredPost] = [p.post for p in posts]
        return DiscoveryPage(posts=found, newest_id=newest, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError("Threads reads one account per owner token")
        batch = AccountBatch(readings={}, calls=0)
        if not unique:
            return batch
        (user_id,) = unique
        if not MEDIA_ID.match(user_id):
            batch.errors[user_id] = NotFound(
                "not a Threads user id", code="threads_invalid_account"
            )
            return batch
        before = self.requests
        token = self._token(credentials)
        try:
            insights = self._get(
                f"{VERSION}/{user_id}/threads_insights", {"metric": "followers_count"}, token
            )
            profile = self._get(f"{VERSION}/{user_id}", {"fields": "id,username,name"}, token)
        except NotFound:
            batch.missing.add(user_id)
            return replace(batch, calls=self.requests - before)
        data = {k: profile[k] for k in ("username", "name") if isinstance(profile.get(k), str)}
        batch.readings[user_id] = AccountReading(
            external_account_id=user_id,
            followers=followers_of(insights),
            following=None,
            posts=None,
            platform_data=data,
        )
        return replace(batch, calls=self.requests - before)

    def rate_window(self) -> RateWindow | None:
        """The tightest window of the last answer (an app-wide one pauses the platform)."""
        if not self._windows:
            return None
        return min(self._windows, key=lambda w: (w.remaining or 0, w.scope != "credential"))

    def rate_windows(self) -> list[RateWindow]:
        return list(self._windows)

    # ---- requests ---------------------------------------------------------------------

    def _token(self, credentials: dict[str, Any] | None) -> str:
        """The owner's token, renewed first when it expires soon (the consent machinery's
        ``renew``: Threads renews a long-lived token with itself)."""
        if credentials is None:
            raise PermissionRequired(
                "Threads posts are read with the owner's consent: connect the account with it",
                code="threads_not_connected",
            )
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermissionRequired(
                "the Threads connection has no token; reconnect the account",
                code="threads_user_token_missing",
            )
        return token

    def _resolve(self, token: str, wanted: list[str]) -> tuple[dict[str, str], bool]:
        """Media ids of ``wanted`` shortcodes from the owner's listing; whether the listing
        was read to its end."""
        missing, found = set(wanted), {}
        params = {"fields": "id,shortcode,timestamp,media_type", "limit": str(PAGE_MAX)}
        for _ in range(RESOLVE_PAGES):
            data, after = page_of(self._get(f"{VERSION}/me/threads", params, token))
            for item in data:
                listed = listed_of(item, "")
                self._media.put(listed.stored_id, listed.media_id)
                if listed.stored_id in missing:
                    found[listed.stored_id] = listed.media_id
                    missing.discard(listed.stored_id)
            if not missing:
                return found, True
            if after is None or not data:
                return found, True
            params = {**params, "after": after}
        return found, False

    def _insights(self, token: str, post_id: str, media_id: str) -> Any:
        path = f"{VERSION}/{media_id}/insights"
        try:
            body = self._get(path, {"metric": ",".join(self._metrics)}, token)
        except _BadMetric:
            if self._metrics == CORE_METRICS:
                raise malformed("Threads refused the insights metrics for this post") from None
            self._metrics = CORE_METRICS  # views or shares refused: ask without them
            body = self._get(path, {"metric": ",".join(self._metrics)}, token)
        return reading_of(post_id, body)

    def _spent(self, error: RateLimited) -> None:
        """Throttled part-way: report a spent window of the credential until regain."""
        until = error.retry_at or clock.now()
        self._windows = [RateWindow(100, 0, until, "credential"), *self._windows]

    def _get(self, path: str, params: dict[str, str], token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        self.requests += 1
        response = send(self._http, "GET", path, platform=PLATFORM, params=params, headers=headers)
        now = clock.now()
        self._windows = usage_windows(response.headers, now)
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        error = graph_error(response)
        refused_metric = error is not None and error.get("code") == BAD_METRIC
        if refused_metric and path.endswith("/insights") and "error_subcode" not in (error or {}):
            raise _BadMetric("Threads refused a metric", code="threads_bad_metric")
        classified = classify(response, platform=PLATFORM, now=now)
        if classified is None:
            raise TransientError(
                f"Threads answered HTTP {response.status_code}", code="threads_unavailable"
            )
        raise classified


class _BadMetric(PlatformError):
    """Code 100 without a subcode on an insights call: a metric was refused."""
