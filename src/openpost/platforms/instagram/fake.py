"""A faithful fake of the Instagram Graph API endpoints OpenPost reads, for both logins.

Graph reads (``/<version>/…``, as graph.instagram.com and graph.facebook.com serve them):
``GET /{ig-user-id}/media`` (newest first, ``limit`` ≤ 100, cursor ``after``, ``paging.next``
while more), ``GET /{media-id}/insights?metric=…`` (one post per call; a retired or unknown
metric fails the whole call with ``(#100) … valid insights metric``; ``total_likes``,
``total_comments``, ``total_views`` only for Facebook Login tokens; empty ``data`` while the
media is younger than ``insights_lag``; ``(#10)`` for a story with fewer than five viewers),
``GET /?ids=a,b&fields=…`` (≤ 50 ids), ``GET /{id}?fields=…`` (media, IG user, ``me``) and
``GET /me/accounts`` (Facebook Login: the user's Pages and their linked IG accounts).
Errors are Meta's JSON (``IGApiException``): 100/33 for a deleted or unknown object,
190/463 for an expired token, 80002 when the account's business-use-case window is spent,
4 when the app's is. Every read carries ``X-App-Usage`` and ``X-Business-Use-Case-Usage``.

Owner consent (``fake_oauth``): Instagram Login's consent page, code exchange, long-lived
exchange and refresh; Facebook Login's dialog, code exchange and ``fb_exchange_token``.

Faults (``inject``): ``throttled`` (80002), ``app_throttled`` (4), ``token_expired``
(190/463), ``transient`` (code 2, HTTP 500), ``server_error`` (a bare 5xx), ``slow``.

Run it as a server: ``python -m openpost.platforms.instagram.fake --port 8085 --seed
--oauth-client ID:SECRET:CALLBACK``.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.instagram import fake_oauth as oauth
from openpost.platforms.instagram import fake_wire as wire
from openpost.platforms.meta.fake_graph import app_usage, business_usage

Endpoint = Literal[
    "authorize", "token", "long_lived", "refresh", "fb_authorize", "fb_token",
    "node", "ids", "media", "insights", "accounts",
]  # fmt: skip
FaultKind = Literal[
    "throttled", "app_throttled", "token_expired", "transient", "server_error", "slow"
]
BUSINESS_WINDOW = timedelta(hours=24)
APP_WINDOW = timedelta(hours=1)
MAX_IDS = 50
MAX_LIMIT = 100
_CODE_CHARS = string.ascii_letters + string.digits + "_-"


@dataclass
class FakeAccount:
    """An Instagram professional account (and, for Facebook Login, its Page and the
    Facebook user who manages it)."""

    id: str
    username: str
    name: str
    followers: int = 0
    follows: int = 0
    page_id: str = ""
    facebook_user: str = ""


@dataclass
class FakeMedia:
    id: str
    code: str
    owner_id: str
    caption: str
    created_at: datetime
    media_type: str = "IMAGE"
    product: str = "FEED"
    # Insights by metric name, and the media's own ``like_count``/``comments_count``.
    counters: dict[str, Any] = field(default_factory=dict)
    viewers: int | None = None  # a story's viewers (fewer than five: no insights)
    refused: bool = False  # insights refused with (#10) "Not enough viewers", as for a story
    deleted: bool = False


@dataclass
class Token:
    kind: Literal["ig_short", "ig_long", "fb_short", "fb_long", "page"]
    subject: str  # the IG account id; the Facebook user id; the Page id
    client_id: str
    issued_at: datetime
    expires_at: datetime | None
    scope: str = ""


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    context: str  # the token's subject and kind ("ig:<id>", "fb:<id>", "page:<id>"), or "-"


class FakeInstagram(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    def __init__(self, *, version: str = "v25.0", now: Callable[[], datetime] = clock.now) -> None:
        self.version = version
        self.accounts: dict[str, FakeAccount] = {}
        self.media: dict[str, FakeMedia] = {}
        self.tokens: dict[str, Token] = {}
        self.oauth = oauth.OAuthState()
        self.insights_lag = timedelta(0)  # media younger than this: empty insights
        self.multi_id = True  # False: ``GET /?ids=`` is refused, as a host without it would
        self.business_limit = 4800  # calls per account per rolling 24 h (BUC)
        self.app_limit = 100_000  # calls per hour for the app
        self._business = base.RateWindows[str](BUSINESS_WINDOW)
        self._app = base.RateWindows[str](APP_WINDOW)
        self._sequence = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_account(
        self, username: str, *, name: str | None = None, followers: int = 0, follows: int = 0
    ) -> FakeAccount:
        with self._lock:
            number = next(self._sequence)
            account = FakeAccount(
                id=f"178414{number:011d}",
                username=username,
                name=name or username,
                followers=followers,
                follows=follows,
                page_id=f"10{number:013d}",
                facebook_user=f"9{number:014d}",
            )
            self.accounts[account.id] = account
            return account

    def add_media(
        self,
        account: FakeAccount,
        *,
        created_at: datetime | None = None,
        caption: str = "",
        likes: int = 0,
        comments: int = 0,
        views: int = 0,
        shares: int = 0,
        product: str = "FEED",
        viewers: int | None = None,
    ) -> FakeMedia:
        with self._lock:
            number = next(self._sequence)
            code = "".join(secrets.choice(_CODE_CHARS) for _ in range(10))
            media = FakeMedia(
                id=f"1790{number:013d}",
                code="C" + code,
                owner_id=account.id,
                caption=caption or f"post {number}",
                created_at=created_at or self.now(),
                media_type="VIDEO" if product in ("REELS", "STORY") else "IMAGE",
                product=product,
                viewers=viewers,
            )
            self.set_counts(
                media, likes=likes, comments=comments, views=views, shares=shares, fresh=True
            )
            self.media[media.id] = media
            return media

    def set_counts(
        self,
        media: FakeMedia,
        *,
        likes: int | None = None,
        comments: int | None = None,
        views: int | None = None,
        shares: int | None = None,
        fresh: bool = False,
    ) -> None:
        """New counters; reach, saves and totals follow them (ads add a little on top)."""
        with self._lock:
            c = media.counters
            if fresh:
                c.update(likes=0, comments=0, views=0, shares=0)
            for name, value in (
                ("likes", likes), ("comments", comments), ("views", views), ("shares", shares),
            ):  # fmt: skip
                if value is not None:
                    c[name] = value
            c["like_count"], c["comments_count"] = c["likes"], c["comments"]
            c["reach"] = c["views"] * 3 // 4
            c["saved"] = c["likes"] // 10
            c["total_interactions"] = c["likes"] + c["comments"] + c["shares"] + c["saved"]
            c["total_likes"], c["total_comments"] = c["likes"] + 1, c["comments"]
            c["total_views"] = c["views"] + 5

    def delete_media(self, media_id: str) -> None:
        with self._lock:
            self.media[media_id].deleted = True

    def by_code(self, code: str) -> FakeMedia:
        return next(m for m in self.media.values() if m.code == code)

    def issue_token(
        self, account: FakeAccount, *, kind: str = "ig_long", lifetime: timedelta | None = None
    ) -> str:
        """A token as the consent would give it (tests that skip the consent page)."""
        with self._lock:
            return oauth.new_token(self, account, kind, "test-client", lifetime)

    def set_consent(self, consent: oauth.Consent, account: FakeAccount | None) -> None:
        with self._lock:
            self.oauth.consent, self.oauth.consenting = consent, account

    def add_oauth_client(self, client_id: str, secret: str, *redirect_uris: str) -> None:
        with self._lock:
            self.oauth.clients[client_id] = oauth.OAuthClient(client_id, secret, redirect_uris)

    def forget_windows(self) -> None:
        with self._lock:
            self._business.forget()
            self._app.forget()

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        v = "/{version:str}"
        return [
            base.route("/oauth/authorize", lambda r: self._oauth(r, "authorize")),
            Route("/oauth/access_token", self._token_endpoint, methods=["GET", "POST"]),
            base.route("/access_token", lambda r: self._oauth(r, "long_lived")),
            base.route("/refresh_access_token", lambda r: self._oauth(r, "refresh")),
            base.route(f"{v}/dialog/oauth", lambda r: self._oauth(r, "fb_authorize")),
            base.route(f"{v}/oauth/access_token", lambda r: self._oauth(r, "fb_token")),
            base.route(f"{v}/", lambda r: self._graph(r, "ids")),
            base.route(f"{v}/{{node:str}}", lambda r: self._graph(r, "node")),
            base.route(f"{v}/{{node:str}}/{{edge:str}}", lambda r: self._edge(r)),
        ]

    async def _token_endpoint(self, request: Request) -> Response:
        return await self._oauth(request, "token")

    def _not_found(self) -> Response:
        return wire.error_response_unknown_path()

    async def _oauth(self, request: Request, endpoint: Endpoint) -> Response:
        body = (await request.body()).decode() if request.method == "POST" else ""
        params = {**dict(request.query_params), **dict(parse_qsl(body))}

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            if fault is not None and fault.fails:
                response = self._fault(fault, {})
            else:
                response = oauth.serve(self, endpoint, request, params)
            safe = {k: v for k, v in params.items() if k in ("grant_type", "scope", "client_id")}
            return response, RecordedRequest(
                endpoint, request.url.path, safe, response.status_code, "-"
            )

        return await self._serve(endpoint, answer)

    async def _edge(self, request: Request) -> Response:
        edge = request.path_params["edge"]
        endpoint: Endpoint = {"media": "media", "insights": "insights", "accounts": "accounts"}.get(
            edge, "node"
        )  # type: ignore[assignment]
        return await self._graph(request, endpoint)

    async def _graph(self, request: Request, endpoint: Endpoint) -> Response:
        params = dict(request.query_params)
        header = request.headers.get("authorization", "")
        raw_token = header.removeprefix("Bearer ").strip() or params.pop("access_token", "")
        params.pop("access_token", None)

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            token = self.tokens.get(raw_token)
            context = f"{token.kind}:{token.subject}" if token is not None else "-"
            response = self._answer_graph(request, endpoint, params, token, fault)
            return response, RecordedRequest(
                endpoint, request.url.path, params, response.status_code, context
            )

        return await self._serve(endpoint, answer)

    def _fault(self, fault: Fault[FaultKind, Endpoint], headers: dict[str, str]) -> Response:
        if fault.kind == "throttled":
            return wire.throttled(30, {**headers, **business_usage("0", "instagram", 100,
                                                                   regain_minutes=30)})  # fmt: skip
        if fault.kind == "app_throttled":
            return wire.app_throttled({**headers, **app_usage(100)})
        if fault.kind == "token_expired":
            return wire.expired_token(headers)
        if fault.kind == "transient":
            return wire.transient(headers)
        return base.bad_gateway() if fault.status == 502 else Response("", fault.status)

    def _answer_graph(
        self,
        request: Request,
        endpoint: Endpoint,
        params: dict[str, str],
        token: Token | None,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> Response:
        now = self.now()
        if fault is not None and fault.fails:
            return self._fault(fault, {})
        if token is None:
            return wire.bad_token()
        if token.expires_at is not None and now >= token.expires_at:
            return wire.expired_token()
        account = self._account_of(token)
        headers = self._spend(account.id if account else token.subject, now)
        if isinstance(headers, Response):
            return headers
        if endpoint == "ids":
            return self._ids(params, token, headers)
        node = request.path_params["node"]
        if endpoint == "accounts":
            return self._pages(token, headers)
        if node == "me":
            if token.kind in ("fb_short", "fb_long"):
                user = {"id": token.subject, "name": "Facebook user"}
                return JSONResponse(user, headers=headers)
            if token.kind == "page" and endpoint == "node":
                page: dict[str, Any] = {"id": token.subject}
                if account is not None:
                    page["instagram_business_account"] = {"id": account.id}
                return JSONResponse(page, headers=headers)
            node = account.id if account else ""
        if endpoint == "media":
            return self._listing(node, params, token, headers)
        if endpoint == "insights":
            return self._insights(node, params, token, headers)
        return self._node(node, params, token, headers)

    def _account_of(self, token: Token) -> FakeAccount | None:
        if token.kind in ("ig_short", "ig_long"):
            return self.accounts.get(token.subject)
        if token.kind == "page":
            return next((a for a in self.accounts.values() if a.page_id == token.subject), None)
        return next((a for a in self.accounts.values() if a.facebook_user == token.subject), None)

    def _spend(self, key: str, now: datetime) -> dict[str, str] | Response:
        app, app_ok = self._app.spend("app", self.app_limit, now)
        business, ok = self._business.spend(key, self.business_limit, now)
        used, app_used = _percent(business), _percent(app)
        regain = 0 if ok else max(1, int((business.reset - now).total_seconds() // 60))
        headers = {
            **app_usage(app_used),
            **business_usage(key, "instagram", used, regain_minutes=regain),
        }
        if not app_ok:
            return wire.app_throttled(headers)
        if not ok:
            return wire.throttled(regain, headers)
        return headers

    def _visible(self, media_id: str) -> FakeMedia | None:
        media = self.media.get(media_id)
        return media if media is not None and not media.deleted else None

    def _owns(self, token: Token, media: FakeMedia) -> bool:
        account = self._account_of(token)
        return account is not None and media.owner_id == account.id

    def _node(
        self, node: str, params: dict[str, str], token: Token, headers: dict[str, str]
    ) -> Response:
        fields = [f for f in params.get("fields", "id").split(",") if f]
        account = self.accounts.get(node)
        if account is not None and self._account_of(token) is account:
            every: dict[str, Any] = {
                "id": account.id,
                "user_id": account.id,
                "username": account.username,
                "name": account.name,
                "account_type": "BUSINESS",
                "followers_count": account.followers,
                "follows_count": account.follows,
                "media_count": sum(
                    1 for m in self.media.values() if m.owner_id == account.id and not m.deleted
                ),
            }
            return JSONResponse(
                {k: every[k] for k in ["id", *fields] if k in every}, headers=headers
            )
        media = self._visible(node)
        if media is None or not self._owns(token, media):
            return wire.gone(node, headers)
        return JSONResponse(wire.media_entry(media, fields), headers=headers)

    def _ids(self, params: dict[str, str], token: Token, headers: dict[str, str]) -> Response:
        ids = [i for i in params.get("ids", "").split(",") if i]
        if not self.multi_id:
            return wire.error_response_param("(#100) Unsupported get request.", headers)
        if not ids or len(ids) > MAX_IDS:
            return wire.error_response_param(
                f"(#100) ids must name 1 to {MAX_IDS} objects", headers
            )
        fields = [f for f in params.get("fields", "id").split(",") if f]
        answer: dict[str, Any] = {}
        for media_id in ids:
            media = self._visible(media_id)
            if media is None or not self._owns(token, media):
                return wire.gone(media_id, headers)
            answer[media_id] = wire.media_entry(media, fields)
        return JSONResponse(answer, headers=headers)

    def _pages(self, token: Token, headers: dict[str, str]) -> Response:
        if token.kind not in ("fb_short", "fb_long"):
            return wire.gone("accounts", headers)
        pages = [
            {
                "id": a.page_id,
                "name": f"{a.name} Page",
                "access_token": oauth.page_token(self, a, token.client_id),
                "instagram_business_account": {"id": a.id},
            }
            for a in self.accounts.values()
            if a.facebook_user == token.subject
        ]
        return JSONResponse({"data": pages, "paging": {"cursors": {}}}, headers=headers)

    def _listing(
        self, node: str, params: dict[str, str], token: Token, headers: dict[str, str]
    ) -> Response:
        account = self.accounts.get(node)
        if account is None or self._account_of(token) is not account:
            return wire.gone(node, headers)
        fields = [f for f in params.get("fields", "id,timestamp").split(",") if f]
        try:
            limit = min(int(params.get("limit", "25")), MAX_LIMIT)
        except ValueError:
            return wire.error_response_param("(#100) limit must be a number", headers)
        start = 0
        if "after" in params:
            index = wire.index_of(params["after"])
            if index is None:
                return wire.error_response_param("(#100) Invalid after cursor", headers)
            start = index
        mine = sorted(
            (m for m in self.media.values() if m.owner_id == account.id and not m.deleted),
            key=lambda m: (m.created_at, m.id),
            reverse=True,
        )
        page = [m for m in mine if m.product != "STORY"][start : start + limit]
        body: dict[str, Any] = {"data": [wire.media_entry(m, fields) for m in page]}
        if page:
            end = start + len(page)
            body["paging"] = {
                "cursors": {"before": wire.cursor_of(start), "after": wire.cursor_of(end)}
            }
            if end < len([m for m in mine if m.product != "STORY"]):
                body["paging"]["next"] = (
                    f"/{self.version}/{account.id}/media?after={wire.cursor_of(end)}"
                )
        return JSONResponse(body, headers=headers)

    def _insights(
        self, node: str, params: dict[str, str], token: Token, headers: dict[str, str]
    ) -> Response:
        media = self._visible(node)
        if media is None or not self._owns(token, media):
            return wire.gone(node, headers)
        metrics = [m for m in params.get("metric", "").split(",") if m]
        if not metrics:
            return wire.error_response_param("(#100) The parameter metric is required", headers)
        facebook = token.kind in ("fb_short", "fb_long", "page")
        allowed = wire.MEDIA_METRICS | (wire.FACEBOOK_ONLY_METRICS if facebook else frozenset())
        if any(m not in allowed for m in metrics):
            return wire.invalid_metric(headers)
        if media.refused or (media.product == "STORY" and (media.viewers or 0) < 5):
            return wire.not_enough_viewers(headers)
        if self.now() - media.created_at < self.insights_lag:
            return JSONResponse({"data": []}, headers=headers)
        data = [
            wire.insight(media.id, m, media.counters[m]) for m in metrics if m in media.counters
        ]
        return JSONResponse({"data": data}, headers=headers)


def _percent(window: base.Window) -> int:
    """How much of a window is used, in whole percents as Meta reports it (any use is 1)."""
    if window.limit <= 0:
        return 100
    return min(100, -(-(window.limit - window.remaining) * 100 // window.limit))


def seed(fake: FakeInstagram, *, posts: int) -> FakeAccount:
    account = fake.add_account("openpost", name="OpenPost", followers=1200, follows=80)
    start = fake.now() - timedelta(days=posts)
    for n in range(posts):
        fake.add_media(account, created_at=start + timedelta(days=n), likes=n * 3, views=n * 40)
    return account


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake Instagram Graph API server (both logins).",
        port=8085,
        seed_help="create @openpost and a few posts",
    )
    parser.add_argument(
        "--oauth-client",
        metavar="ID:SECRET:CALLBACK",
        help="register an app; with --seed, consent is given as @openpost",
    )
    args = parser.parse_args(argv)
    state = FakeInstagram()
    owner = seed(state, posts=args.seed_posts) if args.seed else None
    if args.oauth_client:
        client_id, secret, callback = args.oauth_client.split(":", 2)
        state.add_oauth_client(client_id, secret, callback)
        state.set_consent("approve", owner)
    base.run_server(state.app, args, "fake Instagram Graph API")


if __name__ == "__main__":
    main()
