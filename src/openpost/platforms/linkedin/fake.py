"""A faithful fake of the LinkedIn APIs OpenPost reads (Community Management API).

Endpoints (one app serves both hosts: ``www.linkedin.com`` for OAuth, ``api.linkedin.com``):
``GET /oauth/v2/authorization``, ``POST /oauth/v2/accessToken`` (``fake_oauth``),
``GET /v2/me``, and under ``/rest`` (each needs ``LinkedIn-Version``, else 400
``VERSION_MISSING``; a version outside the active range is 426; and
``X-Restli-Protocol-Version: 2.0.0``): ``organizationAcls``, ``organizations/{id}``,
``posts`` (the author finder, with ``X-RestLi-Method: FINDER``), ``posts/{urn}``,
``organizationalEntityShareStatistics`` (``shares=List(…)``/``ugcPosts=List(…)`` or the
``shares[0]=`` form; posts deleted or without statistics yet are left out),
``memberCreatorPostAnalytics`` (one ``queryType``, one post) and ``networkSizes/{org}``.

Tokens are checked as LinkedIn does: unknown 401 INVALID_ACCESS_TOKEN, expired 401
EXPIRED_ACCESS_TOKEN, revoked 401 REVOKED_ACCESS_TOKEN; a missing scope or a member who is
not the page's administrator 403 ACCESS_DENIED. Daily limits per endpoint, per app and per
member (``set_daily_limit``), reset at 00:00 UTC: over them a 429 with the APPLICATION DAY
or MEMBER DAY message. Faults: ``server_error``, ``not_json``, ``slow``, ``app_day``,
``member_day``. ``requests`` logs every call (endpoint, query, status, whose token).

Run it: ``python -m openpost.platforms.linkedin.fake --port 8086 --seed`` (``fake_server``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault
from openpost.platforms.linkedin import fake_oauth as oauth
from openpost.platforms.linkedin import fake_wire as wire

Endpoint = Literal[
    "me",
    "organization_acls",
    "organizations",
    "posts",
    "post",
    "share_statistics",
    "member_analytics",
    "network_sizes",
    "access_token",
]
FaultKind = Literal["server_error", "not_json", "slow", "app_day", "member_day"]
OLDEST_VERSION, NEWEST_VERSION = "202512", "202611"
MEMBER_METRICS = (
    "IMPRESSION",
    "MEMBERS_REACHED",
    "RESHARE",
    "REACTION",
    "COMMENT",
    "POST_SAVE",
    "POST_SEND",
    "LINK_CLICKS",
)
APP_SCOPES = frozenset(
    {"r_organization_social", "rw_organization_admin", "r_member_postAnalytics", "r_basicprofile"}
)
_ids = itertools.count(7_400_000_000_000_000_001)


@dataclass
class FakeMember:
    id: str
    first_name: str
    last_name: str
    vanity: str

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"


@dataclass
class FakeOrganization:
    id: int
    name: str
    vanity: str
    followers: int = 0
    admins: set[str] = field(default_factory=set)

    @property
    def urn(self) -> str:
        return f"urn:li:organization:{self.id}"


@dataclass
class FakePost:
    urn: str
    author: str
    commentary: str
    published_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)  # org: totalShareStatistics names
    member_counts: dict[str, int] = field(default_factory=dict)  # member: queryType → count
    deleted: bool = False
    pending: bool = False  # no statistics yet


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, str]]):
    context: str  # "member:<id>", "client" or "anonymous"
    version: str


class FakeLinkedIn(base.FakePlatform[Endpoint, FaultKind, RecordedRequest]):
    def __init__(self, *, now: Callable[[], datetime] = clock.now) -> None:
        self.oauth = oauth.OAuthState()
        self.app_scopes: frozenset[str] = APP_SCOPES
        self.tokens: dict[str, oauth.AccessToken] = {}
        self.members: dict[str, FakeMember] = {}
        self.organizations: dict[int, FakeOrganization] = {}
        self.posts: dict[str, FakePost] = {}
        self.oldest_version, self.newest_version = OLDEST_VERSION, NEWEST_VERSION
        self.app_limits: dict[str, int] = {}  # endpoint → calls per UTC day (absent: none)
        self.member_limits: dict[str, int] = {}
        self._used: Counter[tuple[str, str, str]] = Counter()  # (day, endpoint, who)
        super().__init__(now=now)

    # ---- arranging -----------------------------------------------------------------------

    def add_member(self, first: str, last: str, *, member_id: str | None = None) -> FakeMember:
        with self._lock:
            member_id = member_id or f"m{len(self.members) + 1:03d}Xy"
            member = FakeMember(member_id, first, last, f"{first}-{last}".lower())
            self.members[member.id] = member
            return member

    def add_organization(
        self, name: str, *, admin: FakeMember | None = None, followers: int = 0
    ) -> FakeOrganization:
        with self._lock:
            org = FakeOrganization(2_414_000 + len(self.organizations) + 1, name, name.lower())
            org.followers = followers
            if admin is not None:
                org.admins.add(admin.id)
            self.organizations[org.id] = org
            return org

    def add_post(
        self,
        author: FakeOrganization | FakeMember,
        *,
        kind: Literal["share", "ugcPost"] = "share",
        published_at: datetime | None = None,
        impressions: int = 0,
        likes: int = 0,
        comments: int = 0,
        shares: int = 0,
        text: str = "",
    ) -> FakePost:
        with self._lock:
            urn = f"urn:li:{kind}:{next(_ids)}"
            post = FakePost(
                urn, author.urn, text or f"post {len(self.posts) + 1}", published_at or self._now()
            )
            self.posts[urn] = post
            self.set_counts(
                urn, impressions=impressions, likes=likes, comments=comments, shares=shares
            )
            return post

    def set_counts(
        self, urn: str, *, impressions: int, likes: int, comments: int, shares: int
    ) -> None:
        """Both views of a post's counters: share statistics and member analytics."""
        with self._lock:
            post = self.posts[urn]
            clicks = impressions // 30
            post.stats = {
                "impressionCount": impressions,
                "uniqueImpressionsCount": impressions * 2 // 3,
                "clickCount": clicks,
                "likeCount": likes,
                "commentCount": comments,
                "shareCount": shares,
                "engagement": round((clicks + likes + comments + shares) / impressions, 4)
                if impressions
                else 0.0,
            }
            post.member_counts = {
                "IMPRESSION": impressions,
                "MEMBERS_REACHED": impressions * 2 // 3,
                "REACTION": likes,
                "COMMENT": comments,
                "RESHARE": shares,
            }

    def delete_post(self, urn: str) -> None:
        with self._lock:
            self.posts[urn].deleted = True

    def add_oauth_client(self, client_id: str, secret: str, *redirect_uris: str) -> None:
        with self._lock:
            self.oauth.clients[client_id] = oauth.OAuthClient(client_id, secret, redirect_uris)

    def set_consent(self, consent: oauth.Consent, member: FakeMember | None = None) -> None:
        with self._lock:
            self.oauth.consent = consent
            self.oauth.consenting = member.id if member is not None else self.oauth.consenting

    def issue_tokens(self, member: FakeMember, client_id: str, scope: str) -> dict[str, Any]:
        with self._lock:
            return oauth.issue(self, member.id, client_id, scope)

    def expire_access_tokens(self) -> None:
        with self._lock:
            for access in self.tokens.values():
                access.expires_at = min(access.expires_at, self._now())

    def revoke(self, member: FakeMember) -> None:
        """The member revoked the app: its tokens and refresh tokens stop working."""
        with self._lock:
            for access in self.tokens.values():
                access.revoked = access.revoked or access.member_id == member.id
            for grant in self.oauth.refresh_tokens.values():
                grant.revoked = grant.revoked or grant.member_id == member.id

    def set_daily_limit(
        self, endpoint: Endpoint, *, app: int | None = None, member: int | None = None
    ) -> None:
        with self._lock:
            for limits, value in ((self.app_limits, app), (self.member_limits, member)):
                if value is None:
                    limits.pop(endpoint, None)
                else:
                    limits[endpoint] = value

    # ---- serving -------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        paths: dict[str, Endpoint] = {
            "/v2/me": "me",
            "/rest/organizationAcls": "organization_acls",
            "/rest/organizations/{id}": "organizations",
            "/rest/posts": "posts",
            "/rest/posts/{urn}": "post",
            "/rest/organizationalEntityShareStatistics": "share_statistics",
            "/rest/memberCreatorPostAnalytics": "member_analytics",
            "/rest/networkSizes/{urn}": "network_sizes",
        }
        return [
            Route("/oauth/v2/authorization", self.handle_authorize, methods=["GET"]),
            Route("/oauth/v2/accessToken", self.handle_token, methods=["POST"]),
            *base.endpoint_routes(self.handle, paths),
        ]

    def _not_found(self) -> Response:
        return wire.error(404, "NOT_FOUND", "No virtual resource found", 0)

    async def handle_authorize(self, request: Request) -> Response:
        with self._lock:
            response = oauth.authorize(self, request)
            self.requests.append(
                RecordedRequest(
                    "authorize", request.url.path, {}, response.status_code, "browser", ""
                )
            )
        return response

    async def handle_token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))

        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response = self._fault(fault) if fault and fault.fails else oauth.token(self, form)
            params = {"grant_type": form.get("grant_type", "")}  # never a code or token
            record = RecordedRequest(
                "access_token", request.url.path, params, response.status_code, "client", ""
            )
            return response, record

        return await self._serve("access_token", answer)

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        def answer(fault: Fault[FaultKind, Endpoint] | None) -> tuple[Response, RecordedRequest]:
            response, context = self._answer(request, endpoint, fault)
            version = request.headers.get("linkedin-version", "")
            record = RecordedRequest(
                endpoint,
                request.url.path,
                dict(request.query_params),
                response.status_code,
                context,
                version,
            )
            return response, record

        return await self._serve(endpoint, answer)

    def _fault(self, fault: Fault[FaultKind, Endpoint]) -> Response:
        if fault.kind == "not_json":
            return Response("<html>maintenance</html>", 200, media_type="text/html")
        if fault.kind in ("app_day", "member_day"):
            return wire.throttled(app=fault.kind == "app_day")
        return wire.error(fault.status, "INTERNAL_SERVER_ERROR", "Internal Server Error", 0)

    def _answer(
        self, request: Request, endpoint: Endpoint, fault: Fault[FaultKind, Endpoint] | None
    ) -> tuple[Response, str]:
        rest = request.url.path.startswith("/rest/")
        if rest:
            problem = wire.version_problem(
                request.headers.get("linkedin-version"), self.oldest_version, self.newest_version
            )
            if problem is not None:
                return problem, "anonymous"
            if request.headers.get("x-restli-protocol-version") != "2.0.0":
                return wire.bad_request(
                    "Rest.li protocol 2.0.0 is required (List syntax)"
                ), "anonymous"
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        access = self.tokens.get(value) if scheme.lower() == "bearer" else None
        if access is None:
            return wire.unauthorized(), "anonymous"
        context = f"member:{access.member_id}"
        if access.revoked:
            return wire.unauthorized("REVOKED_ACCESS_TOKEN"), context
        if self._now() >= access.expires_at:
            return wire.unauthorized("EXPIRED_ACCESS_TOKEN"), context
        if fault is not None and fault.fails:
            return self._fault(fault), context
        day = self._now().astimezone(UTC).date().isoformat()
        for who, limits in (("app", self.app_limits), (access.member_id, self.member_limits)):
            limit = limits.get(endpoint)
            if limit is not None and self._used[(day, endpoint, who)] >= limit:
                return wire.throttled(app=who == "app"), context
        self._used[(day, endpoint, "app")] += 1
        self._used[(day, endpoint, access.member_id)] += 1
        member = self.members[access.member_id]
        scopes = set(access.scope.split())
        return self._route(request, endpoint, member, scopes), context

    def _route(
        self, request: Request, endpoint: Endpoint, member: FakeMember, scopes: set[str]
    ) -> Response:
        params = base.query_lists(request)
        one = {name: values[-1] for name, values in params.items()}
        if endpoint == "me":
            if "r_basicprofile" not in scopes:
                return wire.access_denied("/me")
            return JSONResponse(
                {
                    "id": member.id,
                    "localizedFirstName": member.first_name,
                    "localizedLastName": member.last_name,
                    "vanityName": member.vanity,
                }
            )
        if endpoint == "organization_acls":
            if "rw_organization_admin" not in scopes:
                return wire.access_denied("/organizationAcls")
            elements = [
                {
                    "organization": o.urn,
                    "role": "ADMINISTRATOR",
                    "state": "APPROVED",
                    "roleAssignee": member.urn,
                }
                for o in self.organizations.values()
                if member.id in o.admins
            ]
            return JSONResponse(
                {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}
            )
        if endpoint == "organizations":
            org = self.organizations.get(
                int(request.path_params["id"]) if request.path_params["id"].isdigit() else -1
            )
            if org is None:
                return wire.not_found("organization")
            return JSONResponse({"id": org.id, "localizedName": org.name, "vanityName": org.vanity})
        if endpoint == "network_sizes":
            org = self._org_of(request.path_params["urn"])
            if org is None:
                return wire.not_found("organization")
            if "rw_organization_admin" not in scopes or member.id not in org.admins:
                return wire.access_denied(org.urn)
            return JSONResponse({"firstDegreeSize": org.followers})
        if endpoint == "post":
            post = self.posts.get(request.path_params["urn"])
            if post is None or post.deleted:
                return wire.not_found(request.path_params["urn"])
            return JSONResponse(self._render(post))
        if endpoint == "posts":
            return self._posts(request, one, member, scopes)
        if endpoint == "share_statistics":
            return self._share_statistics(request, params, one, member, scopes)
        return self._member_analytics(one, member, scopes)

    def _org_of(self, urn: str) -> FakeOrganization | None:
        number = urn.removeprefix("urn:li:organization:")
        return self.organizations.get(int(number)) if number.isdigit() else None

    def _render(self, post: FakePost) -> dict[str, Any]:
        return {
            "id": post.urn,
            "author": post.author,
            "commentary": post.commentary,
            "publishedAt": int(post.published_at.timestamp() * 1000),
            "lifecycleState": "PUBLISHED",
            "visibility": "PUBLIC",
        }

    def _posts(
        self, request: Request, one: dict[str, str], member: FakeMember, scopes: set[str]
    ) -> Response:
        if (
            request.headers.get("x-restli-method", "").upper() != "FINDER"
            or one.get("q") != "author"
        ):
            return wire.bad_request("The finder needs q=author and X-RestLi-Method: FINDER")
        author = one.get("author", "")
        org = self._org_of(author)
        if org is None:
            return wire.access_denied(author)  # a member author needs r_member_social (closed)
        if "r_organization_social" not in scopes or member.id not in org.admins:
            return wire.access_denied(author)
        start, count = int(one.get("start", "0")), min(int(one.get("count", "10")), 100)
        mine = sorted(
            (p for p in self.posts.values() if p.author == org.urn and not p.deleted),
            key=lambda p: p.published_at,
            reverse=True,
        )
        page = mine[start : start + count]
        return JSONResponse(
            {
                "elements": [self._render(p) for p in page],
                "paging": {"start": start, "count": count, "total": len(mine)},
            }
        )

    def _share_statistics(
        self,
        request: Request,
        params: dict[str, list[str]],
        one: dict[str, str],
        member: FakeMember,
        scopes: set[str],
    ) -> Response:
        org = self._org_of(one.get("organizationalEntity", ""))
        if one.get("q") != "organizationalEntity" or org is None:
            return wire.bad_request("q=organizationalEntity and an organization URN are required")
        if "rw_organization_admin" not in scopes or member.id not in org.admins:
            return wire.access_denied(org.urn)
        raw = request.url.query
        elements = []
        for name, field_name in (("shares", "share"), ("ugcPosts", "ugcPost")):
            urns = wire.urn_list(raw, params, name)
            if urns is None:
                return wire.bad_request(f"Illegal Rest.li syntax in {name}: encode the URNs")
            for urn in urns:
                post = self.posts.get(urn)
                if post is None or post.deleted or post.pending or post.author != org.urn:
                    continue
                elements.append(
                    {
                        "organizationalEntity": org.urn,
                        field_name: urn,
                        "totalShareStatistics": dict(post.stats),
                    }
                )
        return JSONResponse(
            {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
        )

    def _member_analytics(
        self, one: dict[str, str], member: FakeMember, scopes: set[str]
    ) -> Response:
        if "r_member_postAnalytics" not in scopes:
            return wire.access_denied("/memberCreatorPostAnalytics")
        metric = one.get("queryType", "")
        if one.get("q") != "entity" or metric not in MEMBER_METRICS or "," in metric:
            return wire.bad_request("q=entity and exactly one valid queryType are required")
        if one.get("aggregation", "TOTAL") not in ("TOTAL", "DAILY"):
            return wire.bad_request("aggregation must be TOTAL or DAILY")
        urn = wire.entity_of(one.get("entity", ""))
        post = self.posts.get(urn or "")
        if urn is None:
            return wire.bad_request("entity must be (share:<urn>) or (ugc:<urn>)")
        if post is None or post.deleted:
            return wire.not_found(urn)
        if post.author != member.urn:
            return wire.access_denied(urn)
        elements = []
        if not post.pending and metric in post.member_counts:
            elements.append(
                {
                    "count": post.member_counts[metric],
                    "metricType": metric,
                    "targetEntity": {"share" if ":share:" in urn else "ugcPost": urn},
                }
            )
        return JSONResponse({"elements": elements, "paging": {"start": 0, "count": 10}})


# ---- running it as a server (``fake_server``) ---------------------------------------------

if __name__ == "__main__":
    from openpost.platforms.linkedin.fake_server import main

    main()
