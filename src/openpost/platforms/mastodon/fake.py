"""A faithful fake of one Mastodon instance's API, as OpenPost reads it.

Endpoints: ``GET /api/v1/accounts/lookup?acct=``, ``GET /api/v1/accounts/:id/statuses``
(``limit`` clamped to 1..40, ``max_id``/``since_id``/``min_id``, ``exclude_reblogs``,
``exclude_replies`` keeping self-replies, ``Link`` paging whose ``next`` URL leaves
``since_id`` out, as Mastodon's does), ``GET /api/v1/statuses?id[]=`` (from version 4.3:
more than 20 ids is a 422, missing or invisible statuses are simply left out, the order is
not the request's), ``GET /api/v1/statuses/:id`` (404 ``{"error": "Record not found"}``),
and ``GET /api/v1/instance`` / ``/api/v2/instance`` with the version. Before 4.3 the
multi-status endpoint does not exist (404 with Rails' HTML page). ``quotes_count`` appears
from 4.5. Every answer carries ``X-RateLimit-Limit/Remaining/Reset`` (the reset an ISO 8601
time with microseconds); a spent window is a 429 ``{"error": "Too many requests"}``.

Tests drive a ``FakeMastodon``: add accounts and statuses (replies, boosts, private ones),
change counters (or put anything in them), delete statuses, switch the version, require
sign-in (``require_token``), lower the rate limit, and ``inject`` faults (5xx, 401, 403,
slow, non-JSON or wrong-shaped bodies). ``requests`` logs every call for counting.

Run it as a server: ``python -m openpost.platforms.mastodon.fake --port 8083 --seed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.mastodon import fake_wire as wire

DEFAULT_DOMAIN = "mastodon.example"
DEFAULT_VERSION = "4.3.2"
MAX_IDS = 20
DEFAULT_RATE_LIMIT = 300  # unauthenticated requests per 5 minutes per address
WINDOW = timedelta(minutes=5)

Endpoint = Literal["lookup", "account_statuses", "statuses", "status", "instance", "account"]
FaultKind = Literal["server_error", "unauthorized", "forbidden", "not_json", "wrong_shape", "slow"]


@dataclass
class FakeAccount:
    id: str
    username: str
    display_name: str
    created_at: datetime
    followers: int = 0
    following: int = 17
    locked: bool = False
    suspended: bool = False


@dataclass
class FakeStatus:
    id: str
    account_id: str
    content: str
    created_at: datetime
    visibility: str = "public"
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    reblog_of: str | None = None
    # The counters, by Mastodon's names. Tests may put anything in here (a string, a
    # missing key) to make the fake answer with a malformed status.
    counts: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, list[str]]]):
    token: str | None


class FakeMastodon(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """One instance's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(
        self,
        *,
        domain: str = DEFAULT_DOMAIN,
        version: str = DEFAULT_VERSION,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.domain = domain
        self.version = version
        self.accounts: dict[str, FakeAccount] = {}
        self.statuses: dict[str, FakeStatus] = {}
        self.tokens: set[str] = set()
        self.require_token = False
        self.rate_limit = DEFAULT_RATE_LIMIT
        self._window = base.RateWindows[None](WINDOW)
        self._sequence = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_account(
        self, username: str, *, display_name: str | None = None, account_id: str | None = None
    ) -> FakeAccount:
        with self._lock:
            account = FakeAccount(
                id=account_id or str(109_000_000_000_000_000 + len(self.accounts) + 1),
                username=username,
                display_name=display_name if display_name is not None else username.title(),
                created_at=datetime(2022, 11, 1, tzinfo=UTC) + timedelta(days=len(self.accounts)),
            )
            self.accounts[account.id] = account
            return account

    def add_status(
        self,
        account: FakeAccount,
        *,
        content: str = "",
        created_at: datetime | None = None,
        status_id: str | None = None,
        visibility: str = "public",
        reply_to: FakeStatus | None = None,
        replies: int = 0,
        reblogs: int = 0,
        favourites: int = 0,
        quotes: int = 0,
    ) -> FakeStatus:
        with self._lock:
            when = created_at or self._now()
            status = FakeStatus(
                id=status_id or wire.snowflake(when, next(self._sequence)),
                account_id=account.id,
                content=content or f"<p>status {len(self.statuses) + 1} by @{account.username}</p>",
                created_at=when,
                visibility=visibility,
                in_reply_to_id=reply_to.id if reply_to else None,
                in_reply_to_account_id=reply_to.account_id if reply_to else None,
                counts={
                    "replies_count": replies,
                    "reblogs_count": reblogs,
                    "favourites_count": favourites,
                    "quotes_count": quotes,
                },
            )
            self.statuses[status.id] = status
            return status

    def boost(
        self, account: FakeAccount, status: FakeStatus, *, created_at: datetime | None = None
    ) -> FakeStatus:
        with self._lock:
            when = created_at or self._now()
            made = FakeStatus(
                id=wire.snowflake(when, next(self._sequence)),
                account_id=account.id,
                content="",
                created_at=when,
                reblog_of=status.id,
                counts={
                    "replies_count": 0,
                    "reblogs_count": 0,
                    "favourites_count": 0,
                    "quotes_count": 0,
                },
            )
            self.statuses[made.id] = made
            return made

    def set_counts(self, status_id: str, **counts: Any) -> None:
        """Change a status's counters by Mastodon's names (``favourites_count=5``)."""
        with self._lock:
            self.statuses[status_id].counts.update(counts)

    def delete_status(self, status_id: str) -> None:
        with self._lock:
            self.statuses[status_id].deleted = True

    def set_rate_limit(self, limit: int) -> None:
        """Requests allowed per 5-minute window; a new window starts with the next call."""
        with self._lock:
            self.rate_limit = limit
            self._window.forget()

    # ---- serving -----------------------------------------------------------------------

    @property
    def has_multi_get(self) -> bool:
        return wire.version_at_least(self.version, (4, 3))

    def _routes(self) -> list[Route]:
        paths: dict[str, Endpoint] = {
            "/api/v1/accounts/lookup": "lookup",
            "/api/v1/accounts/{id}": "account",
            "/api/v1/accounts/{id}/statuses": "account_statuses",
            "/api/v1/statuses": "statuses",
            "/api/v1/statuses/{id}": "status",
            "/api/v1/instance": "instance",
            "/api/v2/instance": "instance",
        }
        return base.endpoint_routes(self.handle, paths)

    def _not_found(self) -> Response:
        return HTMLResponse(wire.HTML_404, status_code=404)

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        params = base.query_lists(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = token if scheme.lower() == "bearer" and token else None

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._answer(request, endpoint, params, given, fault)
            path, status = request.url.path, response.status_code
            return response, RecordedRequest(endpoint, path, params, status, given)

        return await self._serve(endpoint, answer)

    def _answer(
        self,
        request: Request,
        endpoint: Endpoint,
        params: dict[str, list[str]],
        token: str | None,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> Response:
        window, allowed = self._window.spend(None, self.rate_limit, self._now())
        headers = {
            "x-ratelimit-limit": str(window.limit),
            "x-ratelimit-remaining": str(window.remaining),
            "x-ratelimit-reset": wire.reset_timestamp(window.reset),
        }
        if not allowed:
            return JSONResponse(wire.TOO_MANY, status_code=429, headers=headers)
        if fault is not None and fault.fails:
            response = wire.fault_response(fault.kind, status=fault.status)
            response.headers.update(headers)
            return response
        if token is not None and token not in self.tokens:
            body = {"error": "The access token is invalid"}
            return JSONResponse(body, status_code=401, headers=headers)
        if self.require_token and token is None and endpoint != "instance":
            return JSONResponse(wire.AUTH_REQUIRED, status_code=401, headers=headers)
        signed_in = token is not None
        path = request.path_params
        extra: dict[str, str] = {}
        if endpoint == "lookup":
            status, payload = self._lookup(params)
        elif endpoint == "account_statuses":
            status, payload, extra = self._account_statuses(path["id"], params, signed_in)
        elif endpoint == "statuses":
            if not self.has_multi_get:
                return HTMLResponse(wire.HTML_404, status_code=404, headers=headers)
            status, payload = self._statuses(params, signed_in)
        elif endpoint == "status":
            status, payload = self._status(path["id"], signed_in)
        elif endpoint == "account":  # GET /api/v1/accounts/:id (SPEC §9.4 account reads)
            found = self.accounts.get(path["id"])
            status, payload = (200, self._account(found)) if found else (404, wire.NOT_FOUND)
        else:
            status, payload = 200, self._instance(request.url.path)
        return JSONResponse(payload, status_code=status, headers={**headers, **extra})

    def _account(self, account: FakeAccount) -> dict[str, Any]:
        count = sum(s.account_id == account.id and not s.deleted for s in self.statuses.values())
        return wire.account_entity(account, self.domain, statuses=count)

    def _render(self, status: FakeStatus) -> dict[str, Any]:
        account = self._account(self.accounts[status.account_id])
        quotes = wire.version_at_least(self.version, (4, 5))
        reblog = None
        if status.reblog_of is not None:
            reblog = self._render(self.statuses[status.reblog_of])
        return wire.status_entity(status, account, self.domain, quotes=quotes, reblog=reblog)

    def _visible(self, status: FakeStatus | None, signed_in: bool) -> bool:
        if status is None or status.deleted:
            return False
        if self.accounts[status.account_id].suspended:
            return False
        if status.reblog_of is not None and not self._visible(
            self.statuses.get(status.reblog_of), signed_in
        ):
            return False
        return signed_in or status.visibility in wire.VISIBLE_WITHOUT_TOKEN

    def _lookup(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        acct = (params.get("acct") or [""])[0].strip().removeprefix("@")
        user, _, domain = acct.partition("@")
        if not user or (domain and domain.lower() != self.domain):
            return 404, wire.NOT_FOUND
        for account in self.accounts.values():
            if account.username.lower() == user.lower():
                return 200, self._account(account)
        return 404, wire.NOT_FOUND

    def _account_statuses(
        self, account_id: str, params: dict[str, list[str]], signed_in: bool
    ) -> tuple[int, Any, dict[str, str]]:
        account = self.accounts.get(account_id)
        if account is None:
            return 404, wire.NOT_FOUND, {}
        one = {name: values[0] for name, values in params.items()}
        limit = wire.limit_param(one.get("limit"))
        bounds = {
            n: int(one[n]) for n in ("max_id", "since_id", "min_id") if one.get(n, "").isdigit()
        }
        chosen = []
        for status in sorted(self.statuses.values(), key=lambda s: int(s.id), reverse=True):
            number = int(status.id)
            if status.account_id != account_id or not self._visible(status, signed_in):
                continue
            if wire.truthy(one.get("exclude_reblogs")) and status.reblog_of is not None:
                continue
            replying_to_other = status.in_reply_to_id is not None and (
                status.in_reply_to_account_id != account_id
            )
            if wire.truthy(one.get("exclude_replies")) and replying_to_other:
                continue
            if "max_id" in bounds and number >= bounds["max_id"]:
                continue
            if "since_id" in bounds and number <= bounds["since_id"]:
                continue
            if "min_id" in bounds and number <= bounds["min_id"]:
                continue
            chosen.append(status)
        page = chosen[-limit:] if "min_id" in bounds else chosen[:limit]
        base = f"https://{self.domain}/api/v1/accounts/{account_id}/statuses"
        link = wire.link_header(
            base,
            one,
            page[0].id if page else None,
            page[-1].id if page else None,
            more=len(page) == limit,
        )
        return 200, [self._render(s) for s in page], ({"link": link} if link else {})

    def _statuses(self, params: dict[str, list[str]], signed_in: bool) -> tuple[int, Any]:
        ids = params.get("id[]", []) + params.get("id", [])
        if len(ids) > MAX_IDS:
            return 422, {"error": f"Validation failed: too many ids (at most {MAX_IDS})"}
        found = [self.statuses[i] for i in dict.fromkeys(ids) if i in self.statuses]
        visible = [s for s in found if self._visible(s, signed_in)]
        visible.sort(key=lambda s: int(s.id))  # the database's order, not the request's
        return 200, [self._render(s) for s in visible]

    def _status(self, status_id: str, signed_in: bool) -> tuple[int, Any]:
        status = self.statuses.get(status_id)
        if status is None or not self._visible(status, signed_in):
            return 404, wire.NOT_FOUND
        return 200, self._render(status)

    def _instance(self, path: str) -> dict[str, Any]:
        if path.startswith("/api/v2/"):
            return {"domain": self.domain, "title": "Fake Mastodon", "version": self.version}
        return {"uri": self.domain, "title": "Fake Mastodon", "version": self.version}


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeMastodon, *, posts: int = 60) -> FakeAccount:
    """A small, deterministic world: ``@openpost`` with ``posts`` public statuses (one every
    4 hours, newest first), a self-reply, a reply to a friend, a boost of the friend's
    status, a followers-only status and a deleted one."""
    account = state.add_account("openpost", display_name="OpenPost")
    friend = state.add_account("friend", display_name="Friend")
    now = state.now()
    theirs = state.add_status(friend, content="<p>hello</p>", created_at=now - timedelta(hours=30))
    made: list[FakeStatus] = []
    for n in range(posts):
        reach = 2000 // (n + 1) + 20 * (posts - n)
        made.append(
            state.add_status(
                account,
                content=f"<p>Seeded status #{posts - n}</p>",
                created_at=now - timedelta(hours=4 * n + 1),
                favourites=reach // 15,
                reblogs=reach // 120,
                replies=reach // 250,
                quotes=reach // 1000,
            )
        )
    if made:
        state.add_status(account, reply_to=made[-1], created_at=now - timedelta(hours=2))
    state.add_status(account, reply_to=theirs, created_at=now - timedelta(hours=3))
    state.boost(account, theirs, created_at=now - timedelta(hours=5))
    state.add_status(account, visibility="private", created_at=now - timedelta(hours=6))
    gone = state.add_status(account, created_at=now - timedelta(hours=7))
    state.delete_status(gone.id)
    return account


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run a fake Mastodon instance's API.", port=8083, seed_help="create @openpost and statuses"
    )
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="the instance's domain")
    parser.add_argument("--version", default=DEFAULT_VERSION, help="e.g. 4.2.10 for no multi-get")
    args = parser.parse_args(argv)
    state = FakeMastodon(domain=args.domain, version=args.version)
    if args.seed:
        seed(state, posts=args.seed_posts)
    base.run_server(state.app, args, f"fake Mastodon {args.domain} ({args.version})")


if __name__ == "__main__":
    main()
