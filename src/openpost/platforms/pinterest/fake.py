"""A faithful fake of the Pinterest API v5 endpoints OpenPost reads.

Endpoints: ``GET /v5/user_account``, ``GET /v5/pins`` (bookmark paging, ``page_size``
1..250, ``pin_filter``), ``GET /v5/pins/{pin_id}/analytics`` (one Pin; 90-day reach-back
and range checked: 400 "Invalid pins analytics parameters."), the beta bulk
``GET /v5/pins/analytics?pin_ids=`` (≤100; only when ``bulk_enabled``, else 403 code 29;
Pins it cannot read are left out), plus the OAuth side (``GET /oauth/``,
``POST /v5/oauth/token``: rules in ``fake_oauth``). Errors are ``{"code", "message"}``:
401 code 2, 403 codes 29 / 403, 404 code 50, 429 code 8, 503 code 4197.

Rate limits (Trial access): requests per UTC day per app, per category (``org_read``,
``org_analytics``), reported in ``x-ratelimit-limit`` / ``-remaining`` / ``-reset`` (seconds
until the reset; Pinterest's own header names are not documented) with ``Retry-After`` on a
429. Daily analytics: the days before a Pin's creation are ``BEFORE_PIN_CREATED``, the
newest ``processing_days`` are ``PROCESSING``; lifetime reactions and comments exist only
for Pins created after 2023-03-20.

Tests drive a ``FakePinterest``: add users and Pins, add daily counts, delete Pins, lower
the daily limits, and ``inject`` faults (``rate_limited``, ``expired_token``,
``server_error``, ``ramped_down``, ``not_json``, ``slow``). ``requests`` logs every call.

Run it as a server: ``python -m openpost.platforms.pinterest.fake --port 8086 --seed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.pinterest import fake_oauth as oauth
from openpost.platforms.pinterest import fake_wire as wire

Endpoint = Literal["oauth_token", "user_account", "pins_list", "pin_analytics", "bulk_analytics"]
FaultKind = Literal[
    "rate_limited", "expired_token", "server_error", "ramped_down", "not_json", "slow"
]
CATEGORIES: dict[Endpoint, str] = {
    "oauth_token": "org_read",
    "user_account": "org_read",
    "pins_list": "org_read",
    "pin_analytics": "org_analytics",
    "bulk_analytics": "org_analytics",
}
TRIAL_DAILY = 1000
PAGE_MAX = 250
BULK_MAX = 100
REACH_BACK = timedelta(days=90)
ANALYTICS_SCOPES = frozenset({"pins:read", "boards:read"})


@dataclass
class FakeUser:
    id: str
    username: str
    business_name: str
    follower_count: int = 0
    following_count: int = 0
    board_count: int = 1
    monthly_views: int = 0
    saved_pins: int = 0

    pin_count: int = 0  # kept up to date by the fake: created + saved


@dataclass
class FakePin:
    id: str
    owner: FakeUser
    created_at: datetime
    title: str
    description: str
    board_id: str
    # Daily counts by Pinterest's metric names; a test may put anything here (a string)
    # to make the answer malformed.
    daily: dict[date, dict[str, Any]] = field(default_factory=dict)
    reactions: Any = 0
    comments: Any = 0
    deleted: bool = False
    repin: bool = False


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    user: str  # whose token: the user id, "client" (token endpoint), "browser" or "anonymous"


class FakePinterest(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(self, *, now: Callable[[], datetime] = clock.now) -> None:
        self.oauth = oauth.OAuthState()
        self.users: dict[str, FakeUser] = {}
        self.pins: dict[str, FakePin] = {}
        self.daily_limits: dict[str, int] = {"org_read": TRIAL_DAILY, "org_analytics": TRIAL_DAILY}
        self._used: dict[tuple[str, date], int] = {}
        self.bulk_enabled = False
        self.processing_days = 1
        self.app_key = "ALL"  # some clients see "all"
        self._ids = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_user(
        self, username: str, *, business_name: str = "", followers: int = 0, following: int = 0
    ) -> FakeUser:
        with self._lock:
            user_id = str(1_000_000_000_000_000_000 + len(self.users) * 7919 + 17)
            user = FakeUser(
                user_id, username, business_name or username.capitalize(), followers, following
            )
            self.users[user.id] = user
            return user

    def add_pin(
        self,
        user: FakeUser,
        *,
        created_at: datetime | None = None,
        title: str = "",
        impressions: int = 0,
        saves: int = 0,
        pin_clicks: int = 0,
        outbound_clicks: int = 0,
        reactions: int = 0,
        comments: int = 0,
        pin_id: str | None = None,
    ) -> FakePin:
        """A Pin of ``user``; the given counts land on its creation day."""
        with self._lock:
            when = (created_at or self._now()).astimezone(UTC).replace(microsecond=0)
            number = next(self._ids)
            pin = FakePin(
                id=pin_id or str(int(when.timestamp()) * 1000 + number % 1000 + 10**18),
                owner=user,
                created_at=when,
                title=title or f"Pin {number}",
                description=f"seeded pin {number}",
                board_id=str(9 * 10**17 + int(user.id) % 10**6),
                reactions=reactions,
                comments=comments,
            )
            pin.daily[when.date()] = {
                "IMPRESSION": impressions,
                "SAVE": saves,
                "PIN_CLICK": pin_clicks,
                "OUTBOUND_CLICK": outbound_clicks,
            }
            self.pins[pin.id] = pin
            user.pin_count += 1
            return pin

    def add_counts(self, pin_id: str, day: date | None = None, **metrics: int) -> None:
        """Add daily counts (``IMPRESSION=40``) to a day (today by default)."""
        with self._lock:
            pin = self.pins[pin_id]
            entry = pin.daily.setdefault(day or self._now().astimezone(UTC).date(), {})
            for name, value in metrics.items():
                entry[name] = entry.get(name, 0) + value

    def set_lifetime(self, pin_id: str, *, reactions: Any = None, comments: Any = None) -> None:
        with self._lock:
            pin = self.pins[pin_id]
            if reactions is not None:
                pin.reactions = reactions
            if comments is not None:
                pin.comments = comments

    def delete_pin(self, pin_id: str) -> None:
        with self._lock:
            pin = self.pins[pin_id]
            if not pin.deleted:
                pin.deleted = True
                pin.owner.pin_count -= 1

    def add_app(self, client_id: str, client_secret: str, *redirect_uris: str) -> oauth.OAuthApp:
        with self._lock:
            app = oauth.OAuthApp(client_id, client_secret, tuple(redirect_uris))
            self.oauth.apps[client_id] = app
            return app

    def set_consent(self, consent: oauth.Consent, user: FakeUser | None = None) -> None:
        with self._lock:
            self.oauth.consent = consent
            if user is not None:
                self.oauth.consenting = user

    def issue_tokens(
        self,
        user: FakeUser,
        *,
        client_id: str,
        scope: str = "boards:read,pins:read,user_accounts:read",
    ) -> dict[str, Any]:
        """Tokens as the token endpoint issues them, without the consent round trip."""
        with self._lock:
            return oauth.issue(self, user.id, client_id, scope)

    def expire_access_token(self, access_token: str) -> None:
        with self._lock:
            self.oauth.access_tokens[access_token].expires_at = self._now()

    def revoke_refresh_token(self, refresh_token: str) -> None:
        with self._lock:
            self.oauth.refresh_tokens.pop(refresh_token, None)

    def set_daily_limit(self, category: str, limit: int) -> None:
        with self._lock:
            self.daily_limits[category] = limit

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        paths: dict[str, Endpoint] = {
            "/v5/user_account": "user_account",
            "/v5/pins": "pins_list",
            "/v5/pins/analytics": "bulk_analytics",
            "/v5/pins/{pin_id}/analytics": "pin_analytics",
        }
        return [
            Route("/oauth/", self.handle_authorize, methods=["GET"]),
            Route("/v5/oauth/token", self.handle_token, methods=["POST"]),
            *base.endpoint_routes(self.handle, paths),
        ]

    def _not_found(self) -> Response:
        return wire.error(404, 404, "Not found.")

    async def handle_authorize(self, request: Request) -> Response:
        with self._lock:
            response = oauth.authorize(self, request)
            self.requests.append(
                RecordedRequest("authorize", request.url.path, {}, response.status_code, "browser")
            )
        return response

    async def handle_token(self, request: Request) -> Response:
        form = dict(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            if fault is not None and fault.fails and fault.kind != "expired_token":
                response = self._fault(fault, {})
            else:
                response = oauth.token(self, request, form)
            logged = {
                "grant_type": form.get("grant_type", ""),
                "continuous_refresh": form.get("continuous_refresh", ""),
            }
            return response, RecordedRequest(
                "oauth_token", request.url.path, logged, response.status_code, "client"
            )

        return await self._serve("oauth_token", answer)

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        with self._lock:
            token = self._token(request.headers.get("authorization"))

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._answer(request, endpoint, token, fault)
            user = token.user_id if token is not None else "anonymous"
            record = RecordedRequest(
                endpoint, request.url.path, dict(request.query_params), response.status_code, user
            )
            return response, record

        return await self._serve(endpoint if token is not None else None, answer)

    def _token(self, authorization: str | None) -> oauth.AccessToken | None:
        scheme, _, value = (authorization or "").partition(" ")
        found = self.oauth.access_tokens.get(value) if scheme.lower() == "bearer" else None
        if found is None or self._now() >= found.expires_at:
            return None
        return found

    def _fault(self, fault: Fault[FaultKind, Endpoint], headers: dict[str, str]) -> Response:
        if fault.kind == "rate_limited":
            return wire.rate_limited(
                {**headers, "retry-after": headers.get("x-ratelimit-reset", "60")}
            )
        if fault.kind == "expired_token":
            return wire.unauthorized()
        if fault.kind == "ramped_down":
            return wire.ramped_down()
        if fault.kind == "not_json":
            return Response("<html>upstream</html>", 200, media_type="text/html")
        return wire.server_error(fault.status)

    def _spend(self, category: str) -> tuple[dict[str, str], bool]:
        now = self._now().astimezone(UTC)
        day = now.date()
        limit = self.daily_limits[category]
        used = self._used.get((category, day), 0)
        allowed = used < limit
        if allowed:
            used = self._used[(category, day)] = used + 1
        reset = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-reset": str(int((reset - now).total_seconds())),
        }
        return headers, allowed

    def _answer(
        self,
        request: Request,
        endpoint: Endpoint,
        token: oauth.AccessToken | None,
        fault: Fault[FaultKind, Endpoint] | None,
    ) -> Response:
        if token is None:
            return wire.unauthorized()
        headers, allowed = self._spend(CATEGORIES[endpoint])
        if fault is not None and fault.fails:
            return self._fault(fault, headers)
        if not allowed:
            return wire.rate_limited({**headers, "retry-after": headers["x-ratelimit-reset"]})
        params = dict(request.query_params)
        user = self.users[token.user_id]
        if endpoint == "user_account":
            if "user_accounts:read" not in token.scope:
                return wire.not_permitted()
            response: Response = JSONResponse(wire.account_json(user))
        elif not token.scope.issuperset(ANALYTICS_SCOPES):
            return wire.not_permitted()
        elif endpoint == "pins_list":
            response = self._pins_list(user, params)
        elif endpoint == "pin_analytics":
            response = self._pin_analytics(user, request.path_params["pin_id"], params)
        else:
            response = self._bulk_analytics(user, params)
        response.headers.update(headers)
        return response

    def _pins_list(self, user: FakeUser, params: dict[str, str]) -> Response:
        try:
            size = int(params.get("page_size", "25"))
        except ValueError:
            size = 0
        if not 1 <= size <= PAGE_MAX:
            return wire.error(400, 1, f"page_size must be between 1 and {PAGE_MAX}.")
        pins = sorted(
            (p for p in self.pins.values() if p.owner is user and not p.deleted),
            key=lambda p: (p.created_at, int(p.id)),
            reverse=True,
        )
        if params.get("pin_filter") == "exclude_repins":
            pins = [p for p in pins if not p.repin]
        start = 0
        if bookmark := params.get("bookmark"):
            try:
                start = int(bookmark.removeprefix("bm-"))
            except ValueError:
                return wire.error(400, 1, "Invalid bookmark.")
        page = pins[start : start + size]
        more = start + size < len(pins)
        return JSONResponse(
            {
                "items": [wire.pin_json(p) for p in page],
                "bookmark": f"bm-{start + size}" if more else None,
            }
        )

    def _window(self, params: dict[str, str]) -> tuple[date, date, list[str]] | None:
        start, end = (
            wire.parse_day(params.get("start_date")),
            wire.parse_day(params.get("end_date")),
        )
        metrics = [m for m in params.get("metric_types", "").split(",") if m]
        today = self._now().astimezone(UTC).date()
        if (
            start is None
            or end is None
            or not metrics
            or any(m not in wire.KNOWN_METRICS for m in metrics)
        ):
            return None
        if (
            start < today - timedelta(days=REACH_BACK.days)
            or end < start
            or end - start > REACH_BACK
        ):
            return None
        return start, end, metrics

    def _section(self, pin: FakePin, window: tuple[date, date, list[str]]) -> dict[str, Any]:
        start, end, metrics = window
        today = self._now().astimezone(UTC).date()
        return wire.analytics_section(
            pin,
            start,
            end,
            metrics,
            today=today,
            processing_days=self.processing_days,
            app_key=self.app_key,
        )

    def _pin_analytics(self, user: FakeUser, pin_id: str, params: dict[str, str]) -> Response:
        window = self._window(params)
        if window is None:
            return wire.bad_analytics()
        pin = self.pins.get(pin_id)
        if pin is None or pin.deleted:
            return wire.pin_not_found()
        if pin.owner is not user:
            return wire.not_your_pin()
        return JSONResponse(self._section(pin, window))

    def _bulk_analytics(self, user: FakeUser, params: dict[str, str]) -> Response:
        if not self.bulk_enabled:
            return wire.not_permitted()
        ids = [i for i in params.get("pin_ids", "").split(",") if i]
        if not 1 <= len(ids) <= BULK_MAX:
            return wire.error(400, 1, "Invalid multi_pins analytics parameters.")
        window = self._window(params)
        if window is None:
            return wire.error(400, 1, "Invalid multi_pins analytics parameters.")
        body = {}
        for pin_id in dict.fromkeys(ids):
            pin = self.pins.get(pin_id)
            if pin is not None and not pin.deleted and pin.owner is user:
                body[pin_id] = self._section(pin, window)
        return JSONResponse(body)


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakePinterest, *, pins: int = 30) -> FakeUser:
    """``openpost`` with ``pins`` Pins, one a day back from now, with daily counts."""
    user = state.add_user("openpost", business_name="OpenPost", followers=1200, following=80)
    now = state.now()
    for n in range(pins):
        pin = state.add_pin(
            user,
            created_at=now - timedelta(days=n, hours=1),
            title=f"Seeded Pin #{pins - n}",
            impressions=300 + 10 * n,
            saves=5 + n,
            pin_clicks=12,
            outbound_clicks=3,
            reactions=4 + n,
            comments=n % 5,
        )
        for back in range(1, n + 1):
            state.add_counts(pin.id, (now - timedelta(days=n - back)).date(), IMPRESSION=20, SAVE=1)
    return user


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake Pinterest API v5 server.",
        port=8086,
        seed_help="create openpost and its Pins",
        seed_count="pins",
        seed_default=30,
    )
    parser.add_argument(
        "--oauth-client",
        metavar="ID:SECRET:CALLBACK",
        help="register an app; with --seed, consent is given as openpost",
    )
    parser.add_argument("--bulk", action="store_true", help="the app has the beta bulk analytics")
    args = parser.parse_args(argv)
    state = FakePinterest()
    state.bulk_enabled = args.bulk
    owner = seed(state, pins=args.seed_pins) if args.seed else None
    if args.oauth_client:
        client_id, secret, callback = args.oauth_client.split(":", 2)
        state.add_app(client_id, secret, callback)
        state.set_consent("approve", owner)
    base.run_server(state.app, args, "fake Pinterest API")


if __name__ == "__main__":
    main()
