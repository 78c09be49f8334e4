"""LinkedIn's answers, parsed: JSON in, readings, posts and errors out (no network here).

Facts (``reference/gated-platforms.md`` §5, which corrects ``platform-apis.md`` §4):

- share statistics (organization posts): ``elements[]`` of ``{"organizationalEntity",
  "share" | "ugcPost", "totalShareStatistics": {impressionCount, uniqueImpressionsCount,
  clickCount, likeCount, commentCount, shareCount, engagement}}``; lifetime values, organic
  only, a rolling twelve-month window;
- member post analytics: ``elements[0].count`` of one ``queryType`` (an empty ``elements``
  is "not reported": ``None``, never 0);
- the Posts API: ``elements[{id, author, commentary, publishedAt (epoch ms),
  lifecycleState}]`` and ``paging{start, count, total?}``;
- errors: ``{"status", "serviceErrorCode", "code", "message"}``. 401 ``INVALID_ACCESS_TOKEN``
  / ``EXPIRED_ACCESS_TOKEN`` (65600) / ``REVOKED_ACCESS_TOKEN`` (65601); 403 ``ACCESS_DENIED``
  (100: a missing scope, or not the page's administrator); 404 the URN is gone; 426 a
  retired ``LinkedIn-Version``; 429 ``TOO_MANY_REQUESTS`` (101) with "APPLICATION DAY" or
  "MEMBER DAY" in the message: a daily limit that comes back at 00:00 UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from openpost.platforms.base import (
    BudgetExhausted,
    DiscoveredPost,
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    TransientError,
)
from openpost.platforms.http import json_object, safe_text
from openpost.platforms.spec import utc_midnight_after

PLATFORM = "linkedin"
POST_URN = re.compile(r"^urn:li:(share|ugcPost):[0-9]{1,20}$")
ORGANIZATION_URN = re.compile(r"^urn:li:organization:[0-9]{1,20}$")
PERSON_URN = re.compile(r"^urn:li:person:[A-Za-z0-9_-]{1,64}$")

# queryType → the counter it fills (the others are kept in platform_data only).
MEMBER_COUNTERS = {
    "IMPRESSION": "impressions",
    "REACTION": "likes",
    "COMMENT": "comments",
    "RESHARE": "shares",
}
ORG_COUNTERS = {
    "impressionCount": "impressions",
    "likeCount": "likes",
    "commentCount": "comments",
    "shareCount": "shares",
}
ORG_EXTRAS = ("uniqueImpressionsCount", "clickCount", "engagement")


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="linkedin_malformed")


def _count(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def is_member(author: str) -> bool:
    return PERSON_URN.match(author) is not None


# ---- readings -------------------------------------------------------------------------


def share_statistics(body: Mapping[str, Any]) -> dict[str, MetricReading | MalformedResponse]:
    """The readings of a share-statistics answer, by post URN (a row whose counters are
    not counts fails alone)."""
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise malformed("LinkedIn's share statistics answer has no elements")
    out: dict[str, MetricReading | MalformedResponse] = {}
    for element in elements:
        if not isinstance(element, dict):
            continue
        urn = element.get("share") or element.get("ugcPost")
        if not isinstance(urn, str):
            continue  # the organization's aggregate row
        stats = element.get("totalShareStatistics")
        if not isinstance(stats, dict):
            out[urn] = malformed("LinkedIn's statistics of this post have no totals")
            continue
        counters: dict[str, int | None] = {}
        bad = False
        for name, counter in ORG_COUNTERS.items():
            raw = stats.get(name)
            counters[counter] = _count(raw)
            bad = bad or (raw is not None and counters[counter] is None)
        if bad:
            out[urn] = malformed("LinkedIn's statistics of this post are not counts")
            continue
        data = {name: stats[name] for name in (*ORG_COUNTERS, *ORG_EXTRAS) if name in stats}
        out[urn] = MetricReading(
            platform_post_id=urn,
            impressions=counters["impressions"],
            likes=counters["likes"],
            comments=counters["comments"],
            shares=counters["shares"],
            platform_data=data,
        )
    return out


def member_count(body: Mapping[str, Any]) -> int | None:
    """``elements[0].count`` of a member post analytics answer (empty: not reported)."""
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise malformed("LinkedIn's member post analytics answer has no elements")
    if not elements:
        return None
    first = elements[0]
    count = first.get("count") if isinstance(first, dict) else None
    if _count(count) is None:
        raise malformed("LinkedIn's member post analytics count is not a count")
    return int(count)  # type: ignore[arg-type]


def member_reading(urn: str, counts: Mapping[str, int | None]) -> MetricReading:
    counters = {counter: counts.get(metric) for metric, counter in MEMBER_COUNTERS.items()}
    return MetricReading(
        platform_post_id=urn,
        impressions=counters["impressions"],
        likes=counters["likes"],
        comments=counters["comments"],
        shares=counters["shares"],
        platform_data={metric: count for metric, count in counts.items() if count is not None},
    )


def pending_reading(urn: str) -> MetricReading:
    """A post that exists but has no statistics yet: nothing reported."""
    return MetricReading(urn, None, None, None, None, {"statistics": "not yet available"})


# ---- posts ----------------------------------------------------------------------------


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def discovered_of(element: object) -> DiscoveredPost | None:
    """A Posts API element as a discovered post (``None``: not a published share/ugcPost)."""
    if not isinstance(element, dict):
        return None
    urn, published = element.get("id"), element.get("publishedAt")
    if not isinstance(urn, str) or not POST_URN.match(urn):
        return None
    if element.get("lifecycleState", "PUBLISHED") != "PUBLISHED":
        return None
    if type(published) is not int or published <= 0:
        raise malformed("LinkedIn's post has no publishedAt time")
    commentary = element.get("commentary")
    return DiscoveredPost(
        platform_post_id=urn,
        post_url=post_url(urn),
        published_at=datetime.fromtimestamp(published / 1000, UTC),
        content=commentary if isinstance(commentary, str) else "",
    )


# ---- errors ---------------------------------------------------------------------------


def error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        return json_object(response, platform=PLATFORM)
    except MalformedResponse:
        return {}


def http_error(response: httpx.Response, now: datetime) -> PlatformError:
    """The error of a non-200 answer (see the module docs for the mapping)."""
    status = response.status_code
    body = error_body(response)
    raw_code = body.get("code")
    code = raw_code if isinstance(raw_code, str) else ""
    message = safe_text(body.get("message")) or ""
    if status == 429:
        midnight = utc_midnight_after(now)
        if "APPLICATION" in message and "DAY" in message:
            return BudgetExhausted(
                "LinkedIn's daily limit for this app is reached; it comes back at 00:00 UTC",
                code="linkedin_app_day_limit",
                retry_at=midnight,
            )
        if "DAY" in message:
            return RateLimited(
                "LinkedIn's daily limit for this member is reached; it comes back at 00:00 UTC",
                code="linkedin_member_day_limit",
                retry_at=midnight,
            )
        return RateLimited(
            "LinkedIn throttled the call; trying again later",
            code="linkedin_rate_limited",
            retry_at=None,
        )
    if status == 401:
        what = {
            "EXPIRED_ACCESS_TOKEN": "expired",
            "REVOKED_ACCESS_TOKEN": "was revoked",
        }.get(code, "was refused")
        return PermissionRequired(
            f"LinkedIn's access token {what}; reconnect the account",
            code="linkedin_unauthorized",
        )
    if status == 403:
        return PermissionRequired(
            "LinkedIn denied access (a missing permission, or the member is no longer an "
            "administrator of the page); reconnect the account",
            code="linkedin_forbidden",
        )
    if status == 404:
        return NotFound("LinkedIn has no such post or account", code="linkedin_not_found")
    if status == 426:
        return PlatformError(
            "LinkedIn retired the API version this server sends (OPENPOST_LINKEDIN_API_VERSION)",
            code="linkedin_version_retired",
        )
    if status >= 500:
        return TransientError(f"LinkedIn answered HTTP {status}", code="linkedin_server_error")
    reason = f": {message}" if message else ""
    return PlatformError(f"LinkedIn answered HTTP {status}{reason}", code=f"linkedin_http_{status}")
