"""Facebook Pages client: a Page's own posts, their counters and insights, the Page's
followers, all with the Page's token (the integration's sealed credential).

Calls (reference: gated-platforms.md §1, §4; the Graph version is in every path, setting
``OPENPOST_FACEBOOK_GRAPH_VERSION``, v25.0 by default):

- discovery: ``GET /{page-id}/published_posts?fields=id,created_time,permalink_url,message``
  newest first, following ``paging.cursors.after`` (``since=`` the cursor's time, so a
  discovery reads only what is new). A reel's ``permalink_url`` is ``/reel/<video id>``:
  it is stored as that video id, whose insights are the video's.
- metrics: one Graph batch (``POST /?batch=[…]``, at most 50 operations) per call, two
  operations per post: its counters (``?fields=reactions…,comments…,shares``) and its
  insights (``/insights?metric=post_media_view,post_total_media_view_unique,
  post_reactions_by_type_total``; a reel's ``/video_insights``). So ``batch_size`` is 25
  posts, one HTTP request (``BatchResult.calls`` counts HTTP requests; Meta counts each of
  the 50 operations against the rate limits). An operation's own error fails that post
  alone: 100/33 is ``deleted``; a refused token (190…) or throttling fails the read.
- accounts: ``GET /{page-id}?fields=followers_count,fan_count`` (one Page per call: each Page
  has its own token). No post count is reported (``posts`` is ``None``).

Errors are Meta's (``platforms.meta.graph.classify``): 190/102 → ``TokenRefused`` (the
integration needs reconnecting: Page tokens do not expire, and there is no refresh), 10/2xx →
``PermissionRequired``, 4/17/32/613/80001 → ``RateLimited`` until the usage headers' regain
time (an hour when they give none). Usage headers: ``X-App-Usage`` (the operator's app, shared
by every worker: scope ``app``) and ``X-Business-Use-Case-Usage`` (type ``pages``, per Page).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson

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
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    Unsupported,
)
from openpost.platforms.consent import TokenRefused
from openpost.platforms.facebook.reading import (
    ACCOUNT_FIELDS,
    COUNTER_FIELDS,
    DISCOVERY_FIELDS,
    PLATFORM,
    POST_METRICS,
    REEL_METRICS,
    VIDEO_COUNTER_FIELDS,
    counters_of,
    discovered_of,
    insight_values,
    is_reel_id,
    make_cursor,
    malformed,
    parse_cursor,
    reading_of,
)
from openpost.platforms.facebook.urls import URLS
from openpost.platforms.http import DEFAULT_TIMEOUT, json_object, make_client, send
from openpost.platforms.meta.graph import classify, usage_windows

DEFAULT_BASE_URL: str = Settings.model_fields["facebook_api_base_url"].default
DEFAULT_VERSION = "v25.0"
MAX_BATCH_OPERATIONS = 50  # Graph batch requests take at most 50 operations
OPERATIONS_PER_POST = 2  # counters, insights
PAGE_SIZE_MAX = 100
_POST_ID = re.compile(r"^[0-9]{1,20}(?:_[0-9]{1,20})?$")
_PAGE_ID = re.compile(r"^[0-9]{1,20}$")
_USAGE_HEADERS = frozenset({"x-app-usage", "x-business-use-case-usage"})


class FacebookClient:
    """The ``PlatformClient`` (and ``AccountReader``) for Facebook Pages."""

    platform = PLATFORM
    batch_size = MAX_BATCH_OPERATIONS // OPERATIONS_PER_POST
    account_batch_size = 1

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        version: str = DEFAULT_VERSION,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self._version = version.strip("/")
        self._http = make_client(base_url, transport=transport, timeout=timeout)
        self._windows: list[RateWindow] = []
        self.requests = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> FacebookClient:
        return cls(
            base_url=settings.facebook_api_base_url,
            version=settings.facebook_graph_version,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FacebookClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show a token
        return f"FacebookClient(base_url={str(self._http.base_url)!r}, version={self._version!r})"

    # ---- PlatformClient -------------------------------------------------------------------

    def lookup_account(self, handle: str) -> Account:  # noqa: ARG002 - the protocol's
        raise Unsupported(
            "Facebook Pages are connected only with their owner's consent, not by handle",
            code="facebook_consent_only",
        )

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        unique = list(dict.fromkeys(post_ids))
        if len(unique) > self.batch_size:
            raise ValueError(
                f"Facebook reads at most {self.batch_size} posts per call, not {len(unique)}"
            )
        errors: dict[str, PlatformError] = {}
        valid: list[str] = []
        for post_id in unique:
            if _POST_ID.match(post_id):
                valid.append(post_id)
            else:
                errors[post_id] = NotFound("not a valid Facebook post id", code="facebook_bad_id")
        if not valid:
            return BatchResult(readings={}, errors=errors, calls=0)
        token = _token(credentials)
        operations: list[dict[str, str]] = []
        for post_id in valid:
            reel = is_reel_id(post_id)
            fields = VIDEO_COUNTER_FIELDS if reel else COUNTER_FIELDS
            edge, metrics = ("video_insights", REEL_METRICS) if reel else ("insights", POST_METRICS)
            operations.append(_get_op(post_id, {"fields": fields}))
            operations.append(_get_op(f"{post_id}/{edge}", {"metric": ",".join(metrics)}))
        before = self.requests
        response = self._request(
            "POST",
            f"/{self._version}/",
            token,
            data={"batch": orjson.dumps(operations).decode(), "include_headers": "false"},
            what="the metrics read",
        )
        answers = _batch_answers(response, len(operations))
        result = BatchResult(readings={}, errors=errors, calls=self.requests - before)
        for n, post_id in enumerate(valid):
            self._one_post(post_id, answers[2 * n], answers[2 * n + 1], result)
        return result

    def _one_post(
        self,
        post_id: str,
        counters_answer: httpx.Response,
        insights_answer: httpx.Response,
        into: BatchResult,
    ) -> None:
        now = clock.now()
        for answer in (counters_answer, insights_answer):
            error = classify(answer, platform=PLATFORM, now=now, what="the post's read")
            if error is None:
                continue
            if isinstance(error, TokenRefused | RateLimited):
                raise error  # the Page's token or window: nothing else of the batch reads
            if isinstance(error, NotFound):
                into.deleted.add(post_id)
            else:
                into.errors[post_id] = error
            return
        reel = is_reel_id(post_id)
        try:
            counters = counters_of(json_object(counters_answer, platform=PLATFORM), reel=reel)
            insights = insight_values(json_object(insights_answer, platform=PLATFORM))
        except MalformedResponse as exc:
            into.errors[post_id] = exc
            return
        into.readings[post_id] = reading_of(post_id, counters, insights, reel=reel)

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        cursor_id, cursor_at = parse_cursor(since_id) if since_id is not None else (None, None)
        if not _PAGE_ID.match(account.external_account_id):
            raise NotFound("not a valid Facebook Page id", code="facebook_bad_page")
        if limit <= 0:
            return DiscoveryPage(posts=[], newest_id=since_id, calls=0)
        token = _token(credentials)
        before = self.requests
        params = {"fields": DISCOVERY_FIELDS, "limit": str(min(limit, PAGE_SIZE_MAX))}
        if cursor_at is not None:
            params["since"] = str(int(cursor_at.timestamp()))
        path = f"/{self._version}/{account.external_account_id}/published_posts"
        posts: list[DiscoveredPost] = []
        newest: str | None = None
        seen_after: set[str] = set()
        while len(posts) < limit:
            body = json_object(
                self._request("GET", path, token, params=params, what="discovery"),
                platform=PLATFORM,
            )
            data = body.get("data")
            if not isinstance(data, list):
                raise malformed("Facebook's post list has no data list")
            reached = False
            for item in data:
                post = _discovered(item, account)
                if _reached(post, cursor_id, cursor_at):
                    reached = True
                    break
                if newest is None:
                    newest = make_cursor(post.platform_post_id, post.published_at)
                posts.append(post)
                if len(posts) >= limit:
                    break
            after = _after(body)
            if reached or not data or after is None or after in seen_after:
                break
            seen_after.add(after)
            params = {**params, "after": after}
        return DiscoveryPage(
            posts=posts, newest_id=newest or since_id, calls=self.requests - before
        )

    def rate_window(self) -> RateWindow | None:
        """The Page's window (``pages`` business use case) when reported, else the app's."""
        mine = [w for w in self._windows if w.scope == "credential"]
        chosen = mine or self._windows
        return min(chosen, key=lambda w: w.remaining or 0) if chosen else None

    def rate_windows(self) -> list[RateWindow]:
        return list(self._windows)

    # ---- AccountReader -------------------------------------------------------------------

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        unique = list(dict.fromkeys(account_ids))
        if len(unique) > self.account_batch_size:
            raise ValueError("Facebook reads one Page per call (each Page has its own token)")
        batch = AccountBatch(readings={}, calls=0)
        if not unique:
            return batch
        token = _token(credentials)
        before = self.requests
        for page_id in unique:
            if not _PAGE_ID.match(page_id):
                batch.errors[page_id] = NotFound("not a Facebook Page id", code="facebook_bad_page")
                continue
            response = self._raw(
                "GET", f"/{self._version}/{page_id}", token, params={"fields": ACCOUNT_FIELDS}
            )
            error = classify(response, platform=PLATFORM, now=clock.now(), what="the Page's read")
            if isinstance(error, NotFound):
                batch.missing.add(page_id)
                continue
            if error is not None:
                raise error
            body = json_object(response, platform=PLATFORM)
            followers, fans = body.get("followers_count"), body.get("fan_count")
            data = {"fan_count": fans} if isinstance(fans, int) else {}
            batch.readings[page_id] = AccountReading(
                external_account_id=page_id,
                followers=followers if isinstance(followers, int) and followers >= 0 else None,
                following=None,  # a Page follows no one Facebook reports
                posts=None,  # Facebook reports no post count for a Page
                platform_data=data,
            )
        return AccountBatch(
            readings=batch.readings,
            missing=batch.missing,
            errors=batch.errors,
            calls=self.requests - before,
        )

    # ---- requests --------------------------------------------------------------------------

    def _raw(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        self.requests += 1
        response = send(
            self._http,
            method,
            path,
            platform=PLATFORM,
            params=params,
            data=data,
            headers={"Authorization": f"Bearer {token}"},
        )
        windows = usage_windows(response.headers, clock.now())
        if windows:
            self._windows = windows
        return response

    def _request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        what: str,
    ) -> httpx.Response:
        response = self._raw(method, path, token, params=params, data=data)
        error = classify(response, platform=PLATFORM, now=clock.now(), what=what)
        if error is not None:
            raise error
        return response


def _token(credentials: dict[str, Any] | None) -> str:
    token = credentials.get("access_token") if credentials else None
    if not isinstance(token, str) or not token:
        raise PermissionRequired(
            "the Facebook Page has no access token; reconnect it with its owner's consent",
            code="facebook_token_missing",
        )
    return token


def _get_op(path: str, params: dict[str, str]) -> dict[str, str]:
    return {"method": "GET", "relative_url": f"{path}?{urlencode(params)}"}


def _batch_answers(response: httpx.Response, expected: int) -> list[httpx.Response]:
    """Each operation's answer as a response of its own (its code and body; the batch's
    usage headers, which describe every operation)."""
    try:
        items = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise malformed("Facebook's batch answer is not JSON") from None
    if not isinstance(items, list) or len(items) != expected:
        raise malformed("Facebook's batch answer does not hold one answer per operation")
    usage = {k: v for k, v in response.headers.items() if k.lower() in _USAGE_HEADERS}
    answers: list[httpx.Response] = []
    for item in items:
        if item is None:  # an operation Facebook did not run (timed out inside the batch)
            answers.append(httpx.Response(503, headers=usage, content=b""))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("code"), int):
            raise malformed("Facebook's batch answer holds an entry without a code")
        body = item.get("body")
        content = body.encode() if isinstance(body, str) else b""
        answers.append(httpx.Response(item["code"], headers=usage, content=content))
    return answers


def _discovered(item: object, account: Account) -> DiscoveredPost:
    """One listed post: stored by its Graph id, or, for a reel (its permalink is
    ``/reel/<video id>``), by its video id, whose insights are the reel's."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise malformed("Facebook's post list has a post without an id")
    post_id = item["id"]
    if not _POST_ID.match(post_id):
        raise malformed("Facebook's post list has a post id that is not one")
    permalink = item.get("permalink_url")
    parsed = _parsed(permalink)
    if parsed is not None and urlsplit(str(permalink)).path.startswith("/reel/"):
        return discovered_of(item, parsed, str(permalink))
    if parsed == post_id:
        return discovered_of(item, post_id, str(permalink))
    url = URLS.url_for(post_id, account.username) or f"https://www.facebook.com/{post_id}"
    return discovered_of(item, post_id, url)  # a pfbid permalink hides the id: the Graph id's


def _reached(post: DiscoveredPost, cursor_id: str | None, cursor_at: datetime | None) -> bool:
    """Whether discovery has come down to the cursor: its post, or anything older (a cursor
    without a time stops at its post only)."""
    if post.platform_post_id == cursor_id:
        return True
    return cursor_at is not None and post.published_at < cursor_at


def _after(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def _parsed(permalink: object) -> str | None:
    if not isinstance(permalink, str):
        return None
    parts = urlsplit(permalink)
    host = (parts.hostname or "").removeprefix("www.")
    if host not in URLS.hosts:
        return None
    query = dict(parse_qsl(parts.query))
    try:
        return URLS.parse(host, parts.path, query)
    except ValueError:
        return None  # a pfbid link hides the id: the Graph id is used instead
