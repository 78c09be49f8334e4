"""Pinterest API v5 answers → readings and errors (pure: JSON and headers in, no HTTP).

Facts (``reference/gated-platforms.md`` §0, §0b, §7; ``pinterest/api-description``
v5/openapi.json):

- ``GET /v5/pins/{pin_id}/analytics`` answers an object keyed by app type (``"ALL"``; some
  clients see ``"all"``, so the key is matched without case), each with ``daily_metrics``
  (``[{"date", "data_status", "metrics": {...}}]``), ``summary_metrics`` (the window) and
  ``lifetime_metrics`` (``TOTAL_COMMENTS``, ``TOTAL_REACTIONS``; only for Pins created after
  2023-03-20, else absent or null).
- Analytics reach back **90 days** at most (``start_date`` no earlier than 90 days before
  today, UTC). A Pin's impressions, saves and clicks before that are gone.
- The bulk ``GET /v5/pins/analytics?pin_ids=`` (≤100, beta) answers
  ``{"<pin_id>": {"ALL": {...}}}``.
- Errors are ``{"code": int, "message": str}``: 401 code 2 "Authentication failed.", 403
  codes 29 / 7 / 403, 404 codes 50 / 404 "Pin not found.", 429 code 8, 400 "Invalid pins
  analytics parameters.", 503 code 4197 (endpoint ramped down).

Mapping (SPEC §9.1 and gated-platforms.md §0): ``impressions`` = the sum of the daily
``IMPRESSION`` values over the window, so it means **impressions in the last 90 days**
(older days fall out of it: a Pin older than 90 days can show fewer impressions tomorrow
than today); ``likes`` = lifetime ``TOTAL_REACTIONS``; ``comments`` = lifetime
``TOTAL_COMMENTS``; ``shares`` = ``None`` (Pinterest has no share counter; saves are not
shares and are kept as ``platform_data["saves"]``, also a 90-day sum). A counter no day
reported is ``None``, never 0; a Pin whose every day is still ``PROCESSING`` has ``None``
impressions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import orjson

from openpost.platforms.base import (
    MalformedResponse,
    MetricReading,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.http import header_int, safe_text

PLATFORM = "pinterest"
WINDOW_DAYS = 90  # analytics reach back this far, and a request covers at most this long
METRIC_TYPES = (
    "IMPRESSION",
    "SAVE",
    "PIN_CLICK",
    "OUTBOUND_CLICK",
    "TOTAL_COMMENTS",
    "TOTAL_REACTIONS",
)
DAILY = {"IMPRESSION": "impressions", "SAVE": "saves", "PIN_CLICK": "pin_clicks"}
DAILY |= {"OUTBOUND_CLICK": "outbound_clicks"}
DELETED_CODES = frozenset({50, 404})
# Rate-limit headers are not in Pinterest's spec (gated-platforms.md §9.6): these are read
# when present; ``x-ratelimit-reset`` is seconds until the reset, or a Unix time.
LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)
STANDARD_PAUSE = timedelta(minutes=1)  # Standard access limits are per minute


@dataclass(frozen=True, slots=True)
class Window:
    """The days one analytics request covers (UTC, both ends included)."""

    start: date
    end: date

    @classmethod
    def ending(cls, now: datetime) -> Window:
        """The last ``WINDOW_DAYS`` UTC days up to today: the most Pinterest gives."""
        today = now.astimezone(UTC).date()
        return cls(today - timedelta(days=WINDOW_DAYS - 1), today)

    def params(self) -> dict[str, str]:
        return {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}


def malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="pinterest_malformed")


def _count(value: object, what: str) -> int:
    """A counter: a non-negative whole number (JSON numbers may come as 240.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(f"Pinterest's {what} is not a number")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise malformed(f"Pinterest's {what} is not a whole number")
    if value < 0:
        raise malformed(f"Pinterest's {what} is negative")
    return int(value)


def app_section(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``ALL`` app type's section, whatever the key's case (``None``: absent)."""
    for key, value in body.items():
        if isinstance(key, str) and key.upper() == "ALL":
            if not isinstance(value, dict):
                raise malformed(
                    "Pinterest's analytics answer has an app section that is not an object"
                )
            return value
    return None


def reading_of(pin_id: str, body: Mapping[str, Any], window: Window) -> MetricReading:
    """One Pin's reading from its analytics answer (``{"ALL": {...}}``)."""
    section = app_section(body)
    if section is None:
        raise malformed("Pinterest's analytics answer has no ALL section")
    days = section.get("daily_metrics") or []
    if not isinstance(days, list):
        raise malformed("Pinterest's daily_metrics is not a list")
    sums: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for day in days:
        if not isinstance(day, dict):
            raise malformed("Pinterest's daily_metrics has an entry that is not an object")
        status = day.get("data_status")
        if isinstance(status, str):
            statuses[status] = statuses.get(status, 0) + 1
        metrics = day.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise malformed("Pinterest's daily metrics are not an object")
        for name in DAILY:
            if metrics.get(name) is not None:
                sums[name] = sums.get(name, 0) + _count(metrics[name], f"daily {name}")
    lifetime = section.get("lifetime_metrics") or {}
    if not isinstance(lifetime, dict):
        raise malformed("Pinterest's lifetime_metrics is not an object")
    reactions, comments = lifetime.get("TOTAL_REACTIONS"), lifetime.get("TOTAL_COMMENTS")
    likes = _count(reactions, "TOTAL_REACTIONS") if reactions is not None else None
    replies = _count(comments, "TOTAL_COMMENTS") if comments is not None else None
    data: dict[str, Any] = {
        "impressions_kind": "impressions",
        "window_days": WINDOW_DAYS,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "covers": "impressions, saves and clicks: the last 90 days only (Pinterest keeps no "
        "older daily analytics); reactions and comments: lifetime",
    }
    for name, key in DAILY.items():
        data[key] = sums.get(name)
    data["days_processing"] = statuses.get("PROCESSING", 0)
    data["days_ready"] = statuses.get("READY", 0)
    return MetricReading(
        platform_post_id=pin_id,
        impressions=sums.get("IMPRESSION"),
        likes=likes,
        comments=replies,
        shares=None,  # saves are not shares (SPEC §9.1)
        platform_data=data,
    )


# ---- errors and rate windows ---------------------------------------------------------------


def error_body(response: httpx.Response) -> tuple[int | None, str | None]:
    """``(code, message)`` of Pinterest's ``{"code", "message"}`` error body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    return code, safe_text(body.get("message"))


def _reset_at(headers: httpx.Headers, now: datetime) -> datetime | None:
    reset = header_int(headers, RESET_HEADER)
    if reset is None:
        return None
    if reset > 1_000_000_000:  # a Unix time
        return datetime.fromtimestamp(reset, UTC)
    return now + timedelta(seconds=reset)


def window_of(headers: httpx.Headers, now: datetime, *, trial: bool) -> RateWindow | None:
    """The window the answer's rate headers describe (``None`` without them). Trial limits
    are per app per day: the window is the app's (a spent one pauses every account)."""
    limit = header_int(headers, LIMIT_HEADER)
    remaining = header_int(headers, REMAINING_HEADER)
    reset_at = _reset_at(headers, now)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateWindow(limit, remaining, reset_at, scope="app" if trial else "credential")


def next_utc_midnight(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def retry_at(headers: httpx.Headers, now: datetime, *, trial: bool) -> datetime:
    """When a 429 lets calls through again: ``Retry-After``, else the reset header, else
    the tier's window (Trial: the next UTC day; Standard: a minute)."""
    after = header_int(headers, "retry-after")
    if after is not None:
        return now + timedelta(seconds=after)
    reset = _reset_at(headers, now)
    if reset is not None and reset > now:
        return reset
    return next_utc_midnight(now) if trial else now + STANDARD_PAUSE


def http_error(response: httpx.Response, now: datetime, *, trial: bool) -> PlatformError:
    """Pinterest's error answer as our error (messages are ours, plus its short message)."""
    status = response.status_code
    _code, message = error_body(response)
    reason = f": {message}" if message else ""
    if status == 429:
        return RateLimited(
            f"Pinterest rate limit reached{reason}",
            code="pinterest_rate_limited",
            retry_at=retry_at(response.headers, now, trial=trial),
        )
    if status == 401:
        return PermissionRequired(
            f"Pinterest refused the owner's token{reason}", code="pinterest_unauthorized"
        )
    if status == 403:
        return PermissionRequired(
            f"Pinterest does not let this connection read that{reason} (the owner may have to "
            "reconnect and grant pins:read, boards:read and user_accounts:read)",
            code="pinterest_forbidden",
        )
    if status == 404:
        return NotFound(f"Pinterest has no such Pin or account{reason}", code="pinterest_not_found")
    if status >= 500:
        return TransientError(
            f"Pinterest answered HTTP {status}{reason}", code="pinterest_server_error"
        )
    return PlatformError(
        f"Pinterest answered HTTP {status}{reason}", code=f"pinterest_http_{status}"
    )


def is_deleted(response: httpx.Response) -> bool:
    """A 404 saying the Pin is gone (code 50 "Pin not found.", or 404)."""
    if response.status_code != 404:
        return False
    code, _message = error_body(response)
    return code in DELETED_CODES or code is None
