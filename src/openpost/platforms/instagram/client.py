"""Instagram professional accounts, read with their owner's token (gated-platforms.md §3).

Every read needs the owner's consent (``credentials``: the sealed owner credentials, whose
``kind`` says which login gave them): Instagram Login tokens read on graph.instagram.com
(``instagram_login_api_base_url``), Facebook Login tokens on graph.facebook.com
(``instagram_api_base_url``), with the same paths (``/<version>/…``).

- Stored post ids are the media's public **shortcodes** (what a post URL carries); a
  numeric id is taken as a Graph media id. The client learns media ids from the account's
  listing (``GET /{ig-user-id}/media?fields=id,shortcode``) and remembers them
  process-wide (a shortcode's media id never changes); a shortcode the listing no longer
  has is reported deleted.
- ``discover``: ``GET /{ig-user-id}/media`` newest first, cursor ``after``, until the post
  of the discovery cursor (``<epoch>:<shortcode>``: a deleted newest post still bounds it).
- ``fetch_metrics``: insights one post per call (``GET /{media}/insights?metric=…``; a
  ``(#100) … valid insights metric`` answer fails the whole call, so the client retries
  metric by metric); an empty ``data`` (not available yet) gives ``None`` views and shares
  and likes/comments from the media's counters, read for up to 50 posts in one
  ``GET /?ids=…&fields=like_count,comments_count`` (setting ``instagram_multi_id_counters``;
  off: one ``GET /{media}?fields=…`` each). Every request is counted in ``calls``.
- ``fetch_accounts``: ``GET /{ig-user-id}?fields=followers_count,follows_count,media_count``.
- Errors: ``meta.graph.classify`` (190/102 → ``TokenRefused``; 10 → ``PermissionRequired``,
  except "(#10) Not enough viewers" for one post: ``InsightsWithheld`` for that post alone,
  the consent stays good; 100/33 → deleted; 80002 and
  the other throttling codes → ``RateLimited`` until ``estimated_time_to_regain_access``).
  Rate windows: ``X-App-Usage`` (the app) and ``X-Business-Use-Case-Usage`` (the account).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.base import (
    Account,
    AccountBatch,
    BatchResult,
    DiscoveredPost,
    DiscoveryPage,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
    Unsupported,
)
from openpost.platforms.consent import TokenRefused, UserTokenSource
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.instagram.reading import (
    ACCOUNT_FIELDS,
    MEDIA_FIELDS,
    METRICS,
    PLATFORM,
    TOTAL_METRICS,
    account_reading,
    cursor,
    discovered,
    graph_id,
    insight_values,
    is_media_id,
    is_shortcode,
    listed_media,
    malformed,
    parse_cursor,
    reading_of,
)
from openpost.platforms.meta.graph import classify, usage_windows
from openpost.platforms.meta.media_ids import MediaIds

INSTAGRAM_LOGIN = "instagram_login"  # the sealed credentials' kind of each login path
FACEBOOK_LOGIN = "instagram_facebook_login"
BATCH_SIZE = 50  # ``?ids=`` takes 50 ids (commonly cited; gated-platforms.md §1.3)
PAGE_SIZE = 100  # ``/media`` page size (its maximum is unconfirmed)
MAX_MAPPING_PAGES = 20  # listing pages read to find the media ids of unknown shortcodes


class InsightsWithheld(PlatformError):
    """Instagram keeps one post's insights back (``(#10) Not enough viewers``: a story seen
    by fewer than five people): ``permission_required`` for that post, read again on
    schedule, while the account's consent stays good (not ``PermissionRequired``, which
    asks the owner to reconnect)."""

    outcome = "permission_required"


SHARED_IDS = MediaIds(capacity=200_000)


@dataclass(frozen=True, slots=True)
class _Login:
    """Which host a token reads on, and the token."""

    http: httpx.Client
    token: str
    facebook: bool


class InstagramClient:
    """The ``PlatformClient`` (and ``AccountReader``) for Instagram professional accounts."""

    platform = PLATFORM
    batch_size = BATCH_SIZE
    account_batch_size = 1  # each account reads with its own owner's token

    def __init__(
        self,
        *,
        instagram_base_url: str = "https://graph.instagram.com",
        facebook_base_url: str = "https://graph.facebook.com",
        version: str = "v25.0",
        multi_id_counters: bool = True,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
        media_ids: MediaIds | None = None,
    ) -> None:
        self._ig = make_client(instagram_base_url, transport=transport, timeout=timeout)
        self._fb = make_client(facebook_base_url, transport=transport, timeout=timeout)
        self._version = version
        self._multi = multi_id_counters
        self._user_tokens = user_tokens
        self._ids = media_ids if media_ids is not None else SHARED_IDS
        self._accounts: dict[str, str] = {}  # token digest → IG user id (Facebook Login)
        self._windows: list[RateWindow] = []
        self.requests = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> InstagramClient:
        return cls(
            instagram_base_url=settings.instagram_login_api_base_url,
            facebook_base_url=settings.instagram_api_base_url,
            version=settings.instagram_graph_version,
            multi_id_counters=settings.instagram_multi_id_counters,
            transport=transport,
            user_tokens=user_tokens,
        )

    def close(self) -> None:
        self._ig.close()
        self._fb.close()

    def __repr__(self) -> str:  # never show a token
        return f"InstagramClient(base_url={str(self._ig.base_url)!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:  # noqa: ARG002 - the protocol's
        raise Unsupported(
            "Instagram accounts connect with their owner's consent, not by handle",
            code="instagram_consent_only",
        )

    def rate_window(self) -> RateWindow | None:
        """The tightest window of the last answer (the account's or the app's)."""
        if not self._windows:
            return None
        return min(self._windows, key=lambda w: w.remaining if w.remaining is not None else 100)

    def rate_windows(self) -> list[RateWindow]:
        return list(self._windows)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        bound = parse_cursor(since_id)
        if not is_media_id(account.external_account_id):
            raise NotFound("not an Instagram account id", code="instagram_invalid_account")
        if limit <= 0:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        login = self._login(credentials)
        before = self.requests
        posts: list[DiscoveredPost] = []
        newest: str | None = None
        after: str | None = None
        seen: set[str] = set()
        done = False
        while not done and len(posts) < limit:
            params = {"fields": MEDIA_FIELDS, "limit": str(min(PAGE_SIZE, max(limit, 1)))}
            if after is not None:
                params["after"] = after
            body = self._get(login, f"{account.external_account_id}/media", params)
            data = body.get("data")
            if not isinstance(data, list):
                raise malformed("Instagram's media listing has no data list")
            for item in data:
                media_id, code, published, raw = listed_media(item)
                self._ids.put(code, media_id)
                if bound is not None and (
                    int(published.timestamp()) < bound[0] or code == bound[1]
                ):
                    done = True
                    break
                if newest is None:
                    newest = cursor(published, code)
                posts.append(discovered(code, published, raw))
                if len(posts) >= limit:
                    break
            after = _next_cursor(body)
            if not data or after is None or after in seen:
                break
            seen.add(after)
        posts.sort(key=lambda p: p.published_at, reverse=True)
        return DiscoveryPage(
            posts=posts, newest_id=newest or since_id, calls=self.requests - before
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Instagram reads at most {self.batch_size} posts per call, not {len(unique)}"
            )
        result = BatchResult(readings={}, calls=0)
        valid = []
        for post_id in unique:
            if is_media_id(post_id) or is_shortcode(post_id):
                valid.append(post_id)
            else:
                result.errors[post_id] = NotFound(
                    "not an Instagram media id or shortcode", code="instagram_invalid_id"
                )
        if not valid:
            return result
        login = self._login(credentials)
        before = self.requests
        media = self._media_ids(login, valid, result)
        insights: dict[str, dict[str, int]] = {}
        for post_id, media_id in media.items():
            try:
                insights[post_id] = self._insights(login, media_id)
            except NotFound:
                result.deleted.add(post_id)
            except (TokenRefused, RateLimited, TransientError):
                raise
            except PermissionRequired as exc:
                if "not enough viewers" not in exc.message.lower():
                    raise  # the token lacks the insights permission: reconnect
                result.errors[post_id] = InsightsWithheld(
                    "Instagram withholds this post's insights (fewer than five viewers)",
                    code="instagram_insights_withheld",
                )
            except PlatformError as exc:
                result.errors[post_id] = exc
        lacking = [p for p, v in insights.items() if "likes" not in v or "comments" not in v]
        counters = self._counters(login, {p: media[p] for p in lacking}, result)
        for post_id, values in insights.items():
            if post_id in result.deleted:
                continue
            result.readings[post_id] = reading_of(post_id, values, counters.get(post_id))
        return BatchResult(
            readings=result.readings,
            deleted=result.deleted,
            errors=result.errors,
            calls=self.requests - before,
        )

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError("Instagram reads one account per call")
        batch = AccountBatch(readings={}, calls=0)
        if not unique:
            return batch
        login = self._login(credentials)
        before = self.requests
        for account_id in unique:
            if not is_media_id(account_id):
                batch.errors[account_id] = NotFound(
                    "not an Instagram account id", code="instagram_invalid_account"
                )
                continue
            try:
                body = self._get(login, account_id, {"fields": ACCOUNT_FIELDS})
            except NotFound:
                batch.missing.add(account_id)
                continue
            batch.readings[account_id] = account_reading(account_id, body)
        return AccountBatch(
            readings=batch.readings,
            missing=batch.missing,
            errors=batch.errors,
            calls=self.requests - before,
        )

    # ---- the steps of a metrics read --------------------------------------------------

    def _media_ids(self, login: _Login, post_ids: list[str], into: BatchResult) -> dict[str, str]:
        """Each post's media id: given, remembered, or found in the account's listing (a
        shortcode it no longer lists is deleted)."""
        found: dict[str, str] = {}
        unknown: list[str] = []
        for post_id in post_ids:
            media_id = post_id if is_media_id(post_id) else self._ids.get(post_id)
            if media_id is not None:
                found[post_id] = media_id
            else:
                unknown.append(post_id)
        if unknown:
            owner = self._owner_id(login)
            wanted, after = set(unknown), None
            for _ in range(MAX_MAPPING_PAGES):
                params = {"fields": "id,shortcode,permalink,timestamp", "limit": str(PAGE_SIZE)}
                if after is not None:
                    params["after"] = after
                body = self._get(login, f"{owner}/media", params)
                data = body.get("data")
                if not isinstance(data, list):
                    raise malformed("Instagram's media listing has no data list")
                for item in data:
                    media_id, code, _published, _raw = listed_media(item)
                    self._ids.put(code, media_id)
                    if code in wanted:
                        found[code] = media_id
                        wanted.discard(code)
                after = _next_cursor(body)
                if not wanted or not data or after is None:
                    break
            into.deleted.update(wanted)
        return {p: found[p] for p in post_ids if p in found}

    def _insights(self, login: _Login, media_id: str) -> dict[str, int]:
        """One post's insights; a metric refused as "not a valid insights metric" fails the
        whole call, so then each metric is asked alone and the refused ones left out."""
        metrics = METRICS + (TOTAL_METRICS if login.facebook else ())
        path = f"{media_id}/insights"
        try:
            return insight_values(self._get(login, path, {"metric": ",".join(metrics)}))
        except PlatformError as exc:
            if not _invalid_metric(exc):
                raise
        values: dict[str, int] = {}
        for metric in metrics:
            try:
                values |= insight_values(self._get(login, path, {"metric": metric}))
            except PlatformError as exc:
                if not _invalid_metric(exc):
                    raise
        return values

    def _counters(
        self, login: _Login, media: dict[str, str], into: BatchResult
    ) -> dict[str, dict[str, Any]]:
        """``like_count`` and ``comments_count`` of posts whose insights lacked them."""
        if not media:
            return {}
        fields = "id,like_count,comments_count"
        by_media = {m: p for p, m in media.items()}
        if self._multi:
            try:
                body = self._get(login, "", {"ids": ",".join(by_media), "fields": fields})
            except (TokenRefused, RateLimited, TransientError):
                raise
            except PlatformError:  # one id is gone, or the host refuses ``?ids=``
                body = None  # read them one by one
            if body is not None:
                return {
                    post_id: entry
                    for media_id, post_id in by_media.items()
                    if isinstance(entry := body.get(media_id), dict)
                }
        counters: dict[str, dict[str, Any]] = {}
        for media_id, post_id in by_media.items():
            try:
                counters[post_id] = self._get(login, media_id, {"fields": fields})
            except NotFound:
                into.deleted.add(post_id)
        return counters

    # ---- tokens and requests ----------------------------------------------------------

    def _login(self, credentials: dict[str, Any] | None) -> _Login:
        if credentials is None:
            raise PermissionRequired(
                "Instagram is read only with its owner's consent; connect the account",
                code="instagram_user_token_missing",
            )
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermissionRequired(
                "the Instagram connection has no access token; reconnect the account",
                code="instagram_user_token_missing",
            )
        facebook = credentials.get("kind") == FACEBOOK_LOGIN
        return _Login(self._fb if facebook else self._ig, token, facebook)

    def _owner_id(self, login: _Login) -> str:
        """The IG user id of the token's owner: ``me`` on Instagram Login; on Facebook Login
        (a Page token) the Instagram account linked to the Page (remembered per token)."""
        if not login.facebook:
            return "me"
        digest = hashlib.sha256(login.token.encode()).hexdigest()
        known = self._accounts.get(digest)
        if known is None:
            known = self._accounts[digest] = linked_instagram_account(
                self._get(login, "me", {"fields": "id,instagram_business_account"})
            )
        return known

    def _get(self, login: _Login, path: str, params: dict[str, str]) -> dict[str, Any]:
        self.requests += 1
        url = f"/{self._version}/{path}"
        headers = {"Authorization": f"Bearer {login.token}"}
        response = send(login.http, "GET", url, platform=PLATFORM, params=params, headers=headers)
        now = clock.now()
        windows = usage_windows(response.headers, now)
        if windows:
            self._windows = windows
        error = classify(response, platform=PLATFORM, now=now)
        if error is not None:
            raise error
        return json_object(response, platform=PLATFORM)


def linked_instagram_account(body: dict[str, Any]) -> str:
    """The ``instagram_business_account.id`` of a Page (``GET /me`` with its token)."""
    linked = body.get("instagram_business_account")
    account_id = graph_id(linked.get("id")) if isinstance(linked, dict) else None
    if account_id is None:
        raise PermissionRequired(
            "the Facebook Page no longer has an Instagram professional account linked",
            code="instagram_no_linked_account",
        )
    return account_id


def _next_cursor(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def _invalid_metric(error: PlatformError) -> bool:
    return error.code == "instagram_error" and "valid insights metric" in error.message
