"""LinkedIn (Community Management API) client: organization pages and member posts, always
with the owner's token (there is no app-only read).

Calls (``reference/gated-platforms.md`` §5; every ``/rest`` call carries
``LinkedIn-Version: <OPENPOST_LINKEDIN_API_VERSION>`` and ``X-Restli-Protocol-Version:
2.0.0``; URNs are percent-encoded inside Rest.li's ``List(…)`` and ``(…)``):

- **organization posts**: ``GET /rest/organizationalEntityShareStatistics?q=
  organizationalEntity&organizationalEntity=<org>&shares=List(…)&ugcPosts=List(…)``: up to
  ``OPENPOST_LINKEDIN_BATCH_SIZE`` posts in one call (LinkedIn documents no maximum), so N
  due posts cost ⌈N/batch⌉ calls. A post the answer leaves out is looked up once
  (``GET /rest/posts/<urn>``): 404 → deleted; found → a reading with every counter ``None``
  (statistics not available yet);
- **member posts**: ``GET /rest/memberCreatorPostAnalytics?q=entity&entity=(share:<urn>)``
  (``(ugc:<urn>)`` for a ugcPost) ``&queryType=<one metric>&aggregation=TOTAL``: one metric
  of one post per call, so a member post costs one call per metric of
  ``OPENPOST_LINKEDIN_MEMBER_METRICS`` (4 by default). 404 → deleted;
- **discovery** (organizations only: listing a member's posts needs ``r_member_social``,
  which LinkedIn closed; member posts are registered by URL): ``GET /rest/posts?q=author&
  author=<org>&sortBy=CREATED&count=&start=`` with ``X-RestLi-Method: FINDER``, newest first,
  paged by ``start``, until the cursor's post (the cursor is ``<publishedAt ms>:<urn>``);
- **followers** (organizations): ``GET /rest/networkSizes/<org>?edgeType=
  COMPANY_FOLLOWED_BY_MEMBER`` → ``firstDegreeSize``. A member's follower count needs
  ``r_member_profileAnalytics``: not asked, reported ``None`` without a call.

Throttling: LinkedIn sends no rate headers; its limits are per day, per app and per member,
and come back at 00:00 UTC. A 429 whose message names the APPLICATION DAY limit is
``BudgetExhausted`` (the whole platform waits for midnight), a MEMBER DAY one
``RateLimited`` (that token waits), both with ``retry_at`` at the next UTC midnight.
401 → ``PermissionRequired`` after one forced token renewal; a refused renewal →
``TokenRefused`` (the integration needs a new consent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from openpost.config import Settings
from openpost.core import clock
from openpost.platforms.base import (
    Account,
    AccountBatch,
    AccountReading,
    BatchResult,
    DiscoveredPost,
    DiscoveryPage,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateWindow,
)
from openpost.platforms.consent import TokenRefused, UserTokenSource
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.linkedin.oauth import rest_headers
from openpost.platforms.linkedin.reading import (
    ORGANIZATION_URN,
    PLATFORM,
    POST_URN,
    discovered_of,
    http_error,
    is_member,
    malformed,
    member_count,
    member_reading,
    pending_reading,
    share_statistics,
)

T = TypeVar("T")
PAGE_MAX = 100
FINDER = {"X-RestLi-Method": "FINDER"}


def enc(urn: str) -> str:
    """A URN as Rest.li 2.0 wants it inside a query: every reserved character escaped."""
    return quote(urn, safe="")


def rest_list(urns: Sequence[str]) -> str:
    return "List(" + ",".join(enc(u) for u in urns) + ")"


def parse_cursor(since_id: str | None) -> tuple[int, str] | None:
    if since_id is None:
        return None
    millis, _, urn = since_id.partition(":")
    if not millis.isdigit() or not POST_URN.match(urn):
        raise ValueError("since_id must be '<publishedAt ms>:<post urn>'")
    return int(millis), urn


class LinkedInClient:
    """The ``PlatformClient`` (and ``AccountReader``) for LinkedIn."""

    platform = PLATFORM
    account_batch_size = 1

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        batch_size: int = 20,
        member_metrics: Sequence[str] = ("IMPRESSION", "REACTION", "COMMENT", "RESHARE"),
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        user_tokens: UserTokenSource | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.batch_size = batch_size
        self.member_metrics = tuple(member_metrics)
        self._version = version
        self._user_tokens = user_tokens
        self._now = now
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._windows: tuple[RateWindow, ...] = ()
        self.requests = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> LinkedInClient:
        return cls(
            base_url=settings.linkedin_api_base_url,
            version=settings.linkedin_api_version,
            batch_size=settings.linkedin_batch_size,
            member_metrics=member_metrics(settings),
            transport=transport,
            user_tokens=user_tokens,
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"LinkedInClient(base_url={str(self._http.base_url)!r})"

    # ---- PlatformClient -----------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:  # noqa: ARG002 - the protocol
        """Never by handle: pages and members are connected with their owner's consent
        (which names the account; there is no app-only lookup)."""
        raise NotFound(
            "LinkedIn pages and members are connected with their owner's consent (Connect "
            "LinkedIn on the Integrations page), not by handle",
            code="linkedin_consent_only",
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(f"LinkedIn reads at most {self.batch_size} posts per call")
        errors: dict[str, PlatformError] = {}
        valid = []
        for urn in unique:
            if POST_URN.match(urn):
                valid.append(urn)
            elif urn.startswith("urn:li:activity:"):
                errors[urn] = NotFound(
                    "LinkedIn reports statistics of share and ugcPost URNs, not of activity "
                    "URNs: register the post by its share or ugcPost link",
                    code="linkedin_activity_urn",
                )
            else:
                errors[urn] = NotFound("not a LinkedIn post URN", code="linkedin_invalid_id")
        if not valid:
            return BatchResult(readings={}, errors=errors, calls=0)
        author = _author(credentials)
        before = self.requests
        if is_member(author):
            result = self._with_token(credentials, lambda t: self._member_posts(valid, t))
        else:
            result = self._with_token(credentials, lambda t: self._org_posts(author, valid, t))
        result.errors.update(errors)
        return replace(result, calls=self.requests - before)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        cursor = parse_cursor(since_id)
        author = account.external_account_id
        if is_member(author):  # listing a member's posts needs r_member_social (closed)
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        if not ORGANIZATION_URN.match(author):
            raise NotFound("not a LinkedIn organization URN", code="linkedin_invalid_account")
        before = self.requests
        page = self._with_token(
            credentials, lambda token: self._discover(author, cursor, since_id, limit, token)
        )
        return replace(page, calls=self.requests - before)

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        readings: dict[str, AccountReading] = {}
        errors: dict[str, PlatformError] = {}
        missing: set[str] = set()
        before = self.requests
        for urn in dict.fromkeys(account_ids):
            if not ORGANIZATION_URN.match(urn):
                readings[urn] = AccountReading(urn, None, None, None, {})
                continue
            path = f"/rest/networkSizes/{enc(urn)}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
            try:
                body = self._with_token(credentials, partial(self._get, path))
            except NotFound:
                missing.add(urn)
                continue
            except PlatformError as exc:
                if exc.transient or isinstance(exc, PermissionRequired):
                    raise
                errors[urn] = exc
                continue
            size = body.get("firstDegreeSize")
            if type(size) is not int or size < 0:
                errors[urn] = malformed("LinkedIn's networkSizes answer has no firstDegreeSize")
                continue
            readings[urn] = AccountReading(urn, size, None, None, {"firstDegreeSize": size})
        return AccountBatch(readings, missing, errors, calls=self.requests - before)

    def rate_window(self) -> RateWindow | None:
        return self._windows[0] if self._windows else None

    def rate_windows(self) -> tuple[RateWindow, ...]:
        """LinkedIn sends no rate headers: a window only after a daily limit's 429 (the
        app's, scope ``app``, or the member's), spent until 00:00 UTC."""
        return self._windows

    # ---- organization posts -------------------------------------------------------------

    def _org_posts(self, author: str, urns: list[str], token: str) -> BatchResult:
        if not ORGANIZATION_URN.match(author):
            raise PermissionRequired(
                "the LinkedIn connection names no organization; reconnect the account",
                code="linkedin_no_author",
            )
        shares = [u for u in urns if u.startswith("urn:li:share:")]
        ugc = [u for u in urns if u.startswith("urn:li:ugcPost:")]
        query = f"q=organizationalEntity&organizationalEntity={enc(author)}"
        if shares:
            query += f"&shares={rest_list(shares)}"
        if ugc:
            query += f"&ugcPosts={rest_list(ugc)}"
        body = self._get(f"/rest/organizationalEntityShareStatistics?{query}", token)
        result = BatchResult(readings={})
        found = share_statistics(body)
        for urn in urns:
            answer = found.get(urn)
            if isinstance(answer, MetricReading):
                result.readings[urn] = answer
            elif isinstance(answer, MalformedResponse):
                result.errors[urn] = answer
            else:  # left out: deleted, or too new to have statistics
                try:
                    self._get(f"/rest/posts/{enc(urn)}", token)
                except NotFound:
                    result.deleted.add(urn)
                else:
                    result.readings[urn] = pending_reading(urn)
        return result

    # ---- member posts -------------------------------------------------------------------

    def _member_posts(self, urns: list[str], token: str) -> BatchResult:
        result = BatchResult(readings={})
        for urn in urns:
            kind = "share" if urn.startswith("urn:li:share:") else "ugc"
            counts: dict[str, int | None] = {}
            try:
                for metric in self.member_metrics:
                    body = self._get(
                        "/rest/memberCreatorPostAnalytics?q=entity"
                        f"&entity=({kind}:{enc(urn)})&queryType={metric}&aggregation=TOTAL",
                        token,
                    )
                    counts[metric] = member_count(body)
            except NotFound:
                result.deleted.add(urn)
                continue
            except MalformedResponse as exc:
                result.errors[urn] = exc
                continue
            result.readings[urn] = member_reading(urn, counts)
        return result

    # ---- discovery ----------------------------------------------------------------------

    def _discover(
        self,
        author: str,
        cursor: tuple[int, str] | None,
        since_id: str | None,
        limit: int,
        token: str,
    ) -> DiscoveryPage:
        posts: list[DiscoveredPost] = []
        start = 0
        reached = False
        while len(posts) < limit and not reached:
            count = min(PAGE_MAX, max(limit - len(posts), 1))
            path = (
                f"/rest/posts?q=author&author={enc(author)}&sortBy=CREATED"
                f"&count={count}&start={start}"
            )
            body = self._get(path, token, extra=FINDER)
            elements = body.get("elements")
            if not isinstance(elements, list):
                raise malformed("LinkedIn's posts answer has no elements")
            for element in elements:
                post = discovered_of(element)
                if post is None:
                    continue
                millis = int(post.published_at.timestamp() * 1000)
                if cursor is not None and (
                    post.platform_post_id == cursor[1] or millis < cursor[0]
                ):
                    reached = True
                    break
                posts.append(post)
                if len(posts) >= limit:
                    break
            if len(elements) < count:
                break
            start += len(elements)
        posts.sort(key=lambda p: p.published_at, reverse=True)
        newest = posts[0] if posts else None
        newest_id = (
            f"{int(newest.published_at.timestamp() * 1000)}:{newest.platform_post_id}"
            if newest is not None
            else since_id
        )
        return DiscoveryPage(posts=posts, newest_id=newest_id)

    # ---- requests -----------------------------------------------------------------------

    def _with_token(self, credentials: dict[str, Any] | None, call: Callable[[str], T]) -> T:
        if credentials is None:
            raise PermissionRequired(
                "LinkedIn is read only with its owner's consent; connect the account",
                code="linkedin_no_consent",
            )
        ends = _time(credentials.get("refresh_expires_at"))
        if ends is not None and ends <= self._now():
            raise TokenRefused(
                "the LinkedIn consent has ended (365 days after it was given); the owner has "
                "to connect the account again",
                code="linkedin_consent_ended",
            )
        if self._user_tokens is not None:
            credentials = self._user_tokens(credentials, force=False)
        try:
            return call(_token(credentials))
        except PermissionRequired as exc:
            renewable = self._user_tokens is not None and credentials.get("refresh_token")
            if exc.code != "linkedin_unauthorized" or not renewable:
                raise
        assert self._user_tokens is not None
        credentials = self._user_tokens(credentials, force=True)
        return call(_token(credentials))

    def _get(self, path: str, token: str, *, extra: dict[str, str] | None = None) -> dict[str, Any]:
        headers = rest_headers(self._version, token) | (extra or {})
        self.requests += 1
        response = send(self._http, "GET", path, platform=PLATFORM, headers=headers)
        self._windows = ()
        if response.status_code == 200:
            return json_object(response, platform=PLATFORM)
        error = http_error(response, self._now())
        if error.code == "linkedin_app_day_limit":
            self._windows = (RateWindow(None, 0, error.retry_at, scope="app"),)
        elif error.code == "linkedin_member_day_limit":
            self._windows = (RateWindow(None, 0, error.retry_at),)
        raise error


def _token(credentials: dict[str, Any]) -> str:
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermissionRequired(
            "the LinkedIn connection has no access token; reconnect the account",
            code="linkedin_user_token_missing",
        )
    return token


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _author(credentials: dict[str, Any] | None) -> str:
    author = (credentials or {}).get("author")
    return author if isinstance(author, str) else ""


def member_metrics(settings: Settings) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for m in settings.linkedin_member_metrics.split(",") if m))
