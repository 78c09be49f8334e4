"""YouTube Data API v3 client: channel lookup, uploads discovery, batched video statistics.

Calls (facts from ``reference/platform-apis.md`` §8), each costing **1 quota unit**:

- ``channels.list?part=snippet,contentDetails&forHandle=@name`` (or ``id=UC…``, or
  ``forUsername=`` for a legacy ``/user/`` URL) connects a channel: the channel id
  (``UC…``) is the external account id, the handle (``customUrl`` without its ``@``) the
  username, the title the display name.
- ``playlistItems.list?part=snippet,contentDetails,status&playlistId=UU…&maxResults=50``
  discovers new videos, newest first, following ``nextPageToken``. The uploads playlist is
  derived from the channel id (``UC…`` → ``UU…``), so an integration needs nothing more
  than its external id; when that playlist is not found, the channel is asked for its real
  ``relatedPlaylists.uploads`` once (one more unit). Reading stops at ``since_id`` (the
  newest video a previous discovery returned) and never returns more than ``limit``
  videos. Private and deleted videos are skipped. Each page's new videos get their counters
  from one ``videos.list`` call, returned as the discovered posts' readings.
- ``channels.list?part=statistics&id=<up to 50 channel ids>`` reads the channels' own
  counters (``account_batch_size`` 50, SPEC §9.4; one unit per call, counted against the
  quota as post reads are): ``subscriberCount`` (``None`` when hidden), ``videoCount``.
- ``videos.list?part=statistics&id=<up to 50 ids>`` reads counters (``batch_size`` 50):
  N due videos cost ⌈N/50⌉ units. Deleted, private and unknown videos are simply left out
  of the answer: they are reported ``deleted``.

Mapping (SPEC §2): impressions = ``viewCount`` with ``platform_data["impressions_kind"] =
"views"``; likes = ``likeCount``; comments = ``commentCount``; shares = ``None`` (the Data API
has none). Counts are decimal strings; ``likeCount`` is absent when likes are hidden and
``commentCount`` when comments are off: those are ``None``, never 0. ``platform_data`` keeps
the four statistics (``viewCount``, ``likeCount``, ``commentCount``, ``favoriteCount``, as
integers) that were present. A video whose counts are not decimal strings fails alone with
``MalformedResponse``.

The API key (``OPENPOST_YOUTUBE_API_KEY``) travels as the ``key`` query parameter, added by
the transport underneath the httpx client, so that neither the client's request (which
httpx logs at INFO with its full URL), nor our request log, nor any error carries it.
Without a key the client refuses before any call: ``PermissionRequired``
(``youtube_not_configured``), as X does without its bearer token.

Quota: ``quota()`` reports this client's units spent today (a Pacific day), the daily
allowance and the next reset (midnight America/Los_Angeles); ``youtube_quota`` holds the
arithmetic. YouTube sends no rate-limit headers, so ``rate_window()`` is always ``None``.

Errors: 403 ``quotaExceeded``/``dailyLimitExceeded`` → ``BudgetExhausted`` until the next
Pacific midnight; 403 ``rateLimitExceeded``/``userRateLimitExceeded`` and 429 →
``RateLimited`` (``Retry-After``, else a minute); a bad key (400 ``keyInvalid`` or
``API_KEY_INVALID``), ``accessNotConfigured``, key restrictions and other 401/403 →
``PermissionRequired`` with a code naming the reason; 404 → ``NotFound``; 5xx and network
failures → ``TransientError``; bodies we cannot read → ``MalformedResponse``.
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
    BatchResult,
    BudgetExhausted,
    DiscoveredPost,
    DiscoveryPage,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    RateWindow,
)
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.youtube.quota import (
    DEFAULT_DAILY_UNITS,
    IDS_PER_CALL,
    QuotaMeter,
    QuotaState,
)
from openpost.platforms.youtube.reading import (
    PLATFORM,
    UNCHARGED_CODES,
    Upload,
    channel_from,
    channel_query,
    channel_reading,
    discovery_cursor,
    http_error,
    is_channel_id,
    is_video_id,
    malformed,
    parse_cursor,
    reading,
    upload_from,
    uploads_playlist_of,
    watch_url,
)

DEFAULT_BASE_URL: str = Settings.model_fields["youtube_api_base_url"].default
CHANNEL_PARTS = "snippet,contentDetails"
PLAYLIST_PARTS = "snippet,contentDetails,status"
MAX_PAGES = 20  # a playlist of private videos only must not page forever


class YouTubeClient:
    """The ``PlatformClient`` for YouTube. One instance may serve every workspace (one key)."""

    platform = PLATFORM
    batch_size = IDS_PER_CALL
    account_batch_size = IDS_PER_CALL  # channels.list?part=statistics (SPEC §9.4)

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        daily_quota_units: int = DEFAULT_DAILY_UNITS,
    ) -> None:
        self._key = api_key.strip()
        keyed = KeyTransport(transport or httpx.HTTPTransport(), self._key)
        self._http = make_client(base_url, transport=keyed, timeout=timeout)
        self._quota = QuotaMeter(daily_quota_units)
        self.calls: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> YouTubeClient:
        return cls(
            api_key=settings.youtube_api_key,
            base_url=settings.youtube_api_base_url,
            transport=transport,
            daily_quota_units=settings.youtube_daily_quota_units,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> YouTubeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the key
        return f"YouTubeClient(base_url={self.base_url!r})"

    # ---- quota ----------------------------------------------------------------------------

    def quota(self) -> QuotaState:
        """This client's units spent today (Pacific day), the allowance and the next reset."""
        return self._quota.state(clock.now())

    @property
    def requests(self) -> int:
        """Requests sent since the client was made, answered or not."""
        return sum(self.calls.values())

    @property
    def units_spent(self) -> int:
        """Units this client spent today: what a job adds to the shared daily count."""
        return self.quota().units_spent

    # ---- PlatformClient ---------------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:
        parameter, value = channel_query(handle)
        self._require_key()
        body = self._get("channels", {"part": CHANNEL_PARTS, parameter: value})
        channel = channel_from(body, value)
        if channel is None:
            shown = value if parameter != "forUsername" else f"user/{value}"
            raise NotFound(f"YouTube has no channel {shown}", code="youtube_channel_not_found")
        return channel.account

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        del credentials  # public statistics need only the API key
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"YouTube reads at most {self.batch_size} videos per call, not {len(unique)}"
            )
        result = BatchResult(readings={}, calls=0)
        valid = []
        for video_id in unique:
            if is_video_id(video_id):
                valid.append(video_id)
            else:
                result.errors[video_id] = NotFound(
                    "not a YouTube video id (11 letters, digits, - or _)",
                    code="youtube_invalid_id",
                )
        if not valid:
            return result
        self._require_key()
        readings, errors = self._statistics(valid)
        deleted = {v for v in valid if v not in readings and v not in errors}
        return BatchResult(
            readings=readings, deleted=deleted, errors={**result.errors, **errors}, calls=1
        )

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """Subscribers and video counts of up to 50 channels in one ``channels.list``
        (one quota unit); a channel left out of the answer (terminated, unknown) is
        missing."""
        del credentials  # public statistics need only the API key
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError(
                f"YouTube reads at most {self.account_batch_size} channels per call, "
                f"not {len(unique)}"
            )
        batch = AccountBatch(readings={}, calls=0)
        valid = []
        for channel_id in unique:
            if is_channel_id(channel_id):
                valid.append(channel_id)
            else:
                batch.errors[channel_id] = NotFound(
                    "not a YouTube channel id (UC…)", code="youtube_invalid_channel"
                )
        if not valid:
            return batch
        self._require_key()
        body = self._get("channels", {"part": "statistics", "id": ",".join(valid)})
        items = body.get("items", [])
        if not isinstance(items, list):
            raise malformed("YouTube's channel answer has no list of channels")
        for item in items:
            found = item.get("id") if isinstance(item, dict) else None
            if not isinstance(found, str) or found not in valid or found in batch.readings:
                continue
            assert isinstance(item, dict)
            channel_id = found
            try:
                batch.readings[channel_id] = channel_reading(item)
            except MalformedResponse as exc:
                batch.errors[channel_id] = exc
        missing = {c for c in valid if c not in batch.readings and c not in batch.errors}
        return replace(batch, missing=missing, calls=1)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        del credentials
        since_video, since_time = parse_cursor(since_id) if since_id is not None else (None, None)
        channel_id = account.external_account_id
        if not is_channel_id(channel_id):
            raise NotFound("not a YouTube channel id (UC…)", code="youtube_invalid_account")
        if limit < 1:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        self._require_key()
        calls_before = sum(self.calls.values())
        playlist = uploads_playlist_of(channel_id)
        asked_channel = False
        posts: list[DiscoveredPost] = []
        newest: Upload | None = None  # the first new upload: the next cursor
        seen: set[str] = set()
        token: str | None = None
        tokens: set[str] = set()
        for _ in range(MAX_PAGES):
            params = {"part": PLAYLIST_PARTS, "playlistId": playlist, "maxResults": "50"}
            if token is not None:
                params["pageToken"] = token
            try:
                body = self._get("playlistItems", params)
            except NotFound:
                if asked_channel or token is not None:
                    raise
                asked_channel = True
                real = self._uploads_of(channel_id)
                if real == playlist:  # the channel has never uploaded
                    calls = sum(self.calls.values()) - calls_before
                    return DiscoveryPage(posts=[], newest_id=since_id, calls=calls)
                playlist = real
                continue
            items = body.get("items", [])
            if not isinstance(items, list):
                raise malformed("YouTube's playlist answer has no list of items")
            fresh: list[Upload] = []
            reached = False
            for item in items:
                upload = upload_from(item)
                if upload is None or upload.video_id in seen:
                    continue
                if upload.video_id == since_video or (
                    since_time is not None and upload.published_at <= since_time
                ):  # the cursor's video, or older than it (the cursor's may be deleted)
                    reached = True
                    break
                if len(posts) + len(fresh) >= limit:
                    break
                seen.add(upload.video_id)
                fresh.append(upload)
                newest = newest or upload
            posts.extend(self._discovered(fresh))
            next_token = body.get("nextPageToken")
            if reached or len(posts) >= limit or not isinstance(next_token, str) or not items:
                break
            if next_token in tokens:
                break
            tokens.add(next_token)
            token = next_token
        # The playlist's own order is YouTube's newest first; its first video is the cursor.
        newest_id = discovery_cursor(newest) if newest is not None else since_id
        calls = sum(self.calls.values()) - calls_before
        return DiscoveryPage(posts=posts, newest_id=newest_id, calls=calls)

    def rate_window(self) -> RateWindow | None:
        """YouTube sends no rate-limit headers: its limit is the daily quota (``quota()``)."""
        return None

    # ---- requests ---------------------------------------------------------------------------

    def _require_key(self) -> None:
        if not self._key:
            raise PermissionRequired(
                "no YouTube API key is configured (OPENPOST_YOUTUBE_API_KEY)",
                code="youtube_not_configured",
            )

    def _statistics(
        self, video_ids: list[str]
    ) -> tuple[dict[str, MetricReading], dict[str, MalformedResponse]]:
        """One ``videos.list?part=statistics`` call for up to 50 ids."""
        body = self._get("videos", {"part": "statistics", "id": ",".join(video_ids)})
        items = body.get("items", [])
        if not isinstance(items, list):
            raise malformed("YouTube's video answer has no list of videos")
        wanted = set(video_ids)
        readings: dict[str, MetricReading] = {}
        errors: dict[str, MalformedResponse] = {}
        for item in items:
            video_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(video_id, str) or video_id not in wanted or video_id in readings:
                continue
            assert isinstance(item, dict)
            try:
                readings[video_id] = reading(video_id, item)
            except MalformedResponse as exc:
                errors[video_id] = exc
        return readings, errors

    def _discovered(self, uploads: list[Upload]) -> list[DiscoveredPost]:
        if not uploads:
            return []
        readings, _malformed = self._statistics([u.video_id for u in uploads])
        return [
            DiscoveredPost(
                platform_post_id=upload.video_id,
                post_url=watch_url(upload.video_id),
                published_at=upload.published_at,
                content=upload.title,
                reading=readings.get(upload.video_id),
            )
            for upload in uploads
        ]

    def _uploads_of(self, channel_id: str) -> str:
        body = self._get("channels", {"part": "contentDetails", "id": channel_id})
        channel = channel_from(body, channel_id)
        if channel is None:
            raise NotFound(
                "YouTube has no such channel (deleted or terminated)",
                code="youtube_channel_not_found",
            )
        return channel.uploads

    def _get(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        now = clock.now()
        self._quota.spend(now)
        self.calls[method] = self.calls.get(method, 0) + 1
        response = send(self._http, "GET", f"/{method}", platform=PLATFORM, params=params)
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        error = http_error(response, now, secret=self._key)
        if error.code in UNCHARGED_CODES:
            self._quota.refund(now)
        if isinstance(error, BudgetExhausted):
            self._quota.mark_exhausted(now)
        raise error


class KeyTransport(httpx.BaseTransport):
    """Adds ``key=<API key>`` to each request on its way to the network, underneath the
    httpx client: the client's request, its logs and our errors never see the key."""

    def __init__(self, inner: httpx.BaseTransport, key: str) -> None:
        self._inner = inner
        self._key = key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        keyed = httpx.Request(
            request.method,
            request.url.copy_add_param("key", self._key),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        response = self._inner.handle_request(keyed)
        response.request = request
        return response

    def close(self) -> None:
        self._inner.close()
