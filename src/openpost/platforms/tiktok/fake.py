"""A faithful fake of the TikTok API v2 endpoints OpenPost reads (Display API, Login Kit).

Endpoints (``reference/gated-platforms.md`` §6): ``GET /v2/user/info/?fields=``,
``POST /v2/video/list/?fields=`` (body ``{"max_count": 1..20, "cursor": <ms>}``, newest
first, ``data.cursor`` and ``data.has_more``), ``POST /v2/video/query/?fields=`` (body
``{"filters": {"video_ids": [≤20]}}``; ids not the user's, or deleted, are left out
silently), and the Login Kit side in ``fake_oauth`` (``/v2/auth/authorize/``,
``/v2/oauth/token/`` with rotation, ``/v2/oauth/revoke/``).

Every answer is the ``{"data": …, "error": {"code", "message", "log_id"}}`` envelope:
``access_token_invalid`` (401: missing, unknown, expired or revoked token),
``scope_not_authorized`` (401: a field or endpoint the token's scopes do not cover),
``invalid_params`` (400), ``rate_limit_exceeded`` (429: each endpoint allows 600 requests
in any sliding minute; no rate headers, as TikTok sends none), ``internal_error`` (500).
Video ids are 19-digit strings whose top 32 bits are the creation time, as TikTok's are.

Tests drive a ``FakeTikTok``: add users and videos, change counters, delete videos, issue
tokens, expire or revoke them, register OAuth clients (sandbox ones with target users),
lower rate limits, and ``inject`` faults (``rate_limited``, ``token_invalid``,
``scope_not_authorized``, ``server_error`` (a 5xx), ``not_json``, ``slow``). ``requests``
logs every call for counting.

Run it as a server: ``python -m openpost.platforms.tiktok.fake --port 8086 --seed
--oauth-client KEY:SECRET:CALLBACK``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.tiktok import fake_oauth as oauth
from openpost.platforms.tiktok import fake_wire as wire

WINDOW = timedelta(minutes=1)
RATE_LIMIT = 600  # requests per endpoint in any sliding minute
PAGE_MAX = 20
QUERY_MAX = 20

Endpoint = Literal["user_info", "video_list", "video_query", "oauth_token", "oauth_revoke"]
FaultKind = Literal[
    "rate_limited", "token_invalid", "scope_not_authorized", "server_error", "not_json", "slow"
]
ENDPOINT_SCOPE: dict[Endpoint, str] = {
    "user_info": "user.info.basic",
    "video_list": "video.list",
    "video_query": "video.list",
}


@dataclass
class FakeUser:
    open_id: str
    union_id: str
    username: str
    display_name: str
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0


@dataclass
class FakeVideo:
    id: str
    open_id: str
    create_time: datetime
    title: str
    duration: int = 15
    # TikTok's own counters by their names; tests may put anything here (a string, a
    # missing key) to make the fake answer with a malformed video.
    counts: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    pinned: bool = False  # listed first on the profile's first page, out of date order [L]


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, Any]]):
    context: str  # "user:<open id>", "client" (token endpoint), "browser" or "anonymous"


class FakeTikTok(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(self, *, now: Callable[[], datetime] = clock.now) -> None:
        self.oauth = oauth.OAuthState()
        self.users: dict[str, FakeUser] = {}
        self.videos: dict[str, FakeVideo] = {}
        self.access_tokens: dict[str, oauth.AccessGrant] = {}
        self.rate_limits: dict[Endpoint, int] = dict.fromkeys(ENDPOINT_SCOPE, RATE_LIMIT)
        self._recent: dict[Endpoint, deque[datetime]] = {}
        self._sequence = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        followers: int = 0,
        following: int = 0,
        likes: int = 0,
    ) -> FakeUser:
        with self._lock:
            n = len(self.users) + 1
            user = FakeUser(
                open_id=f"-000{n:04d}-{username[:8]}-open",
                union_id=f"union-{n:04d}",
                username=username,
                display_name=display_name if display_name is not None else username.title(),
                follower_count=followers,
                following_count=following,
                likes_count=likes,
            )
            self.users[user.open_id] = user
            if self.oauth.consenting is None:
                self.oauth.consenting = user.open_id
            return user

    def add_video(
        self,
        user: FakeUser,
        *,
        created_at: datetime | None = None,
        title: str = "",
        views: int = 0,
        likes: int = 0,
        comments: int = 0,
        shares: int = 0,
    ) -> FakeVideo:
        with self._lock:
            when = (created_at or self._now()).replace(microsecond=0)
            video_id = str((int(when.timestamp()) << 32) | (next(self._sequence) & 0xFFFFFFFF))
            video = FakeVideo(
                id=video_id,
                open_id=user.open_id,
                create_time=when,
                title=title or f"video {len(self.videos) + 1} by @{user.username}",
                counts={
                    "view_count": views,
                    "like_count": likes,
                    "comment_count": comments,
                    "share_count": shares,
                },
            )
            self.videos[video.id] = video
            return video

    def set_counts(self, video_id: str, **counts: Any) -> None:
        """Change a video's counters by TikTok's names (``like_count=5``)."""
        with self._lock:
            self.videos[video_id].counts.update(counts)

    def delete_video(self, video_id: str) -> None:
        with self._lock:
            self.videos[video_id].deleted = True

    def add_oauth_client(
        self,
        client_key: str,
        client_secret: str,
        *redirect_uris: str,
        pkce: bool = True,
        sandbox: bool = False,
        target_users: tuple[FakeUser, ...] = (),
    ) -> oauth.OAuthClient:
        """Register an app (its client key, secret and redirect URIs); a sandbox app lets
        only its ``target_users`` consent."""
        with self._lock:
            client = oauth.OAuthClient(
                client_key,
                client_secret,
                tuple(redirect_uris),
                pkce=pkce,
                sandbox=sandbox,
                target_users={u.open_id for u in target_users},
            )
            self.oauth.clients[client_key] = client
            return client

    def set_consent(self, consent: oauth.Consent, user: FakeUser | None = None) -> None:
        """What the consent page does: ``approve`` as ``user`` (kept if not given), ``deny``,
        or ``ask`` (a page listing the test users)."""
        with self._lock:
            self.oauth.consent = consent
            if user is not None:
                self.oauth.consenting = user.open_id

    def issue_tokens(
        self, user: FakeUser, *, client_key: str, scope: str = "user.info.basic,video.list"
    ) -> dict[str, Any]:
        """Tokens as the token endpoint would issue them, without the consent round trip."""
        with self._lock:
            return oauth.issue(self, user.open_id, client_key, scope)

    def expire_token(self, access_token: str) -> None:
        """TikTok stops taking the access token (as if its two hours were over)."""
        with self._lock:
            self.access_tokens[access_token].expires_at = self._now()

    def revoke_user(self, open_id: str) -> None:
        """The user removed the app: every access and refresh token of theirs dies."""
        with self._lock:
            for grant in self.access_tokens.values():
                if grant.open_id == open_id:
                    grant.revoked = True
            for refresh in self.oauth.refresh_tokens.values():
                if refresh.open_id == open_id:
                    refresh.used = True

    def set_rate_limit(self, endpoint: Endpoint, limit: int) -> None:
        """Change one endpoint's per-minute limit (requests already made keep counting)."""
        with self._lock:
            self.rate_limits[endpoint] = limit

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/v2/auth/authorize/", self.handle_authorize, methods=["GET"]),
            Route("/v2/oauth/token/", self.handle_token, methods=["POST"]),
            Route("/v2/oauth/revoke/", self.handle_revoke, methods=["POST"]),
            Route("/v2/user/info/", self.handle_user_info, methods=["GET"]),
            Route("/v2/video/list/", self.handle_video_list, methods=["POST"]),
            Route("/v2/video/query/", self.handle_video_query, methods=["POST"]),
        ]

    def _not_found(self) -> Response:
        return wire.error("invalid_params", "The API path is not found.", self._now(), status=404)

    async def handle_authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        with self._lock:
            response = oauth.authorize(self, params)
            shown = {k: v for k, v in params.items() if k in ("client_key", "scope", "user")}
            record = RecordedRequest(
                "authorize", request.url.path, shown, response.status_code, "browser"
            )
            self.requests.append(record)
        return response

    async def handle_token(self, request: Request) -> Response:
        form = await _form(request)
        return await self._form_endpoint(request, "oauth_token", form, oauth.token)

    async def handle_revoke(self, request: Request) -> Response:
        form = await _form(request)
        return await self._form_endpoint(request, "oauth_revoke", form, oauth.revoke)

    async def _form_endpoint(
        self,
        request: Request,
        endpoint: Endpoint,
        form: dict[str, str],
        serve: Callable[[FakeTikTok, dict[str, str]], Response],
    ) -> Response:
        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            if fault is not None and fault.fails:
                response = self._fault_response(fault)
            else:
                response = serve(self, form)
            params = {"grant_type": form.get("grant_type", "")}  # never a code or a token
            record = RecordedRequest(
                endpoint, request.url.path, params, response.status_code, "client"
            )
            return response, record

        return await self._serve(endpoint, answer)

    async def handle_user_info(self, request: Request) -> Response:
        return await self._api(request, "user_info", None)

    async def handle_video_list(self, request: Request) -> Response:
        return await self._api(request, "video_list", await request.body())

    async def handle_video_query(self, request: Request) -> Response:
        return await self._api(request, "video_query", await request.body())

    async def _api(self, request: Request, endpoint: Endpoint, body: bytes | None) -> Response:
        with self._lock:
            grant = self._grant(request.headers.get("authorization"))
        parsed = _json(body) if body is not None else {}

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._answer(request, endpoint, grant, parsed, fault)
            logged: dict[str, Any] = {"fields": request.query_params.get("fields", "")}
            if isinstance(parsed, dict):
                filters = parsed.get("filters")
                if isinstance(filters, dict) and isinstance(filters.get("video_ids"), list):
                    logged["video_ids"] = list(filters["video_ids"])
                for name in ("max_count", "cursor"):
                    if name in parsed:
                        logged[name] = parsed[name]
            context = f"user:{grant.open_id}" if grant is not None else "anonymous"
            path, status = request.url.path, response.status_code
            return response, RecordedRequest(endpoint, path, logged, status, context)

        return await self._serve(endpoint if grant is not None else None, answer)

    def _grant(self, authorization: str | None) -> oauth.AccessGrant | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        grant = self.access_tokens.get(token)
        if grant is None or grant.revoked or self._now() >= grant.expires_at:
            return None
        return grant

    def _fault_response(self, fault: Fault[FaultKind, Endpoint]) -> Response:
        return wire.fault_response(fault.kind, fault.status, self._now())

    def _answer(
        self,
        request: Request,
        endpoint: Endpoint,
        grant: oauth.AccessGrant | None,
        body: Any,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> Response:
        now = self._now()
        if grant is None:
            message = "The access token is invalid or not found in the request."
            return wire.error("access_token_invalid", message, now)
        if fault is not None and fault.fails:
            return self._fault_response(fault)
        if not self._within_rate(endpoint, now):
            return wire.error("rate_limit_exceeded", "API rate limit exceeded.", now)
        if ENDPOINT_SCOPE[endpoint] not in grant.scopes:
            return _scope_error(now)
        user = self.users[grant.open_id]
        raw_fields = request.query_params.get("fields")
        if endpoint == "user_info":
            fields = wire.fields_of(raw_fields, set(wire.USER_FIELD_SCOPES))
            if isinstance(fields, str):
                return wire.error("invalid_params", fields, now)
            if any(wire.USER_FIELD_SCOPES[f] not in grant.scopes for f in fields):
                return _scope_error(now)
            count = sum(
                1 for v in self.videos.values() if v.open_id == user.open_id and not v.deleted
            )
            return wire.envelope({"user": wire.render_user(user, count, fields)}, now)
        fields = wire.fields_of(raw_fields, wire.VIDEO_FIELDS)
        if isinstance(fields, str):
            return wire.error("invalid_params", fields, now)
        if not isinstance(body, dict):
            return wire.error("invalid_params", "The request body is not valid JSON.", now)
        if endpoint == "video_list":
            return self._video_list(user, fields, body, now)
        return self._video_query(user, fields, body, now)

    def _within_rate(self, endpoint: Endpoint, now: datetime) -> bool:
        recent = self._recent.setdefault(endpoint, deque())
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if len(recent) >= self.rate_limits.get(endpoint, RATE_LIMIT):
            return False
        recent.append(now)
        return True

    def _video_list(
        self, user: FakeUser, fields: list[str], body: dict[str, Any], now: datetime
    ) -> Response:
        max_count, cursor = body.get("max_count", 10), body.get("cursor")
        if type(max_count) is not int or not 1 <= max_count <= PAGE_MAX:
            return wire.error("invalid_params", "max_count must be between 1 and 20.", now)
        if cursor is not None and (type(cursor) is not int or cursor < 0):
            return wire.error("invalid_params", "cursor must be an int64 timestamp in ms.", now)
        mine = sorted(
            (v for v in self.videos.values() if v.open_id == user.open_id and not v.deleted),
            key=lambda v: int(v.id),
            reverse=True,
        )
        if cursor is not None:
            mine = [v for v in mine if _ms(v.create_time) < cursor and not v.pinned]
        else:  # the first page leads with the pinned videos
            mine = [v for v in mine if v.pinned] + [v for v in mine if not v.pinned]
        page, rest = mine[:max_count], mine[max_count:]
        videos = [wire.render_video(v, user.username, fields) for v in page]
        next_cursor = _ms(page[-1].create_time) if page else (cursor or 0)
        data = {"videos": videos, "cursor": next_cursor, "has_more": bool(rest)}
        return wire.envelope(data, now)

    def _video_query(
        self, user: FakeUser, fields: list[str], body: dict[str, Any], now: datetime
    ) -> Response:
        filters = body.get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return wire.error("invalid_params", "filters.video_ids is required.", now)
        if len(ids) > QUERY_MAX:
            return wire.error("invalid_params", "video_ids can contain at most 20 ids.", now)
        videos = []
        for video_id in dict.fromkeys(ids):
            video = self.videos.get(video_id)
            if video is None or video.deleted or video.open_id != user.open_id:
                continue  # left out silently, as TikTok does
            videos.append(wire.render_video(video, user.username, fields))
        return wire.envelope({"videos": videos, "cursor": 0, "has_more": False}, now)


def _scope_error(now: datetime) -> Response:
    message = "The user did not authorize the scope required for completing this request."
    return wire.error("scope_not_authorized", message, now)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeTikTok, *, posts: int = 30) -> FakeUser:
    """A small, deterministic world: @openpost with ``posts`` videos (one every 6 hours,
    newest first) and a second test user, @second_creator, with two."""
    user = state.add_user("openpost", display_name="OpenPost", followers=1200, following=80)
    now = state.now()
    for n in range(posts):
        plays = 20_000 // (n + 1) + 300 * (posts - n)
        state.add_video(
            user,
            created_at=now - timedelta(hours=6 * n + 1),
            title=f"Seeded video #{posts - n}",
            views=plays,
            likes=plays // 12,
            comments=plays // 150,
            shares=plays // 90,
        )
    user.likes_count = sum(v.counts["like_count"] for v in state.videos.values())
    other = state.add_user("second_creator", display_name="Second Creator", followers=40)
    for n in range(2):
        state.add_video(other, created_at=now - timedelta(days=n + 1), views=100 * (n + 1))
    return user


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake TikTok API v2 server.",
        port=8086,
        seed_help="create @openpost with videos and a second test user",
        seed_default=30,
    )
    parser.add_argument(
        "--oauth-client",
        metavar="KEY:SECRET:CALLBACK",
        help="register a Login Kit client (a sandbox whose target users are the seeded ones)",
    )
    parser.add_argument(
        "--ask", action="store_true", help="show the consent page instead of approving at once"
    )
    args = parser.parse_args(argv)
    state = FakeTikTok()
    owner = seed(state, posts=args.seed_posts) if args.seed else None
    if args.oauth_client:
        key, secret, callback = args.oauth_client.split(":", 2)
        users = tuple(state.users.values())
        state.add_oauth_client(key, secret, callback, sandbox=True, target_users=users)
        state.set_consent("ask" if args.ask else "approve", owner)
    base.run_server(state.app, args, "fake TikTok API", "/v2/")


if __name__ == "__main__":
    main()
