"""The one way platform clients talk HTTP: a configured sync httpx client and a safe ``send``.

Every platform client builds its ``httpx.Client`` with ``make_client`` (timeouts, user agent,
no redirects) and sends through ``send``, which writes one structured log line per response
and turns transport failures into ``TransientError``s whose messages are safe to store.

Secrets never leave this module in a message: log lines carry the method, host, path and
status (never the query string, which some platforms use for tokens, nor any header), and
the errors raised here are built from our own words and are raised ``from None`` so that
no httpx exception (which holds the request, headers included) rides along in a traceback.

There are no retries here: one call is one request, so batching arithmetic and per-read
billing stay predictable. ``refresh`` retries with backoff and jitter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from openpost import __version__
from openpost.platforms.base import MalformedResponse, RateWindow, TransientError, WindowScope

log = logging.getLogger("openpost.platforms.http")

USER_AGENT = f"openpost-analytics/{__version__}"

# Connecting should be quick; a batch read may take a few seconds on a busy platform.
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def make_client(
    base_url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """A sync client for one platform. ``transport`` is the test seam (a fake's app)."""
    merged = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    merged.update(headers or {})
    return httpx.Client(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        headers=merged,
        follow_redirects=False,
    )


def send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    platform: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """Send one request (``data``: a form body; ``content``: a raw body, such as JSON);
    timeouts and connection failures become ``TransientError``, and no httpx exception
    (which holds the request and its headers) rides along.

    The response body is read before returning, so a connection dropped mid-body is a
    transport failure here rather than a surprise later.
    """
    label, prefix = _label(platform), code_prefix(platform)
    started = time.perf_counter()
    try:
        response = client.request(
            method, path, params=params, headers=headers, data=data, auth=auth, content=content
        )
        response.read()
    except httpx.TimeoutException:
        raise TransientError(f"{label} did not answer in time", code=f"{prefix}_timeout") from None
    except httpx.DecodingError:
        raise MalformedResponse(
            f"{label} sent a body that could not be decoded", code=f"{prefix}_malformed"
        ) from None
    except httpx.HTTPError:
        raise TransientError(f"could not reach {label}", code=f"{prefix}_unreachable") from None
    log.info(
        "platform request",
        extra={
            "platform": platform,
            "method": method,
            "host": response.request.url.host,
            "path": response.request.url.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response


def json_object(response: httpx.Response, *, platform: str) -> dict[str, Any]:
    """The body as a JSON object, or ``MalformedResponse`` (non-JSON, or not an object)."""
    label, prefix = _label(platform), code_prefix(platform)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise MalformedResponse(
            f"{label} answered HTTP {response.status_code} with a body that is not JSON",
            code=f"{prefix}_malformed",
        ) from None
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"{label} answered HTTP {response.status_code} with JSON that is not an object",
            code=f"{prefix}_malformed",
        )
    return body


def safe_text(value: object, limit: int = 200) -> str | None:
    """A platform-supplied string, trimmed for use inside our own messages (or None)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(platform: str) -> str:
    from openpost.platforms.specs import label

    return label(platform)


def code_prefix(platform: str) -> str:
    """The prefix of a platform's error codes (``x_rate_limited``, ``bluesky_timeout``)."""
    from openpost.platforms.specs import SPECS

    spec = SPECS.get(platform)
    return spec.prefix if spec is not None else platform


def header_int(headers: httpx.Headers, name: str) -> int | None:
    """A header's non-negative integer value (``None``: absent or not a plain number)."""
    value = headers.get(name, "").strip()
    if not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def epoch_window(headers: httpx.Headers, prefix: str) -> RateWindow | None:
    """The rate window of ``<prefix>-limit``, ``-remaining`` and ``-reset`` headers whose reset
    is a Unix time (X's ``x-rate-limit``, Bluesky's ``ratelimit``); ``None`` without them."""
    limit = header_int(headers, f"{prefix}-limit")
    remaining = header_int(headers, f"{prefix}-remaining")
    reset = header_int(headers, f"{prefix}-reset")
    if limit is None and remaining is None and reset is None:
        return None
    reset_at = datetime.fromtimestamp(reset, UTC) if reset is not None else None
    return RateWindow(limit=limit, remaining=remaining, reset_at=reset_at)


def iso_time(value: object) -> datetime | None:
    """An ISO 8601 time with an offset, as UTC; ``None`` for anything else (no offset: no
    guess at its zone)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def usage_window(
    value: str | None, now: datetime, *, scope: WindowScope = "credential"
) -> RateWindow | None:
    """A usage header whose JSON says how much of a window is used, in percent (Meta's
    ``X-App-Usage``: ``{"call_count": 28, "total_cputime": 25, "total_time": 25}``, or one
    entry of ``X-Business-Use-Case-Usage``, which adds ``estimated_time_to_regain_access``
    in minutes): the window of the most used of them. ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        usage = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(usage, dict):
        return None
    percents = [
        float(usage[name])
        for name in ("call_count", "total_cputime", "total_time")
        if isinstance(usage.get(name), int | float) and not isinstance(usage.get(name), bool)
    ]
    if not percents:
        return None
    minutes = usage.get("estimated_time_to_regain_access")
    regain_at = None
    if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        regain_at = now + timedelta(minutes=minutes)
    return RateWindow.from_usage(max(percents), regain_at=regain_at, scope=scope)


def error_code_in_body(response: httpx.Response) -> tuple[int | None, int | None]:
    """``(code, subcode)`` of a JSON error body shaped ``{"error": {"code": 4,
    "error_subcode": 2446079, …}}`` (Meta's; throttling comes as a 400 with such a code
    rather than a 429). ``(None, None)`` for any other body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    code, subcode = error.get("code"), error.get("error_subcode")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        subcode if isinstance(subcode, int) and not isinstance(subcode, bool) else None,
    )
