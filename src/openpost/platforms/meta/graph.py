"""Meta's Graph API error JSON and usage headers, read the same way for Threads, Instagram
and Facebook (reference: gated-platforms.md §1.1-§1.2).

Meta answers most failures with HTTP 400 (throttling included) and a body
``{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id", …}}``; what a
failure means is its ``code`` (and subcode), never its ``type`` or HTTP status:

- 190 (any subcode), 102: the token is invalid, expired or revoked → ``TokenRefused``
  (the integration needs reconnecting, nothing more is called until then);
- 10, 200-299: a permission is missing → ``PermissionRequired``;
- 100 with subcode 33: the object is gone or cannot be seen → ``NotFound``;
- 4, 17, 32, 613, 80000-80014: throttled → ``RateLimited`` until the usage headers' regain
  time (or an hour when they give none);
- 1, 2 (and 5xx without a body we know): transient → ``TransientError``.

Usage headers: ``X-App-Usage`` (the app across every token: scope ``app``, a rolling hour)
and ``X-Business-Use-Case-Usage`` (per business object: one window per entry, a rolling 24
hours, with ``estimated_time_to_regain_access`` in minutes). Messages never carry a token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import orjson

from openpost.platforms.base import (
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.consent import TokenRefused
from openpost.platforms.http import code_prefix, safe_text, usage_window

TOKEN_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
GONE = (100, 33)

APP_WINDOW = timedelta(hours=1)
BUSINESS_WINDOW = timedelta(hours=24)
# Throttled with no regain time in any header: wait this long (as Mixpost does).
DEFAULT_THROTTLE_WAIT = timedelta(hours=1)


def graph_error(response: httpx.Response) -> dict[str, object] | None:
    """The ``error`` object of a Graph error body, or ``None`` for any other body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_windows(headers: httpx.Headers, now: datetime) -> list[RateWindow]:
    """Every window the usage headers describe (empty when Meta sent none)."""
    windows: list[RateWindow] = []
    app = usage_window(headers.get("x-app-usage"), now, scope="app")
    if app is not None:
        windows.append(
            RateWindow(app.limit, app.remaining, app.reset_at, "app", rolling=APP_WINDOW)
        )
    raw = headers.get("x-business-use-case-usage")
    if raw:
        try:
            by_object = orjson.loads(raw)
        except orjson.JSONDecodeError:
            by_object = None
        if isinstance(by_object, dict):
            for entries in by_object.values():
                for entry in entries if isinstance(entries, list) else ():
                    window = (
                        usage_window(orjson.dumps(entry).decode(), now)
                        if isinstance(entry, dict)
                        else None
                    )
                    if window is not None:
                        windows.append(
                            RateWindow(
                                window.limit,
                                window.remaining,
                                window.reset_at,
                                "credential",
                                rolling=BUSINESS_WINDOW,
                            )
                        )
    return windows


def regain_at(windows: list[RateWindow], now: datetime) -> datetime:
    """When throttled calls may start again: the latest regain time any header gives, else
    ``DEFAULT_THROTTLE_WAIT`` from now."""
    times = [w.reset_at for w in windows if w.reset_at is not None and w.reset_at > now]
    return max(times) if times else now + DEFAULT_THROTTLE_WAIT


def classify(
    response: httpx.Response, *, platform: str, now: datetime, what: str = "the read"
) -> PlatformError | None:
    """The error a Graph answer carries (``None`` for a 2xx answer without an error
    object). Codes use the platform's prefix: ``threads_token_expired``, …"""
    error = graph_error(response)
    if error is None:
        if response.is_success:
            return None
        if response.status_code >= 500 or response.status_code == 429:
            return TransientError(
                f"{what} failed: HTTP {response.status_code}",
                code=f"{code_prefix(platform)}_unavailable",
            )
        return PlatformError(
            f"{what} failed: HTTP {response.status_code}", code=f"{code_prefix(platform)}_error"
        )
    prefix = code_prefix(platform)
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    said = safe_text(error.get("message")) or "no message"
    if code in TOKEN_CODES:
        return TokenRefused(
            f"the account's token was refused (code {code}"
            + (f", subcode {subcode}" if subcode is not None else "")
            + "): reconnect the account",
            code=f"{prefix}_token_expired",
        )
    if code in PERMISSION_CODES:
        return PermissionRequired(
            f"a permission is missing for {what} (code {code}): {said}",
            code=f"{prefix}_permission_required",
        )
    if (code, subcode) == GONE:
        return NotFound(f"the object is gone or not visible: {said}", code=f"{prefix}_not_found")
    if code in THROTTLE_CODES:
        until = regain_at(usage_windows(response.headers, now), now)
        return RateLimited(
            f"throttled by Meta (code {code}) until {until:%Y-%m-%d %H:%M} UTC",
            code=f"{prefix}_rate_limited",
            retry_at=until,
        )
    if code in TRANSIENT_CODES or response.status_code >= 500 or error.get("is_transient") is True:
        return TransientError(
            f"{what} failed for now (code {code}): {said}", code=f"{prefix}_transient"
        )
    return PlatformError(f"{what} was refused (code {code}): {said}", code=f"{prefix}_error")
