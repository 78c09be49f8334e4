"""A faithful fake of the X API v2 endpoints OpenPost reads.

Endpoints: ``GET /2/users/by/username/:username``, ``GET /2/tweets?ids=``,
``GET /2/users/:id/tweets`` and the users lookup ``GET /2/users?ids=`` (``fake_accounts``),
plus the owner-consent side (``GET /i/oauth2/authorize``,
``POST /2/oauth2/token``, ``GET /2/users/me``: rules in ``fakes.x_oauth``), with X's
response shapes (``data``/``errors``/``meta``), its error entries (``value, detail,
title, resource_type, parameter, resource_id, type``), its 400 "Invalid Request" body
(more than 100 ids, bad ``max_results``, unknown parameters), per-endpoint 15-minute rate
windows reported in ``x-rate-limit-*`` headers (429 when spent), and string snowflake ids
derived from the creation time as X's are.

Tests drive a ``FakeX`` state object: add accounts and posts, change counters, delete posts,
protect or suspend accounts, issue user-context tokens, lower rate limits, and ``inject``
faults (402 credits-depleted, 429 usage-capped, 5xx, 403 client-forbidden, slow answers,
non-JSON or wrong-shaped bodies). ``requests`` logs every call for counting.

Run it as a server: ``python -m openpost.platforms.x.fake --port 8081 --seed``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.x import fake_accounts
from openpost.platforms.x import fake_oauth as x_oauth
from openpost.platforms.x import fake_wire as wire

DEFAULT_APP_TOKEN = "fake-x-app-token"  # noqa: S105 - the fake's own well-known test token
TWEPOCH_MS = 1_288_834_974_657  # X's snowflake epoch (2010-11-04)
WINDOW = timedelta(minutes=15)
PRIVATE_FIELDS = ("non_public_metrics", "organic_metrics")
PRIVATE_METRICS_MAX_AGE = timedelta(days=30)

Endpoint = Literal[
    "users_by_username", "tweets_lookup", "user_tweets", "oauth2_token", "users_me",
    "users_lookup",
]  # fmt: skip
FaultKind = Literal[
    "credits_depleted", "usage_capped", "server_error", "forbidden", "not_json", "wrong_shape",
    "slow",
]  # fmt: skip

# (per app, per user) requests per 15 minutes, from X's current rate-limit table.
RATE_LIMITS: dict[Endpoint, tuple[int, int]] = {
    "users_by_username": (300, 900),
    "tweets_lookup": (3500, 5000),
    "user_tweets": (10000, 900),
    "users_lookup": (300, 900),
}

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")


@dataclass
class FakeAccount:
    id: str
    username: str
    name: str
    protected: bool = False
    suspended: bool = False
    # The account's own counters, under X's names (the users lookup's ``public_metrics``).
    public_metrics: dict[str, Any] = field(
        default_factory=lambda: {
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": 0,
            "listed_count": 0,
            "like_count": 0,
        }
    )


@dataclass(frozen=True)
class FakeMedia:
    """A photo, video or animated GIF attached to a post: X serves photos at ``url`` and a
    still of videos and GIFs at ``preview_image_url`` (both on pbs.twimg.com)."""

    media_key: str
    type: Literal["photo", "video", "animated_gif"]
    url: str


@dataclass
class FakePost:
    id: str
    author_id: str
    text: str
    created_at: datetime
    kind: Literal["post", "reply", "retweet"] = "post"
    # The platform's own counters, as X names them. Tests may put anything in here
    # (a string, a missing key) to make the fake answer with a malformed post.
    public_metrics: dict[str, Any] = field(default_factory=dict)
    non_public_metrics: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    media: list[FakeMedia] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    context: str  # "app", "user:<account id>" or "anonymous"


class FakeX(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(
        self,
        *,
        app_token: str = DEFAULT_APP_TOKEN,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.app_token = app_token
        self.user_tokens: dict[str, str] = {}
        self.user_token_expiry: dict[str, datetime] = {}  # tokens issued by the OAuth flow
        self.oauth = x_oauth.OAuthState()
        self.accounts: dict[str, FakeAccount] = {}
        self.posts: dict[str, FakePost] = {}
        self.rate_limits: dict[tuple[Endpoint, str], int] = {}
        for endpoint, (per_app, per_user) in RATE_LIMITS.items():
            self.rate_limits[(endpoint, "app")] = per_app
            self.rate_limits[(endpoint, "user")] = per_user
        self._windows = base.RateWindows[tuple[Endpoint, str]](WINDOW, whole_seconds=True)
        self._sequence = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_account(
        self,
        username: str,
        *,
        name: str | None = None,
        account_id: str | None = None,
        protected: bool = False,
    ) -> FakeAccount:
        with self._lock:
            joined = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=len(self.accounts))
            account = FakeAccount(
                id=account_id or self._snowflake(joined),
                username=username,
                name=name if name is not None else username.capitalize(),
                protected=protected,
            )
            self.accounts[account.id] = account
            return account

    def add_post(
        self,
        account: FakeAccount,
        *,
        text: str = "",
        created_at: datetime | None = None,
        post_id: str | None = None,
        kind: Literal["post", "reply", "retweet"] = "post",
        impressions: int = 0,
        likes: int = 0,
        replies: int = 0,
        retweets: int = 0,
        quotes: int = 0,
        bookmarks: int = 0,
    ) -> FakePost:
        with self._lock:
            when = created_at or self._now()
            post = FakePost(
                id=post_id or self._snowflake(when),
                author_id=account.id,
                text=text or f"post {len(self.posts) + 1} by @{account.username}",
                created_at=when,
                kind=kind,
                public_metrics={
                    "retweet_count": retweets,
                    "reply_count": replies,
                    "like_count": likes,
                    "quote_count": quotes,
                    "bookmark_count": bookmarks,
                    "impression_count": impressions,
                },
                non_public_metrics={
                    "impression_count": impressions,
                    "url_link_clicks": 0,
                    "user_profile_clicks": 0,
                },
            )
            self.posts[post.id] = post
            return post

    def set_counts(self, post_id: str, **counts: Any) -> None:
        """Change a post's public counters by X's names (``like_count=5``)."""
        with self._lock:
            self.posts[post_id].public_metrics.update(counts)

    def set_account_counts(self, account: FakeAccount, **counts: Any) -> None:
        """Set the account's own counters (``followers_count=…``), as X names them."""
        with self._lock:
            account.public_metrics.update(counts)

    def delete_post(self, post_id: str) -> None:
        with self._lock:
            self.posts[post_id].deleted = True

    def add_user_token(self, token: str, account: FakeAccount) -> None:
        """An OAuth 2.0 user-context token of ``account`` (unlocks its private metrics)."""
        with self._lock:
            self.user_tokens[token] = account.id

    def add_oauth_client(
        self, client_id: str, client_secret: str, *redirect_uris: str
    ) -> x_oauth.OAuthClient:
        """Register an app's OAuth 2.0 client and its callback URLs."""
        with self._lock:
            client = x_oauth.OAuthClient(client_id, client_secret, tuple(redirect_uris))
            self.oauth.clients[client_id] = client
            return client

    def set_consent(self, consent: x_oauth.Consent, account: FakeAccount | None = None) -> None:
        """What the consent page does: ``approve`` as ``account`` (kept if not given) or
        ``deny``."""
        with self._lock:
            self.oauth.consent = consent
            if account is not None:
                self.oauth.consenting = account

    def issue_user_token(
        self, account: FakeAccount, *, client_id: str, scope: str
    ) -> dict[str, Any]:
        """Tokens as the token endpoint would issue them to ``client_id``, without the
        consent round trip."""
        with self._lock:
            return x_oauth.issue(self, account.id, client_id, scope)

    def set_rate_limit(self, endpoint: Endpoint, limit: int, *, context: str = "app") -> None:
        """Change one endpoint's 15-minute limit (``context`` "app" or "user"); a new window
        starts with the next request."""
        with self._lock:
            self.rate_limits[(endpoint, context)] = limit
            self._windows.forget(lambda key: key[0] == endpoint)

    def inject(
        self,
        kind: FaultKind,
        *,
        endpoint: Endpoint | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        status: int = 503,
        period: str = "Monthly",
    ) -> None:
        """Make the next ``times`` matching requests fail (``None``: until ``clear_faults``).

        ``delay`` seconds pass before the answer (``slow`` answers normally after it);
        ``status`` is the 5xx of ``server_error``; ``period`` the usage cap's period.
        """
        self._add_fault(Fault(kind, endpoint, times, delay, status, detail=period))

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        paths: dict[str, Endpoint] = {
            "/2/users/me": "users_me",
            "/2/users": "users_lookup",
            "/2/users/by/username/{username}": "users_by_username",
            "/2/tweets": "tweets_lookup",
            "/2/users/{id}/tweets": "user_tweets",
        }
        oauth = [
            Route("/i/oauth2/authorize", self.handle_authorize, methods=["GET"]),
            Route("/2/oauth2/token", self.handle_token, methods=["POST"]),
        ]
        return oauth + base.endpoint_routes(self.handle, paths)

    def _not_found(self) -> Response:
        body = {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}
        return JSONResponse(body, status_code=404)

    def _snowflake(self, when: datetime) -> str:
        millis = int(when.timestamp() * 1000) - TWEPOCH_MS
        sequence = next(self._sequence)
        return str((millis << 22) | ((sequence >> 12) & 0x3FF) << 12 | (sequence & 0xFFF))

    def _context(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if token == self.app_token:
            return "app"
        if token in self.user_tokens:
            expires = self.user_token_expiry.get(token)
            if expires is not None and self._now() >= expires:
                return None  # expired: X answers 401
            return f"user:{self.user_tokens[token]}"
        return None

    async def handle_authorize(self, request: Request) -> Response:
        with self._lock:
            response = x_oauth.authorize(self, request)
            status = response.status_code
            record = RecordedRequest("authorize", request.url.path, {}, status, "browser")
            self.requests.append(record)
        return response

    async def handle_token(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            if fault is not None and fault.fails:
                response = wire.fault_response(fault.kind, status=fault.status, period="")
            else:
                response = x_oauth.token(self, request, form)
            params = {"grant_type": form.get("grant_type", "")}  # never the code or tokens
            path, status = request.url.path, response.status_code
            return response, RecordedRequest("oauth2_token", path, params, status, "client")

        return await self._serve("oauth2_token", answer)

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        with self._lock:
            context = self._context(request.headers.get("authorization"))

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._answer(request, endpoint, context, fault)
            params = dict(request.query_params)
            logged = context or "anonymous"
            path, status = request.url.path, response.status_code
            return response, RecordedRequest(endpoint, path, params, status, logged)

        return await self._serve(endpoint if context else None, answer)

    def _answer(
        self,
        request: Request,
        endpoint: Endpoint,
        context: str | None,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> Response:
        if context is None:
            return wire.problem(401, "Unauthorized")
        if fault is not None and fault.fails:
            return wire.fault_response(fault.kind, status=fault.status, period=fault.detail)
        if endpoint == "users_me":
            return x_oauth.me(self, context)
        kind = "user" if context.startswith("user:") else "app"
        limit = self.rate_limits[(endpoint, kind)]
        window, allowed = self._windows.spend((endpoint, context), limit, self._now())
        headers = {
            "x-rate-limit-limit": str(window.limit),
            "x-rate-limit-remaining": str(window.remaining),
            "x-rate-limit-reset": str(window.reset_epoch),
        }
        if not allowed:
            return wire.problem(429, "Too Many Requests", headers=headers)
        params = dict(request.query_params)
        path = request.path_params
        if endpoint == "users_by_username":
            status, payload = self._user_by_username(path["username"], params)
        elif endpoint == "tweets_lookup":
            status, payload = self._tweets_lookup(params, context)
        elif endpoint == "users_lookup":
            status, payload = fake_accounts.users_lookup(self, params)
        else:
            status, payload = self._user_tweets(path["id"], params, context)
        return JSONResponse(payload, status_code=status, headers=headers)

    def _user_by_username(self, username: str, params: dict[str, str]) -> tuple[int, Any]:
        if problem := wire.unknown_params(params, {"user.fields", "expansions", "tweet.fields"}):
            return problem
        if not _USERNAME.match(username):
            message = f"The `username` value [{username}] does not match {_USERNAME.pattern}"
            return wire.invalid("username", username, message)
        found = [a for a in self.accounts.values() if a.username.lower() == username.lower()]
        if not found:
            detail = f"Could not find user with username: [{username}]."
            return 200, {"errors": [wire.not_found(username, "user", "username", detail)]}
        account = found[0]
        if account.suspended:
            error = wire.suspended(username, "user", "username", account.username)
            return 200, {"errors": [error]}
        data: dict[str, Any] = {"id": account.id, "name": account.name}
        data["username"] = account.username
        if "protected" in params.get("user.fields", "").split(","):
            data["protected"] = account.protected
        return 200, {"data": data}

    def _tweets_lookup(self, params: dict[str, str], context: str) -> tuple[int, Any]:
        allowed = {"ids", "tweet.fields"} | wire.EXPANSION_PARAMS
        if problem := wire.unknown_params(params, allowed) or wire.bad_fields(params):
            return problem
        raw = params.get("ids", "")
        if not raw:
            return wire.invalid("ids", "", "The `ids` query parameter can not be empty")
        ids = raw.split(",")
        if not 1 <= len(ids) <= 100:
            message = f"The number of values in the `ids` query parameter list [{len(ids)}] "
            return wire.invalid("ids", raw, message + "is not between 1 and 100")
        for post_id in ids:
            if not wire.ID.match(post_id):
                return wire.invalid("ids", post_id, wire.not_valid("ids", post_id))
        fields = set(params.get("tweet.fields", "").split(","))
        data, errors = [], []
        for post_id in dict.fromkeys(ids):
            post = self.posts.get(post_id)
            error = self._post_error(post_id, post, context, fields, "ids")
            if error is not None:
                errors.append(error)
            elif post is not None:
                data.append(wire.render_post(post, fields))
        payload: dict[str, Any] = {}
        if data:
            payload["data"] = data
        if errors:
            payload["errors"] = errors
        return 200, payload

    def _user_tweets(self, user_id: str, params: dict[str, str], context: str) -> tuple[int, Any]:
        query = wire.timeline_query(user_id, params)
        if isinstance(query, tuple):
            return query

        account = self.accounts.get(user_id)
        if account is None:
            detail = f"Could not find user with id: [{user_id}]."
            return 200, {"errors": [wire.not_found(user_id, "user", "id", detail)]}
        if account.suspended:
            return 200, {"errors": [wire.suspended(user_id, "user", "id", account.username)]}
        if account.protected and context != f"user:{account.id}":
            detail = f"Sorry, you are not authorized to see the user with id: [{user_id}]."
            return 200, {"errors": [wire.not_authorized(user_id, "user", "id", detail)]}

        fields = query.fields
        timeline = sorted(
            (p for p in self.posts.values() if p.author_id == user_id and not p.deleted),
            key=lambda p: int(p.id),
            reverse=True,
        )[: 800 if "reply" in query.excluded else 3200]  # X's reach-back
        private = any(f in fields for f in PRIVATE_FIELDS)
        oldest = self._now() - PRIVATE_METRICS_MAX_AGE
        matching = [
            p
            for p in timeline
            if query.matches(int(p.id), p.kind, p.created_at)
            and (not private or p.created_at >= oldest)
        ]
        page, rest = matching[: query.max_results], matching[query.max_results :]
        data, errors = [], []
        for post in page:
            error = self._post_error(post.id, post, context, fields, "id")
            if error is not None:
                errors.append(error)
            else:
                data.append(wire.render_post(post, fields))
        meta: dict[str, Any] = {"result_count": len(data)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
        if page and rest:
            meta["next_token"] = wire.encode_token(int(page[-1].id))
        payload: dict[str, Any] = {"data": data} if data else {}
        media = wire.included_media(page, params)
        if media:
            payload["includes"] = {"media": media}
        if errors:
            payload["errors"] = errors
        payload["meta"] = meta
        return 200, payload

    def _post_error(
        self, post_id: str, post: FakePost | None, context: str, fields: Set[str], parameter: str
    ) -> dict[str, Any] | None:
        if post is None or post.deleted:
            detail = f"Could not find tweet with {parameter}: [{post_id}]."
            return wire.not_found(post_id, "tweet", parameter, detail)
        author = self.accounts[post.author_id]
        if author.suspended:
            return wire.suspended(post_id, "tweet", parameter, author.username)
        is_owner = context == f"user:{author.id}"
        if author.protected and not is_owner:
            detail = f"Sorry, you are not authorized to see the Tweet with id: [{post_id}]."
            return wire.not_authorized(post_id, "tweet", parameter, detail)
        young = post.created_at >= self._now() - PRIVATE_METRICS_MAX_AGE
        for private in PRIVATE_FIELDS:
            if private in fields and not (is_owner and young):
                return wire.field_forbidden(post_id, private)
        return None


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeX, *, posts: int = 60) -> FakeAccount:
    """A small, deterministic world: @openpost with ``posts`` posts over the last days (one
    every 4 hours, newest first), a protected account and a suspended one."""
    account = state.add_account("openpost", name="OpenPost")
    now = state.now()
    for n in range(posts):
        age = timedelta(hours=4 * n + 1)
        views = 5000 // (n + 1) + 40 * (posts - n)
        state.add_post(
            account,
            text=f"Seeded post #{posts - n}",
            created_at=now - age,
            impressions=views,
            likes=views // 25,
            replies=views // 400,
            retweets=views // 300,
            quotes=views // 1500,
            bookmarks=views // 800,
        )
    private = state.add_account("private_acct", name="Private", protected=True)
    state.add_post(private, text="for followers", created_at=now - timedelta(hours=2))
    gone = state.add_account("suspended_acct", name="Suspended")
    state.add_post(gone, text="before the ban", created_at=now - timedelta(hours=3))
    gone.suspended = True
    return account


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake X API v2 server.", port=8081, seed_help="create @openpost and a few posts"
    )
    parser.add_argument("--token", default=DEFAULT_APP_TOKEN, help="the app bearer token")
    parser.add_argument(
        "--oauth-client",
        metavar="ID:SECRET:CALLBACK",
        help="register an OAuth 2.0 client; with --seed, consent is given as @openpost",
    )
    args = parser.parse_args(argv)
    state = FakeX(app_token=args.token)
    owner = seed(state, posts=args.seed_posts) if args.seed else None
    if args.oauth_client:
        client_id, secret, callback = args.oauth_client.split(":", 2)
        state.add_oauth_client(client_id, secret, callback)
        state.set_consent("approve", owner)
    base.run_server(state.app, args, "fake X API")


if __name__ == "__main__":
    main()
