"""A faithful fake of the Threads API (graph.threads.net, v1.0) as OpenPost reads it.

Endpoints: ``GET /v1.0/me`` and ``/v1.0/{user}`` (profile fields), ``GET
/v1.0/{user|me}/threads`` (the user's posts, newest first, ``fields``, ``limit`` ≤ 100,
``since``/``until`` in Unix time with ``since`` ≥ 1688540400, cursors ``after``/``before``,
never both), ``GET /v1.0/{media}/insights?metric=…`` (lifetime values; ``views`` and
``shares`` can be switched off as "in development"; a repost facade has empty ``data``),
``GET /v1.0/{user}/threads_insights?metric=followers_count`` (``total_value``), and the
consent side (``fake_oauth``: ``/oauth/authorize``, ``POST /oauth/access_token``,
``/access_token``, ``/refresh_access_token``).

Every API call needs a valid token (``Authorization: Bearer`` or ``access_token=``): an
unknown, expired or revoked one is 190; insights without ``threads_manage_insights`` are
code 10 as HTTP 500 (as Threads has sent it); a deleted or foreign post is 100/33; an
unknown metric is 100. Each app-user pair has a 24-hour window (``set_rate_limit``),
reported in ``X-Business-Use-Case-Usage``; when spent, code 17 with the minutes to regain.
Faults (``inject``): ``server_error`` (Graph code 1 as HTTP 500), ``bad_gateway`` (HTML),
``throttled`` (code 4 with a regain time), ``token_expired`` (190/463), ``permission``
(code 10 as HTTP 500), ``not_json``, ``slow``.

Run it as a server: ``python -m openpost.platforms.threads.fake --port 8086 --seed``.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.threads import fake_oauth as oauth
from openpost.platforms.threads import fake_wire as wire

WINDOW = timedelta(hours=24)
DEFAULT_LIMIT = 4800 * 10  # 4800 calls per impression, impressions floored at 10
SINCE_MIN = 1688540400
SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

Endpoint = Literal[
    "oauth_token", "long_lived", "refresh", "me", "profile", "threads", "insights", "user_insights"
]  # fmt: skip
FaultKind = Literal[
    "server_error", "bad_gateway", "throttled", "token_expired", "permission", "not_json", "slow"
]  # fmt: skip


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers: int = 0
    tester: bool = True  # an accepted Threads tester of the app (before App Review)


@dataclass
class FakeMedia:
    id: str
    owner_id: str
    shortcode: str
    text: str
    created_at: datetime
    media_type: str = "TEXT_POST"
    # Threads' metric names → values; tests may put anything here (a string: malformed).
    metrics: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    copyright_flagged: bool = False
    insights_ready: bool = True


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    context: str  # the token's user id, "client" (token endpoints) or "anonymous"
    object_id: str = ""  # the user or media id in the path


class FakeThreads(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(self, *, now: Callable[[], datetime] = clock.now, seed: int = 7) -> None:
        self.oauth = oauth.OAuthState()
        self.tokens: dict[str, oauth.Token] = {}
        self.users: dict[str, FakeUser] = {}
        self.media: dict[str, FakeMedia] = {}
        self.missing_metrics: set[str] = set()  # "in development": left out of answers
        self.refused_metrics: set[str] = set()  # asking for one fails the call (code 100)
        self.rate_limit = DEFAULT_LIMIT
        self.refreshes = 0
        self._windows = base.RateWindows[str](WINDOW)
        self._random = random.Random(seed)  # noqa: S311 - shortcodes, not secrets
        self._ids = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_user(
        self, username: str, *, name: str | None = None, followers: int = 0, tester: bool = True
    ) -> FakeUser:
        with self._lock:
            user_id = str(17_841_400_000_000_000 + next(self._ids))
            user = FakeUser(user_id, username, name or username.capitalize(), followers, tester)
            self.users[user_id] = user
            return user

    def add_media(
        self,
        user: FakeUser,
        *,
        created_at: datetime | None = None,
        text: str = "",
        media_type: str = "TEXT_POST",
        views: int = 0,
        likes: int = 0,
        replies: int = 0,
        reposts: int = 0,
        quotes: int = 0,
        shares: int = 0,
    ) -> FakeMedia:
        with self._lock:
            media_id = str(18_000_000_000_000_000 + 7919 * next(self._ids))
            media = FakeMedia(
                id=media_id,
                owner_id=user.id,
                shortcode=self._shortcode(),
                text=text or f"thread {len(self.media) + 1} by @{user.username}",
                created_at=created_at or self._now(),
                media_type=media_type,
                metrics={
                    "views": views,
                    "likes": likes,
                    "replies": replies,
                    "reposts": reposts,
                    "quotes": quotes,
                    "shares": shares,
                },
            )
            self.media[media_id] = media
            return media

    def set_metrics(self, media_id: str, **metrics: Any) -> None:
        with self._lock:
            self.media[media_id].metrics.update(metrics)

    def delete_media(self, media_id: str) -> None:
        with self._lock:
            self.media[media_id].deleted = True

    def by_shortcode(self, shortcode: str) -> FakeMedia:
        return next(m for m in self.media.values() if m.shortcode == shortcode)

    def add_app(self, client_id: str, client_secret: str, *redirect_uris: str) -> None:
        with self._lock:
            self.oauth.apps[client_id] = oauth.App(client_id, client_secret, tuple(redirect_uris))

    def set_consent(self, consent: oauth.Consent, user: FakeUser | None = None) -> None:
        with self._lock:
            self.oauth.consent = consent
            if user is not None:
                self.oauth.consenting = user.id

    def issue_token(
        self,
        user: FakeUser,
        *,
        client_id: str,
        scopes: tuple[str, ...] = ("threads_basic", "threads_manage_insights"),
        age: timedelta = timedelta(0),
    ) -> dict[str, Any]:
        """A long-lived token as if issued ``age`` ago (no consent round trip)."""
        with self._lock:
            lifetime = timedelta(seconds=oauth.LONG_LIFETIME_SECONDS)
            token = self.mint(user.id, client_id, frozenset(scopes), lifetime=lifetime, long=True)
            issued = self.tokens[token]
            issued.issued_at -= age
            issued.expires_at -= age
            return {"access_token": token, "expires_at": issued.expires_at}

    def revoke(self, token: str) -> None:
        """The owner removed the app in Threads' settings: the token stops working."""
        with self._lock:
            self.tokens[token].revoked = True

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens[token].expires_at = self._now()

    def set_rate_limit(self, limit: int) -> None:
        """Calls per app-user pair per 24 hours; a new window opens with the next call."""
        with self._lock:
            self.rate_limit = limit
            self._windows.forget()

    # ---- tokens (under the lock) -------------------------------------------------------

    def mint(
        self,
        user_id: str,
        client_id: str,
        scopes: frozenset[str],
        *,
        lifetime: timedelta,
        long: bool,
    ) -> str:
        access = "TH" + secrets.token_urlsafe(40)
        now = self._now()
        self.tokens[access] = oauth.Token(user_id, client_id, scopes, now, now + lifetime, long)
        return access

    def valid_token(self, access: str) -> oauth.Token | None:
        token = self.tokens.get(access)
        if token is None or token.revoked or self._now() >= token.expires_at:
            return None
        return token

    def _shortcode(self) -> str:
        while True:
            code = "D" + "".join(self._random.choice(SHORTCODE_ALPHABET) for _ in range(10))
            if not any(m.shortcode == code for m in self.media.values()):
                return code

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        paths: dict[str, Endpoint] = {
            "/v1.0/me": "me",
            "/v1.0/{object_id}": "profile",
            "/v1.0/{object_id}/threads": "threads",
            "/v1.0/{object_id}/insights": "insights",
            "/v1.0/{object_id}/threads_insights": "user_insights",
            "/access_token": "long_lived",
            "/refresh_access_token": "refresh",
        }
        return [
            Route("/oauth/authorize", self.handle_authorize, methods=["GET"]),
            Route("/oauth/access_token", self.handle_exchange, methods=["POST"]),
            *base.endpoint_routes(self.handle, paths),
        ]

    def _not_found(self) -> Response:
        return wire.api_error(100, "Unknown path components")

    async def handle_authorize(self, request: Request) -> Response:
        with self._lock:
            response = oauth.authorize(self, request)
            self.requests.append(
                RecordedRequest("authorize", request.url.path, {}, response.status_code, "browser")
            )
        return response

    async def handle_exchange(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._fault(fault) if fault and fault.fails else oauth.exchange(self, form)
            params = {"grant_type": form.get("grant_type", "")}  # never the code or secret
            return response, RecordedRequest(
                "oauth_token", request.url.path, params, response.status_code, "client"
            )

        return await self._serve("oauth_token", answer)

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        params = dict(request.query_params)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        access = bearer or params.pop("access_token", "")
        params.pop("access_token", None)
        secret = params.pop("client_secret", "")
        object_id = request.path_params.get("object_id", "")

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            token = self.valid_token(access)
            if fault is not None and fault.fails:
                response = self._fault(fault)
            elif endpoint == "long_lived":
                query = {**params, "access_token": access, "client_secret": secret}
                response = oauth.long_lived(self, query)
            elif endpoint == "refresh":
                response = oauth.refresh(self, {**params, "access_token": access})
            elif token is None:
                response = wire.token_refused(463 if access in self.tokens else None)
            else:
                response = self._api(endpoint, object_id, params, token)
            context = token.user_id if token is not None else "anonymous"
            record = RecordedRequest(
                endpoint, request.url.path, params, response.status_code, context, object_id
            )
            return response, record

        return await self._serve(endpoint, answer)

    def _fault(self, fault: Fault[FaultKind, Endpoint]) -> Response:
        if fault.kind == "server_error":
            return wire.api_error(1, "An unknown error has occurred.", status=fault.status)
        if fault.kind == "bad_gateway":
            return base.bad_gateway()
        if fault.kind == "throttled":
            return wire.api_error(4, "Application request limit reached", headers=wire.usage(
                "app", 100, 100, regain_minutes=30))  # fmt: skip
        if fault.kind == "token_expired":
            return wire.token_refused(463)
        if fault.kind == "permission":
            return wire.api_error(
                10, "Application does not have permission for this action", status=500
            )
        return Response("<html>oops</html>", 200, media_type="text/html")  # not_json

    def _api(
        self, endpoint: Endpoint, object_id: str, params: dict[str, str], token: oauth.Token
    ) -> Response:
        window, allowed = self._windows.spend(
            f"{token.client_id}:{token.user_id}", self.rate_limit, self._now()
        )
        used = window.limit - window.remaining
        if not allowed:
            minutes = max(1, math.ceil((window.reset - self._now()).total_seconds() / 60))
            headers = wire.usage(token.user_id, window.limit, window.limit, regain_minutes=minutes)
            return wire.api_error(17, "User request limit reached", headers=headers)
        headers = wire.usage(token.user_id, used, window.limit)
        status, body = self._answer(endpoint, object_id, params, token)
        if isinstance(body, Response):
            body.headers.update(headers)
            return body
        return wire.json_response(body, status=status, headers=headers)

    def _answer(
        self, endpoint: Endpoint, object_id: str, params: dict[str, str], token: oauth.Token
    ) -> tuple[int, Any]:
        user = self.users[token.user_id]
        if endpoint == "me" or (endpoint == "profile" and object_id in (user.id, "me")):
            fields = set(params.get("fields", "id").split(","))
            full = {"id": user.id, "username": user.username, "name": user.name}
            return 200, {k: v for k, v in full.items() if k in fields or k == "id"}
        if endpoint == "threads":
            return self._threads(user, object_id, params)
        if endpoint == "insights":
            return self._insights(object_id, params, token)
        if endpoint == "user_insights":
            if object_id not in (user.id, "me"):
                return 0, wire.gone(object_id)
            if "threads_manage_insights" not in token.scopes:
                return 0, wire.api_error(10, "Application does not have permission", status=500)
            metrics = [m for m in params.get("metric", "").split(",") if m]
            if not metrics or any(m not in wire.USER_METRICS for m in metrics):
                return 0, wire.api_error(100, "(#100) The value must be a valid insights metric")
            data = [wire.total_entry(user.id, "followers_count", user.followers)]
            return 200, {"data": [d for d in data if d["name"] in metrics]}
        return 0, wire.gone(object_id)

    def _threads(self, user: FakeUser, object_id: str, params: dict[str, str]) -> tuple[int, Any]:
        if object_id not in (user.id, "me"):
            return 0, wire.gone(object_id)
        fields = set(params.get("fields", "id").split(","))
        if not fields <= wire.LISTABLE_FIELDS:
            return 0, wire.api_error(100, "(#100) Tried accessing nonexisting field")
        raw_limit = params.get("limit", "25")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            return 0, wire.api_error(100, "(#100) The limit must be between 1 and 100")
        if "after" in params and "before" in params:
            return 0, wire.api_error(100, "(#100) Only one of before or after may be given")
        since, until = params.get("since"), params.get("until")
        if since is not None and (not since.isdigit() or int(since) < SINCE_MIN):
            return 0, wire.api_error(100, f"(#100) since must be at least {SINCE_MIN}")
        posts = sorted(
            (m for m in self.media.values() if m.owner_id == user.id and not m.deleted),
            key=lambda m: (m.created_at, m.id),
            reverse=True,
        )
        if since is not None:
            posts = [m for m in posts if m.created_at.timestamp() >= int(since)]
        if until is not None and until.isdigit():
            posts = [m for m in posts if m.created_at.timestamp() <= int(until)]
        start = 0
        if "after" in params:
            decoded = _decode(params["after"])
            if decoded is None:
                return 0, wire.api_error(100, "(#100) Invalid cursor")
            start = decoded
        limit = int(raw_limit)
        page = posts[start : start + limit]
        body: dict[str, Any] = {"data": [wire.render_media(m, user.username, fields) for m in page]}
        if page:
            body["paging"] = {
                "cursors": {"before": _encode(start), "after": _encode(start + len(page))}
            }
            if start + len(page) < len(posts):
                query = urlencode({**params, "after": _encode(start + len(page))})
                body["paging"]["next"] = (
                    f"https://graph.threads.net/v1.0/{object_id}/threads?{query}"
                )
        return 200, body

    def _insights(
        self, media_id: str, params: dict[str, str], token: oauth.Token
    ) -> tuple[int, Any]:
        media = self.media.get(media_id)
        if media is None or media.deleted or media.owner_id != token.user_id:
            return 0, wire.gone(media_id)
        if "threads_manage_insights" not in token.scopes:
            return 0, wire.api_error(10, "Application does not have permission", status=500)
        metrics = [m for m in params.get("metric", "").split(",") if m]
        if not metrics:
            return 0, wire.api_error(100, "(#100) The parameter metric is required")
        bad = [m for m in metrics if m not in wire.MEDIA_METRICS or m in self.refused_metrics]
        if bad:
            index = metrics.index(bad[0])
            allowed = ", ".join(sorted(wire.MEDIA_METRICS - self.refused_metrics))
            message = f"(#100) metric[{index}] must be one of the following values: {allowed}"
            return 0, wire.api_error(100, message)
        if media.media_type == "REPOST_FACADE" or not media.insights_ready:
            return 200, {"data": []}
        data = [
            wire.metric_entry(media.id, name, media.metrics.get(name, 0))
            for name in metrics
            if name not in self.missing_metrics
        ]
        return 200, {"data": data}


def _encode(offset: int) -> str:
    return "QVFI" + format(offset, "x").rjust(8, "0")


def _decode(cursor: str) -> int | None:
    if not cursor.startswith("QVFI"):
        return None
    try:
        return int(cursor[4:], 16)
    except ValueError:
        return None


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeThreads, *, posts: int = 60) -> FakeUser:
    """@openpost (a tester) with ``posts`` threads, one every 4 hours, and a non-tester."""
    user = state.add_user("openpost", name="OpenPost", followers=1234)
    now = state.now()
    for n in range(posts):
        views = 8000 // (n + 1) + 30 * (posts - n)
        state.add_media(
            user,
            created_at=now - timedelta(hours=4 * n + 1),
            text=f"Seeded thread #{posts - n}",
            views=views,
            likes=views // 20,
            replies=views // 300,
            reposts=views // 400,
            quotes=views // 1200,
            shares=views // 900,
        )
    state.add_user("not_a_tester", tester=False)
    return user


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake Threads API server.", port=8086, seed_help="create @openpost and threads"
    )
    parser.add_argument(
        "--app",
        metavar="ID:SECRET:CALLBACK",
        help="register a Threads app; with --seed, consent is given as @openpost",
    )
    args = parser.parse_args(argv)
    state = FakeThreads()
    owner = seed(state, posts=args.seed_posts) if args.seed else None
    if args.app:
        client_id, secret, callback = args.app.split(":", 2)
        state.add_app(client_id, secret, callback)
        state.set_consent("approve", owner)
    base.run_server(state.app, args, "fake Threads API")


if __name__ == "__main__":
    main()
