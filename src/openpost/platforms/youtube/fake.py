"""A faithful fake of the YouTube Data API v3 methods OpenPost reads.

Methods (all ``GET /youtube/v3/<resource>``): ``channels.list`` (``id``, ``forHandle``,
``forUsername``), ``playlistItems.list`` (an uploads playlist, newest first, paged with
``maxResults`` ≤ 50 and ``nextPageToken``) and ``videos.list`` (up to 50 comma-separated ids;
deleted, private and unknown videos silently left out), with the resources' shapes (counts
as decimal strings, ``likeCount`` absent when likes are hidden, ``commentCount`` absent when
comments are off; a private video in a playlist shows as "Private video" without
``videoPublishedAt``), and Google's error envelope
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``:
a missing ``part``, an unknown part, a bad ``maxResults``, a bad page token, more than 50
ids, no filter or two filters (400); an unknown or missing key (400 ``keyInvalid`` or, in the
newer style, ``badRequest`` with ``API_KEY_INVALID`` details; 403 ``forbidden``); an unknown
playlist (404 ``playlistNotFound``).

Quota: every request with a valid key costs 1 unit (invalid requests too); once the day's
units (``daily_quota``, 10,000 by default) are spent, every request is 403
``quotaExceeded`` until midnight Pacific time by the fake's clock.

Tests drive a ``FakeYouTube``: add channels and videos, change statistics (or put anything in
them), hide likes, turn comments off, make videos private, remove them, terminate channels,
lower the quota, and ``inject`` faults (5xx, 403 ``rateLimitExceeded``/
``userRateLimitExceeded``, 429, ``quotaExceeded``, ``dailyLimitExceeded``,
``accessNotConfigured``, ``forbidden``, slow answers, non-JSON or wrong-shaped bodies).
``requests`` logs every call (without the key) for counting.

Run it as a server: ``python -m openpost.platforms.youtube.fake --port 8084 --seed``
(base URL ``http://127.0.0.1:8084/youtube/v3``, key ``fake-youtube-api-key``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.youtube import fake_wire as wire
from openpost.platforms.youtube.quota import DEFAULT_DAILY_UNITS, quota_day

DEFAULT_API_KEY = "fake-youtube-api-key"
BASE_PATH = "/youtube/v3"
MAX_IDS = 50
MAX_RESULTS = 50

Endpoint = Literal["channels.list", "playlistItems.list", "videos.list"]
ENDPOINTS: dict[str, Endpoint] = {
    "channels": "channels.list",
    "playlistItems": "playlistItems.list",
    "videos": "videos.list",
}
FaultKind = Literal[
    "server_error", "rate_limited", "user_rate_limited", "too_many_requests", "quota_exceeded",
    "daily_limit", "access_not_configured", "forbidden", "not_json", "wrong_shape", "slow",
]  # fmt: skip
Privacy = Literal["public", "unlisted", "private"]
KeyStyle = Literal["keyInvalid", "API_KEY_INVALID"]


@dataclass
class FakeChannel:
    id: str
    handle: str | None
    title: str
    created_at: datetime
    uploads_id: str
    username: str | None = None
    terminated: bool = False
    # The channel's own statistics (``channels.list?part=statistics``, SPEC §9.4).
    subscribers: int = 0
    views: int = 0
    hidden_subscribers: bool = False


@dataclass
class FakeVideo:
    id: str
    channel_id: str
    title: str
    description: str
    published_at: datetime
    # YouTube's statistics as YouTube writes them: decimal strings. Tests may put anything
    # in here (a number, a word, a missing key) to make the fake answer with a malformed video.
    statistics: dict[str, Any] = field(default_factory=dict)
    privacy: Privacy = "public"
    removed: bool = False
    duration: str = "PT4M13S"


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    """``endpoint`` is "channels.list", "playlistItems.list", "videos.list" (or the bad
    path's resource); ``params`` leave the key out."""

    cost: int  # quota units charged
    keyed: bool  # whether a valid key came with it


class FakeYouTube(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process.

    ``inject`` as on every fake, except that ``rate_limited`` answers 403 unless another
    ``status`` is given, and injected failures cost no quota.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        daily_quota: int = DEFAULT_DAILY_UNITS,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.api_keys = {api_key}
        self.key_style: KeyStyle = "keyInvalid"
        self.daily_quota = daily_quota
        self.channels: dict[str, FakeChannel] = {}
        self.videos: dict[str, FakeVideo] = {}
        self._quota_day: date | None = None
        self._quota_used = 0
        self._serial = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_channel(
        self,
        handle: str | None,
        *,
        title: str | None = None,
        channel_id: str | None = None,
        username: str | None = None,
        uploads_id: str | None = None,
    ) -> FakeChannel:
        """A channel; ``handle`` without its ``@`` (``None``: a channel without a handle)."""
        with self._lock:
            seed = handle or f"channel-{len(self.channels) + 1}"
            ident = channel_id or wire.channel_id_for(seed)
            channel = FakeChannel(
                id=ident,
                handle=handle.removeprefix("@") if handle else None,
                title=title if title is not None else seed.capitalize(),
                created_at=datetime(2015, 3, 1, tzinfo=UTC) + timedelta(days=len(self.channels)),
                uploads_id=uploads_id or wire.uploads_id_for(ident),
                username=username,
            )
            self.channels[channel.id] = channel
            return channel

    def add_video(
        self,
        channel: FakeChannel,
        *,
        title: str = "",
        published_at: datetime | None = None,
        video_id: str | None = None,
        views: int = 0,
        likes: int = 0,
        comments: int = 0,
        likes_hidden: bool = False,
        comments_disabled: bool = False,
        privacy: Privacy = "public",
    ) -> FakeVideo:
        with self._lock:
            serial = next(self._serial)
            statistics: dict[str, Any] = {"viewCount": str(views)}
            if not likes_hidden:
                statistics["likeCount"] = str(likes)
            statistics["favoriteCount"] = "0"
            if not comments_disabled:
                statistics["commentCount"] = str(comments)
            video = FakeVideo(
                id=video_id or wire.video_id_for(f"{channel.id}:{serial}"),
                channel_id=channel.id,
                title=title or f"Video {serial} on {channel.title}",
                description=f"Description of video {serial}",
                published_at=published_at or self._now(),
                statistics=statistics,
                privacy=privacy,
            )
            self.videos[video.id] = video
            return video

    def set_stats(self, video_id: str, **statistics: Any) -> None:
        """Change a video's statistics by YouTube's names, written as given: YouTube writes
        decimal strings (``viewCount="12"``); anything else makes a malformed answer."""
        with self._lock:
            self.videos[video_id].statistics.update(statistics)

    def hide_likes(self, video_id: str) -> None:
        with self._lock:
            self.videos[video_id].statistics.pop("likeCount", None)

    def disable_comments(self, video_id: str) -> None:
        with self._lock:
            self.videos[video_id].statistics.pop("commentCount", None)

    def set_privacy(self, video_id: str, privacy: Privacy) -> None:
        with self._lock:
            self.videos[video_id].privacy = privacy

    def remove_video(self, video_id: str) -> None:
        """Deleted by its owner or taken down: gone from every answer."""
        with self._lock:
            self.videos[video_id].removed = True

    def terminate_channel(self, channel: FakeChannel) -> None:
        with self._lock:
            channel.terminated = True

    def set_daily_quota(self, units: int) -> None:
        """Units allowed per Pacific day (what was spent today still counts)."""
        with self._lock:
            self.daily_quota = units

    def exhaust_quota(self) -> None:
        """Spend what is left of today's quota."""
        with self._lock:
            self._roll()
            self._quota_used = max(self._quota_used, self.daily_quota)

    @property
    def quota_used(self) -> int:
        with self._lock:
            self._roll()
            return self._quota_used

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [base.route(BASE_PATH + "/{resource}", self.handle)]

    def _not_found(self) -> Response:
        return wire.error(404, "notFound", "Not Found")

    def _roll(self) -> None:
        day = quota_day(self._now())
        if day != self._quota_day:
            self._quota_day, self._quota_used = day, 0

    async def handle(self, request: Request) -> Response:
        resource = request.path_params["resource"]
        endpoint = ENDPOINTS.get(resource)
        key = request.query_params.get("key")
        keyed = key in self.api_keys
        params = {k: v for k, v in request.query_params.items() if k != "key"}

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response, cost = self._answer(endpoint, params, key, fault)
            self._quota_used += cost
            path, status = request.url.path, response.status_code
            record = RecordedRequest(endpoint or resource, path, params, status, cost, keyed)
            return response, record

        return await self._serve(endpoint if keyed else None, answer)

    def _answer(
        self,
        endpoint: Endpoint | None,
        params: dict[str, str],
        key: str | None,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> tuple[Response, int]:
        if not key:
            return wire.key_missing(), 0
        if key not in self.api_keys:
            return wire.key_invalid(self.key_style), 0
        if fault is not None and fault.fails:
            return wire.fault_response(fault.kind, status=fault.status), 0
        self._roll()
        if self._quota_used >= self.daily_quota:
            return wire.quota_exceeded(), 0
        if endpoint is None:  # not a YouTube method: Google's front end answers, for free
            return wire.error(404, "notFound", "Not Found"), 0
        if endpoint == "channels.list":
            answer = self._channels(params)
        elif endpoint == "playlistItems.list":
            answer = self._playlist_items(params)
        else:
            answer = self._videos(params)
        if isinstance(answer, Response):
            return answer, 1
        return JSONResponse(answer), 1

    def _channels(self, params: dict[str, str]) -> dict[str, Any] | Response:
        parts, problem = wire.check_parts(params.get("part"), wire.CHANNEL_PARTS)
        if problem is not None:
            return problem
        filters = [f for f in ("id", "forHandle", "forUsername", "mine") if f in params]
        if not filters:
            message = "No filter selected. Expected one of: forUsername, id, forHandle, mine"
            return wire.invalid("missingRequiredParameter", message, "parameters")
        if len(filters) > 1:
            message = "Incompatible parameters specified in the request: " + ", ".join(filters)
            return wire.invalid("incompatibleParameters", message, "parameters")
        if filters[0] == "mine":
            return wire.error(401, "required", "Login Required.")
        visible = [c for c in self.channels.values() if not c.terminated]
        if "id" in params:
            wanted = [i for i in params["id"].split(",") if i]
            if len(wanted) > MAX_IDS:
                message = (
                    f"The request specifies {len(wanted)} channel ids; "
                    f"at most {MAX_IDS} are allowed."
                )
                return wire.invalid("badRequest", message, "id")
            found = [c for i in dict.fromkeys(wanted) for c in visible if c.id == i]
        elif "forHandle" in params:
            handle = params["forHandle"].removeprefix("@").lower()
            found = [c for c in visible if c.handle is not None and c.handle.lower() == handle]
        else:
            name = params["forUsername"].lower()
            found = [c for c in visible if c.username is not None and c.username.lower() == name]
        items = [wire.render_channel(c, parts, self._upload_count(c)) for c in found]
        return wire.list_response(
            "youtube#channelListResponse", items, total=len(items), per_page=5
        )

    def _upload_count(self, channel: FakeChannel) -> int:
        return sum(
            v.channel_id == channel.id and not v.removed and v.privacy == "public"
            for v in self.videos.values()
        )

    def _playlist_items(self, params: dict[str, str]) -> dict[str, Any] | Response:
        parts, problem = wire.check_parts(params.get("part"), wire.PLAYLIST_ITEM_PARTS)
        if problem is not None:
            return problem
        playlist_id = params.get("playlistId")
        if not playlist_id and "id" not in params:
            message = "No filter selected. Expected one of: playlistId, id"
            return wire.invalid("missingRequiredParameter", message, "parameters")
        if not playlist_id:
            return wire.invalid("invalidParameter", "Only playlistId is supported here", "id")
        raw = params.get("maxResults", "5")
        if not raw.isdigit() or not 0 <= int(raw) <= MAX_RESULTS:
            message = f"Invalid value '{raw}'. Values must be within the range: [0, 50]"
            return wire.invalid("invalidParameter", message, "maxResults")
        per_page = int(raw)
        offset = 0
        if "pageToken" in params:
            decoded = wire.decode_token(params["pageToken"])
            if decoded is None:
                message = "The request specifies an invalid page token."
                return wire.invalid("invalidPageToken", message, "pageToken", domain="youtube")
            offset = decoded
        channel = next((c for c in self.channels.values() if c.uploads_id == playlist_id), None)
        if channel is None or channel.terminated:
            message = (
                "The playlist identified with the request's playlistId parameter cannot be found."
            )
            return wire.error(404, "playlistNotFound", message, domain="youtube.playlistItem")
        uploads = sorted(
            (v for v in self.videos.values() if v.channel_id == channel.id and not v.removed),
            key=lambda v: (v.published_at, v.id),
            reverse=True,
        )
        page = uploads[offset : offset + per_page]
        items = [
            wire.render_playlist_item(video, channel, playlist_id, offset + n, parts)
            for n, video in enumerate(page)
        ]
        more = offset + per_page < len(uploads) and per_page > 0
        return wire.list_response(
            "youtube#playlistItemListResponse",
            items,
            total=len(uploads),
            per_page=per_page,
            nextPageToken=wire.encode_token(offset + per_page) if more else None,
            prevPageToken=wire.encode_token(max(offset - per_page, 0)) if offset else None,
        )

    def _videos(self, params: dict[str, str]) -> dict[str, Any] | Response:
        parts, problem = wire.check_parts(params.get("part"), wire.VIDEO_PARTS)
        if problem is not None:
            return problem
        if "id" not in params:
            message = "No filter selected. Expected one of: chart, id, myRating"
            return wire.invalid("missingRequiredParameter", message, "parameters")
        if "maxResults" in params:
            message = "The maxResults parameter cannot be used with the id parameter."
            return wire.invalid("incompatibleParameters", message, "maxResults")
        ids = [i for i in params["id"].split(",") if i]
        if len(ids) > MAX_IDS:
            message = f"The request specifies {len(ids)} video ids; at most {MAX_IDS} are allowed."
            return wire.invalid("badRequest", message, "id")
        items = []
        for video_id in dict.fromkeys(ids):
            video = self.videos.get(video_id)
            if video is None or video.removed or video.privacy == "private":
                continue
            channel = self.channels[video.channel_id]
            if channel.terminated:
                continue
            items.append(wire.render_video(video, channel, parts))
        return wire.list_response(
            "youtube#videoListResponse", items, total=len(items), per_page=len(items)
        )


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeYouTube, *, videos: int = 30) -> FakeChannel:
    """A small, deterministic world: ``@openpost`` with ``videos`` public videos (one every
    8 hours, newest first), one with likes hidden, one with comments off, a private one and
    a removed one; ``@quietchannel`` without uploads; a terminated channel."""
    channel = state.add_channel("openpost", title="OpenPost")
    now = state.now()
    made = []
    for n in range(videos):
        views = 90_000 // (n + 1) + 120 * (videos - n)
        made.append(
            state.add_video(
                channel,
                title=f"Seeded video #{videos - n}",
                published_at=now - timedelta(hours=8 * n + 2),
                views=views,
                likes=views // 30,
                comments=views // 400,
            )
        )
    if len(made) >= 2:
        state.hide_likes(made[0].id)
        state.disable_comments(made[1].id)
    hidden = state.add_video(
        channel, title="Unlisted later", published_at=now - timedelta(hours=5), views=10
    )
    state.set_privacy(hidden.id, "private")
    gone = state.add_video(channel, title="Taken down", published_at=now - timedelta(hours=7))
    state.remove_video(gone.id)
    state.add_channel("quietchannel", title="Quiet Channel")
    banned = state.add_channel("terminatedchannel", title="Terminated")
    state.add_video(banned, title="Before the ban", published_at=now - timedelta(days=3))
    state.terminate_channel(banned)
    return channel


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake YouTube Data API v3 server.",
        port=8084,
        seed_help="create @openpost and its videos",
        seed_count="videos",
        seed_default=30,
    )
    parser.add_argument("--key", default=DEFAULT_API_KEY, help="the API key it accepts")
    parser.add_argument("--daily-quota", type=int, default=DEFAULT_DAILY_UNITS)
    args = parser.parse_args(argv)
    state = FakeYouTube(api_key=args.key, daily_quota=args.daily_quota)
    if args.seed:
        seed(state, videos=args.seed_videos)
    base.run_server(state.app, args, "fake YouTube Data API", BASE_PATH)


if __name__ == "__main__":
    main()
