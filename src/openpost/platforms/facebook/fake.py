"""A faithful fake of the Facebook Graph API (Pages) that OpenPost reads, with Facebook Login.

Paths carry the Graph version (``/v25.0/...``; another version is refused):

- ``GET /v25.0/dialog/oauth`` (the consent page, ``fake_oauth``), ``GET
  /v25.0/oauth/access_token`` (code → short-lived user token; ``fb_exchange_token`` →
  long-lived), ``GET /v25.0/me``, ``GET /v25.0/me/accounts`` (the granted Pages, each with a
  Page token and the owner's ``tasks``);
- ``GET /v25.0/{page-id}/published_posts`` (newest first, ``since``, ``limit`` ≤ 100, cursor
  paging), ``GET /v25.0/{page-id}?fields=followers_count,fan_count``, ``GET
  /v25.0/{post-id}?fields=reactions…,comments…,shares`` (``shares`` left out when 0), ``GET
  /v25.0/{post-id}/insights?metric=…`` (a retired metric such as ``post_impressions`` fails
  the whole call with ``(#100)``; no data until the insights are ready), ``GET
  /v25.0/{video-id}/video_insights`` (reels);
- ``POST /v25.0/`` with ``batch=[…]`` (≤ 50 operations, each answered ``{"code", "body"}``,
  each counted against the rate limits).

Errors are Meta's bodies (``meta.fake_graph``): 190 (463 expired, 460 password changed, 458
app removed), 10 (no permission), 100/33 (gone), 80001 (a Page's business-use-case limit,
with ``estimated_time_to_regain_access``), 4 (the app's limit). Usage headers on every answer:
``X-App-Usage`` (the app, per hour) and ``X-Business-Use-Case-Usage`` (type ``pages``, per
Page, 24 hours). Faults: ``page_throttled``, ``app_throttled``, ``token_expired``,
``server_error``, ``not_json``, ``slow``.

Run it as a server: ``python -m openpost.platforms.facebook.fake --port 8086 --seed``.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.facebook import fake_oauth
from openpost.platforms.facebook import fake_wire as wire
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.meta.fake_graph import app_usage, business_usage, error_response

VERSION = "v25.0"
SUPPORTED_VERSIONS = frozenset({"v24.0", "v25.0", "v26.0"})
APP_WINDOW = timedelta(hours=1)
PAGE_WINDOW = timedelta(hours=24)
MAX_BATCH = 50
PAGE_SIZE_MAX = 100
DEFAULT_APP_ID, DEFAULT_APP_SECRET = "1234567890123456", "fake-facebook-app-secret"

Endpoint = Literal[
    "dialog", "oauth_token", "me", "accounts", "published_posts", "node", "insights",
    "video_insights", "batch",
]  # fmt: skip
FaultKind = Literal[
    "page_throttled", "app_throttled", "token_expired", "server_error", "not_json", "slow"
]
Answer = tuple[int, dict[str, Any]]


@dataclass
class FakeUser:
    id: str
    name: str


@dataclass
class FakePage:
    id: str
    name: str
    username: str
    followers: int = 0
    fans: int = 0
    roles: dict[str, list[str]] = field(default_factory=dict)  # user id → tasks


@dataclass
class FakePost:
    id: str  # <page id>_<n>
    page_id: str
    created_at: datetime
    message: str = ""
    video_id: str = ""  # a reel: read through its video id
    reactions: dict[str, int] = field(default_factory=dict)  # like, love, wow, haha, sorry…
    comments: Any = 0  # tests may put anything here (a string: a broken answer)
    shares: int = 0
    views: int = 0
    reach: int = 0
    clicks: int = 0
    insights_ready: bool = True
    deleted: bool = False

    @property
    def reactions_total(self) -> int:
        return sum(self.reactions.values())


@dataclass
class Token:
    user_id: str
    page_id: str | None  # a Page token's Page
    expires_at: datetime | None
    scope: str
    pages: tuple[str, ...] = ()  # a user token: the Pages granted
    dead: int | None = None  # the 190 subcode it now fails with


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    context: str  # "page:<id>", "user:<id>", "app" or "anonymous"
    ids: tuple[str, ...] = ()  # the post ids a read (a batch: its operations) addressed
    operations: int = 1


class FakeFacebook(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.oauth = fake_oauth.OAuthState(app_id, app_secret)
        self.users: dict[str, FakeUser] = {}
        self.pages: dict[str, FakePage] = {}
        self.posts: dict[str, FakePost] = {}
        self.videos: dict[str, str] = {}  # video id → post id
        self.tokens: dict[str, Token] = {}
        self.page_call_limit = 4800  # 4800 x engaged users per 24 h (one engaged user here)
        self.app_call_limit = 200 * 10  # 200 x daily active users per hour
        self.throttle_regain_minutes = 30
        self._page_windows = base.RateWindows[str](PAGE_WINDOW)
        self._app_windows = base.RateWindows[str](APP_WINDOW)
        self._ids = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging ------------------------------------------------------------------------

    def _new_id(self, prefix: int) -> str:
        return str(prefix + next(self._ids))

    def add_user(self, name: str) -> FakeUser:
        with self._lock:
            user = FakeUser(self._new_id(10_000_000_000_000), name)
            self.users[user.id] = user
            self.oauth.roles.add(user.id)  # a role on the app (development mode)
            return user

    def add_page(
        self,
        owner: FakeUser,
        name: str,
        *,
        username: str = "",
        followers: int = 0,
        fans: int = 0,
        tasks: tuple[str, ...] = ("ANALYZE", "ADVERTISE", "CREATE_CONTENT", "MODERATE", "MANAGE"),
    ) -> FakePage:
        with self._lock:
            page_id = self._new_id(100_000_000_000_000)
            page = FakePage(page_id, name, username or name.lower().replace(" ", ""), followers)
            page.fans = fans
            page.roles[owner.id] = list(tasks)
            self.pages[page_id] = page
            return page

    def add_post(
        self,
        page: FakePage,
        *,
        created_at: datetime | None = None,
        message: str = "",
        reel: bool = False,
        likes: int = 0,
        comments: int = 0,
        shares: int = 0,
        views: int = 0,
        reach: int = 0,
        reactions: dict[str, int] | None = None,
    ) -> FakePost:
        with self._lock:
            post = FakePost(
                id=f"{page.id}_{self._new_id(900_000_000_000_000)}",
                page_id=page.id,
                created_at=(created_at or self.now()).replace(microsecond=0),
                message=message,
                reactions={"like": likes, **(reactions or {})},
                comments=comments,
                shares=shares,
                views=views,
                reach=reach,
            )
            if reel:
                post.video_id = self._new_id(700_000_000_000_000)
                self.videos[post.video_id] = post.id
            self.posts[post.id] = post
            return post

    def post_of(self, node_id: str) -> FakePost | None:
        """The live post a post id or a reel's video id names."""
        post = self.posts.get(self.videos.get(node_id, node_id))
        return None if post is None or post.deleted else post

    def delete_post(self, node_id: str) -> None:
        with self._lock:
            post = self.posts[self.videos.get(node_id, node_id)]
            post.deleted = True

    def page_token(self, page: FakePage, user: FakeUser) -> str:
        """A Page token as ``/me/accounts`` hands out (it does not expire)."""
        with self._lock:
            for value, token in self.tokens.items():
                live = token.dead is None
                if token.page_id == page.id and token.user_id == user.id and live:
                    return value
            value = "EAAG" + secrets.token_urlsafe(40)
            self.tokens[value] = Token(user.id, page.id, None, ",".join(fake_oauth.SCOPES))
            return value

    def kill_tokens(self, user: FakeUser, *, subcode: int = 460) -> None:
        """The owner changed password (460), removed the app (458) or the token expired
        (463): every token of theirs now fails with 190 and that subcode."""
        with self._lock:
            for token in self.tokens.values():
                if token.user_id == user.id:
                    token.dead = subcode

    def set_limits(self, *, page_calls: int | None = None, app_calls: int | None = None) -> None:
        with self._lock:
            if page_calls is not None:
                self.page_call_limit = page_calls
            if app_calls is not None:
                self.app_call_limit = app_calls
            self._page_windows.forget()
            self._app_windows.forget()

    # ---- serving --------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/{version}/dialog/oauth", self._dialog, methods=["GET"]),
            Route("/{version}/dialog/oauth/confirm", self._confirm, methods=["GET"]),
            Route("/{version}/", self._batch_route, methods=["POST"]),
            Route("/", self._batch_route, methods=["POST"]),
            Route("/{version}/{path:path}", self._get_route, methods=["GET"]),
        ]

    async def _dialog(self, request: Request) -> Response:
        return fake_oauth.dialog(self, request)

    async def _confirm(self, request: Request) -> Response:
        return fake_oauth.confirm(self, request)

    def _not_found(self) -> Response:
        return error_response(2500, "Unknown path components", kind="OAuthException")

    def fault_response(self, fault: Fault[FaultKind, Endpoint]) -> Response:
        if fault.kind == "page_throttled":
            minutes = self.throttle_regain_minutes
            return error_response(
                80001,
                "(#80001) There have been too many calls to this Page account. Wait a bit and "
                "try again. For more info, please refer to "
                "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                headers=business_usage("0", "pages", 100, regain_minutes=minutes),
            )
        if fault.kind == "app_throttled":
            return error_response(
                4, "(#4) Application request limit reached", headers=app_usage(100, 40, 40)
            )
        if fault.kind == "token_expired":
            return error_response(190, wire.EXPIRED, subcode=463)
        if fault.kind == "not_json":
            return Response("<html><body>Sorry, something went wrong.</body></html>", 500)
        return error_response(
            1, "An unknown error has occurred.", status=fault.status if fault.status else 500
        )

    async def _get_route(self, request: Request) -> Response:
        version, path = request.path_params["version"], request.path_params["path"].strip("/")
        params = dict(request.query_params)
        token = _bearer(request) or params.pop("access_token", "")
        endpoint = _endpoint(path)
        if endpoint in ("oauth_token",):
            form = params
            return await self._serve(
                endpoint, lambda fault: self._logged_oauth(request, form, fault)
            )

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            context = self._context(token)
            if fault is not None and fault.fails:
                response = self.fault_response(fault)
            elif version not in SUPPORTED_VERSIONS:
                response = error_response(12, f"(#12) Graph API {version} is not available")
            else:
                status, body, headers = self._call(path, params, token)
                response = JSONResponse(body, status_code=status, headers=headers)
            ids = (path.split("/")[0],) if endpoint in ("node", "insights") else ()
            record = RecordedRequest(
                endpoint, request.url.path, params, response.status_code, context, ids
            )
            return response, record

        return await self._serve(endpoint, answer)

    def _logged_oauth(
        self, request: Request, form: dict[str, str], fault: Fault[FaultKind, Endpoint] | None
    ) -> tuple[Response, RecordedRequest]:
        response = (
            self.fault_response(fault)
            if fault is not None and fault.fails
            else fake_oauth.token(self, form)
        )
        shown = {k: v for k, v in form.items() if k in ("grant_type", "redirect_uri")}
        record = RecordedRequest(
            "oauth_token", request.url.path, shown, response.status_code, "app"
        )
        return response, record

    async def _batch_route(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        token = _bearer(request) or form.get("access_token", "")

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            context = self._context(token)
            try:
                operations = orjson.loads(form.get("batch", ""))
            except orjson.JSONDecodeError:
                operations = None
            ids: tuple[str, ...] = ()
            if fault is not None and fault.fails:
                response = self.fault_response(fault)
            elif not isinstance(operations, list) or not operations:
                response = error_response(100, "(#100) The parameter batch is required")
            elif len(operations) > MAX_BATCH:
                response = error_response(
                    1, "(#1) Too many requests in batch message. Maximum batch size is 50"
                )
            else:
                items, ids, headers = self._run_batch(operations, token)
                response = JSONResponse(items, headers=headers)
            count = len(operations) if isinstance(operations, list) else 0
            record = RecordedRequest(
                "batch", request.url.path, {}, response.status_code, context, ids, count
            )
            return response, record

        return await self._serve("batch", answer)

    def _run_batch(
        self, operations: list[Any], token: str
    ) -> tuple[list[dict[str, Any]], tuple[str, ...], dict[str, str]]:
        items: list[dict[str, Any]] = []
        ids: list[str] = []
        headers: dict[str, str] = {}
        for operation in operations:
            if not isinstance(operation, dict) or operation.get("method", "GET") != "GET":
                body = {"error": {"message": "(#100) Only GET is faked", "code": 100}}
                items.append({"code": 400, "body": orjson.dumps(body).decode()})
                continue
            parts = urlsplit(str(operation.get("relative_url", "")))
            path = parts.path.strip("/")
            if path.split("/", 1)[0] in SUPPORTED_VERSIONS:
                path = path.split("/", 1)[1] if "/" in path else ""
            params = dict(parse_qsl(parts.query))
            op_token = params.pop("access_token", "") or token
            if _endpoint(path) in ("node", "insights", "video_insights"):
                node = path.split("/")[0]
                if node not in ids:
                    ids.append(node)
            status, body, headers = self._call(path, params, op_token)
            items.append({"code": status, "body": orjson.dumps(body).decode()})
        return items, tuple(ids), headers

    # ---- the Graph itself ---------------------------------------------------------------

    def _context(self, token: str) -> str:
        found = self.tokens.get(token)
        if found is None:
            return "anonymous"
        return f"page:{found.page_id}" if found.page_id else f"user:{found.user_id}"

    def _usage(self, page_id: str | None) -> tuple[dict[str, str], bool, bool]:
        """Spend one call of the app's window (and the Page's): the headers, and whether
        each was within its window."""
        now = self.now()
        app_window, app_ok = self._app_windows.spend("app", self.app_call_limit, now)
        used = app_window.limit - app_window.remaining
        headers = app_usage(min(math.ceil(100 * used / app_window.limit), 100))
        page_ok = True
        if page_id is not None:
            window, page_ok = self._page_windows.spend(page_id, self.page_call_limit, now)
            spent = window.limit - window.remaining
            regain = 0 if page_ok else max(math.ceil((window.reset - now).total_seconds() / 60), 1)
            percent = min(math.ceil(100 * spent / window.limit), 100)
            headers |= business_usage(page_id, "pages", percent, regain_minutes=regain)
        return headers, app_ok, page_ok

    def _call(
        self, path: str, params: dict[str, str], token: str
    ) -> tuple[int, Any, dict[str, str]]:
        """One Graph GET (alone, or one operation of a batch): status, body, usage headers."""
        found = self.tokens.get(token)
        if found is None:
            return (*_error(*wire.INVALID_TOKEN), {})
        if found.dead is not None or (
            found.expires_at is not None and self.now() >= found.expires_at
        ):
            subcode = found.dead or 463
            return (*_error(190, subcode, wire.SUBCODE_MESSAGES.get(subcode, wire.EXPIRED)), {})
        headers, app_ok, page_ok = self._usage(found.page_id)
        if not app_ok:
            return (*_error(4, None, "(#4) Application request limit reached"), headers)
        if not page_ok:
            message = "(#80001) There have been too many calls to this Page account."
            return (*_error(80001, None, message), headers)
        return (*self._graph(path, params, found), headers)

    def _graph(self, path: str, params: dict[str, str], token: Token) -> Answer:
        fields = [f for f in params.get("fields", "").split(",") if f]
        parts = path.split("/")
        if path == "me":
            if token.page_id:
                page = self.pages[token.page_id]
                return 200, {"id": page.id, "name": page.name}
            return 200, {"id": token.user_id, "name": self.users[token.user_id].name}
        if path == "me/accounts":
            return fake_oauth.accounts(self, token, params)
        node = parts[0]
        if node in self.pages:
            page = self.pages[node]
            if token.page_id != page.id:
                return _error(10, None, "(#10) This endpoint requires the Page's access token")
            if len(parts) == 1:
                return 200, wire.page_fields(page, fields or ["id", "name"])
            if parts[1:] in (["published_posts"], ["posts"]):
                return self._published(page, params)
            return _error(*wire.gone(path))
        post = self.post_of(node)
        if post is None or token.page_id != post.page_id:
            return _error(*wire.gone(node))
        reel_id = node in self.videos
        if len(parts) == 1:
            return 200, wire.counters(post, fields or ["id"], node)
        edge = parts[1]
        if edge == "insights" and reel_id:
            return _error(100, None, "(#100) Tried accessing nonexisting field (insights) on "
                          "node type (Video)")  # fmt: skip
        if edge == "video_insights" and not reel_id:
            return _error(100, None, "(#100) Tried accessing nonexisting field (video_insights)")
        if edge not in ("insights", "video_insights") or len(parts) != 2:
            return _error(*wire.gone(path))
        metrics = [m for m in params.get("metric", "").split(",") if m]
        allowed = wire.VIDEO_METRICS if reel_id else wire.POST_METRICS
        if not metrics:
            return _error(3001, 1504028, "Invalid Metric: No metric was specified")
        if any(m not in allowed for m in metrics):  # a retired one fails the whole call
            return _error(100, None, "(#100) The value must be a valid insights metric")
        return 200, wire.insights(post, node, metrics)

    def _published(self, page: FakePage, params: dict[str, str]) -> Answer:
        since = params.get("since", "")
        listed = sorted(
            (p for p in self.posts.values() if p.page_id == page.id and not p.deleted),
            key=lambda p: (p.created_at, p.id),
            reverse=True,
        )
        if since.isdigit():
            since_at = datetime.fromtimestamp(int(since), UTC)
            listed = [p for p in listed if p.created_at >= since_at]
        try:
            limit = min(max(int(params.get("limit", "25")), 1), PAGE_SIZE_MAX)
        except ValueError:
            return _error(100, None, "(#100) Param limit must be a number")
        start = wire.cursor_offset(params.get("after"))
        chunk = listed[start : start + limit]
        more = start + limit < len(listed)
        fields = params.get("fields", "id")
        base_url = f"https://graph.facebook.com/{VERSION}/{page.id}/published_posts?fields={fields}"
        data = [wire.listed_post(p, page) for p in chunk]
        return 200, wire.paged(data, start + limit if more else None, base_url)


def _error(code: int, subcode: int | None, message: str) -> Answer:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return 400, {"error": error}


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() in ("bearer", "oauth") else ""


def _endpoint(path: str) -> Endpoint:
    parts = path.strip("/").split("/")
    if path == "oauth/access_token":
        return "oauth_token"
    if path == "me":
        return "me"
    if path == "me/accounts":
        return "accounts"
    if len(parts) == 2 and parts[1] in ("published_posts", "posts"):
        return "published_posts"
    if len(parts) == 2 and parts[1] == "video_insights":
        return "video_insights"
    if len(parts) == 2 and parts[1] == "insights":
        return "insights"
    return "node"


# ---- a server -------------------------------------------------------------------------------


def seeded(count: int = 12) -> FakeFacebook:
    """A fake with one owner, two Pages and ``count`` posts on the first (a reel among them)."""
    fake = FakeFacebook()
    owner = fake.add_user("Pat Owner")
    bakery = fake.add_page(owner, "Corner Bakery", followers=1520, fans=1490)
    fake.add_page(owner, "Corner Bakery Events", followers=88, fans=80)
    fake.oauth.consenting = owner
    now = datetime.now(UTC)
    for n in range(count):
        fake.add_post(
            bakery,
            created_at=now - timedelta(hours=6 * n + 1),
            message=f"Fresh batch #{n}",
            reel=n == 2,
            likes=10 + 3 * n,
            comments=n,
            shares=n % 3,
            views=200 + 40 * n,
            reach=150 + 30 * n,
            reactions={"love": n},
        )
    return fake


def main() -> None:
    parser = base.server_arguments(
        "A fake Facebook Graph API (Pages, Facebook Login)",
        port=8086,
        seed_help="add an owner with two Pages and posts",
        seed_default=12,
    )
    args = parser.parse_args()
    fake = seeded(args.seed_posts) if args.seed else FakeFacebook()
    base.run_server(fake.app, args, "fake Facebook Graph API", f"/{VERSION}/")


if __name__ == "__main__":
    main()
