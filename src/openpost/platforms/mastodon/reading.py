"""Reading a Mastodon instance's answers, for ``MastodonClient``: account names, Status
entities into readings and discovered posts, ``Link`` and ``X-RateLimit-*`` headers, error
answers, and status HTML into plain text. Pure functions; see ``mastodon.py`` for the rules."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from openpost.core import clock
from openpost.platforms.base import (
    AccountReading,
    BatchResult,
    DiscoveredPost,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.http import header_int, iso_time, json_object, safe_text
from openpost.platforms.netguard import normal_host

PLATFORM = "mastodon"
COUNTS = ("replies_count", "reblogs_count", "favourites_count")
OPTIONAL_COUNTS = ("quotes_count",)
DEFAULT_RATE_PAUSE = timedelta(minutes=5)

_USER = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_PROFILE_URL = re.compile(r"^https?://([^/@?#]+)/@([^/@?#]+)/?$")
_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[A-Za-z]+\s*=\s*(?:"[^"]*"|[^;,\s]*)\s*)*)')
_REL = re.compile(r'rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', re.IGNORECASE)


def parse_handle(handle: str) -> tuple[str, str]:
    """``(user, instance)`` from ``@user@instance``, ``user@instance`` or a profile URL."""
    text = handle.strip()
    if match := _PROFILE_URL.match(text):
        user, instance = match[2], match[1]
    else:
        user, at, instance = text.removeprefix("@").partition("@")
        if not at:
            raise NotFound(
                "give the Mastodon account as user@instance (for example alice@mastodon.social)",
                code="mastodon_invalid_handle",
            )
    if not _USER.match(user):
        raise NotFound("not a Mastodon user name", code="mastodon_invalid_handle")
    return user, instance_name(instance)


def instance_name(text: str) -> str:
    """An instance as ``host`` or ``host:port``, normalised (lower case, ASCII)."""
    try:
        parts = urlsplit("https://" + text.strip())
        host, port = parts.hostname or "", parts.port
        if parts.path or parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("an instance is a host name")
        name = normal_host(host)
    except ValueError:
        raise NotFound("not a Mastodon instance name", code="mastodon_invalid_instance") from None
    shown = f"[{name}]" if ":" in name else name
    return f"{shown}:{port}" if port is not None else shown


def access_token(credentials: dict[str, Any] | None) -> str | None:
    token = (credentials or {}).get("access_token")
    return token if isinstance(token, str) and token else None


def is_mastodon_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_ID.match(value))


def id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numbers in strings; longer is newer, then by digits."""
    return len(status_id), status_id


def is_newer(post: DiscoveredPost, since_id: str) -> bool:
    return id_order(post.platform_post_id) > id_order(since_id)


def _counter(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="mastodon_malformed")


def json_body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise malformed("the instance answered with a body that is not JSON") from None


def has_error_body(response: httpx.Response) -> bool:
    try:
        body = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        return False
    return isinstance(body.get("error"), str)


def read_statuses(body: Any, wanted: list[str], into: BatchResult) -> None:
    if not isinstance(body, list):
        raise malformed("the instance's statuses answer is not a list")
    asked = set(wanted)
    for item in body:
        status_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(status_id, str) or status_id not in asked or status_id in into.readings:
            continue
        try:
            into.readings[status_id] = status_reading(status_id, item)
        except MalformedResponse as exc:
            into.errors[status_id] = exc
    for status_id in wanted:
        if status_id not in into.readings and status_id not in into.errors:
            into.deleted.add(status_id)


def status_reading(status_id: str, item: dict[str, Any]) -> MetricReading:
    counts: dict[str, int] = {}
    for name in COUNTS:
        value = item.get(name)
        if not _counter(value):
            raise malformed(f"Mastodon's {name} for this status is missing or not a counter")
        counts[name] = value
    for name in OPTIONAL_COUNTS:
        if item.get(name) is not None:
            value = item[name]
            if not _counter(value):
                raise malformed(f"Mastodon's {name} for this status is not a counter")
            counts[name] = value
    return MetricReading(
        platform_post_id=status_id,
        impressions=None,
        likes=counts["favourites_count"],
        comments=counts["replies_count"],
        shares=counts["reblogs_count"] + counts.get("quotes_count", 0),
        platform_data=counts,
    )


def discovered(status: object, account_id: str, user: str, instance: str) -> DiscoveredPost | None:
    """A timeline status as a discovered post, or ``None`` for a boost or another author."""
    if not isinstance(status, dict) or not is_mastodon_id(status.get("id")):
        raise malformed("the instance's timeline has a status without an id")
    if status.get("reblog") is not None:
        return None
    author = status.get("account")
    if not isinstance(author, dict) or author.get("id") != account_id:
        return None
    status_id: str = status["id"]
    published = iso_time(status.get("created_at"))
    if published is None:
        raise malformed("the instance's timeline has a status without a valid created_at")
    url = status.get("url")
    if not (isinstance(url, str) and url.startswith("https://") and len(url) <= 2000):
        url = f"https://{instance}/@{user}/{status_id}"
    try:
        found: MetricReading | None = status_reading(status_id, status)
    except MalformedResponse:
        found = None  # discovered all the same; its counters are read with the next batch
    content = status.get("content")
    return DiscoveredPost(
        platform_post_id=status_id,
        post_url=url,
        published_at=published,
        content=plain_text(content) if isinstance(content, str) else "",
        reading=found,
    )


def next_max_id(link_header: str) -> str | None:
    """The ``max_id`` of the ``Link`` header's ``rel="next"`` URL. Only that id is taken: the
    URL itself is never requested (the next request goes to the checked instance)."""
    for match in _LINK.finditer(link_header):
        rels = {(m[1] or m[2]).lower() for m in _REL.finditer(match[2])}
        if "next" not in rels:
            continue
        try:
            query = urlsplit(match[1]).query
        except ValueError:
            return None
        values = parse_qs(query).get("max_id", [])
        return values[0] if values and is_mastodon_id(values[0]) else None
    return None


def rate_window_of(headers: httpx.Headers) -> RateWindow | None:
    limit = header_int(headers, "x-ratelimit-limit")
    remaining = header_int(headers, "x-ratelimit-remaining")
    reset = iso_time(headers.get("x-ratelimit-reset", "").strip() or None)
    if limit is None and remaining is None and reset is None:
        return None
    return RateWindow(limit=limit, remaining=remaining, reset_at=reset)


def http_error(response: httpx.Response, window: RateWindow | None, instance: str) -> PlatformError:
    status = response.status_code
    try:
        body: dict[str, Any] = json_object(response, platform=PLATFORM)
    except MalformedResponse:
        body = {}
    reason = safe_text(body.get("error"))
    now = clock.now()
    if status == 429:
        retry_at = window.reset_at if window is not None else None
        if retry_at is None:
            after = header_int(response.headers, "retry-after")
            retry_at = now + (timedelta(seconds=after) if after else DEFAULT_RATE_PAUSE)
        return RateLimited(
            f"{instance} rate limit reached",
            code="mastodon_rate_limited",
            retry_at=max(retry_at, now),
        )
    if status in (401, 403):
        detail = f" ({reason})" if reason else ""
        return PermissionRequired(f"{instance} refused the read{detail}", code="mastodon_forbidden")
    if status >= 500:
        return TransientError(f"{instance} answered HTTP {status}", code="mastodon_server_error")
    detail = f": {reason}" if reason else ""
    return PlatformError(
        f"{instance} answered HTTP {status}{detail}", code=f"mastodon_http_{status}"
    )


class _Text(HTMLParser):
    """Mastodon's status HTML as plain text: paragraphs and line breaks kept, tags gone."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


ACCOUNT_COUNTERS = {
    "followers": "followers_count",
    "following": "following_count",
    "posts": "statuses_count",
}


def account_reading(account_id: str, body: object) -> AccountReading:
    """An account's own counters from Mastodon's Account entity (SPEC §9.4); a counter that
    is missing or not a non-negative integer fails the account alone."""
    if not isinstance(body, dict):
        raise malformed("the instance's account answer is not an account")
    values: dict[str, int] = {}
    for field_name, name in ACCOUNT_COUNTERS.items():
        value = body.get(name)
        if type(value) is not int or value < 0:
            raise malformed(f"the instance's {name} for this account is not a counter")
        values[field_name] = value
    return AccountReading(
        external_account_id=account_id,
        followers=values["followers"],
        following=values["following"],
        posts=values["posts"],
        platform_data={name: values[f] for f, name in ACCOUNT_COUNTERS.items()},
    )
