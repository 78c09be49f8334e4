"""Meta's Graph error codes and usage headers, read the same way for its three platforms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from openpost.platforms.base import (
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    TransientError,
)
from openpost.platforms.consent import TokenRefused
from openpost.platforms.meta import fake_graph
from openpost.platforms.meta.graph import classify, usage_windows

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def answer(
    code: int,
    *,
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
    status: int = 400,
) -> httpx.Response:
    fake = fake_graph.error_response(
        code, "(#x) words", subcode=subcode, status=status, headers=headers
    )
    return httpx.Response(fake.status_code, content=fake.body, headers=dict(fake.headers))


@pytest.mark.parametrize(
    ("code", "subcode", "kind", "suffix"),
    [
        (190, 463, TokenRefused, "token_expired"),
        (190, None, TokenRefused, "token_expired"),
        (102, None, TokenRefused, "token_expired"),
        (10, None, PermissionRequired, "permission_required"),
        (200, None, PermissionRequired, "permission_required"),
        (100, 33, NotFound, "not_found"),
        (4, None, RateLimited, "rate_limited"),
        (80002, None, RateLimited, "rate_limited"),
        (1, None, TransientError, "transient"),
        (100, None, PlatformError, "error"),
    ],
)
def test_codes_decide_never_the_type_or_status(
    code: int, subcode: int | None, kind: type[PlatformError], suffix: str
) -> None:
    error = classify(answer(code, subcode=subcode), platform="threads", now=NOW)
    assert type(error) is kind
    assert error.code == f"threads_{suffix}"


def test_a_token_refusal_needs_reconnecting_and_says_no_token() -> None:
    error = classify(answer(190, subcode=460), platform="instagram", now=NOW)
    assert isinstance(error, PermissionRequired)  # collection marks needs_refresh
    assert "460" in error.message
    assert "token=" not in error.message


def test_throttling_waits_for_the_business_regain_time() -> None:
    headers = fake_graph.business_usage("1789", "instagram", 100, regain_minutes=17)
    error = classify(answer(80002, headers=headers), platform="instagram", now=NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + timedelta(minutes=17)


def test_throttling_without_a_regain_time_waits_an_hour() -> None:
    error = classify(answer(4), platform="facebook", now=NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + timedelta(hours=1)


def test_success_is_no_error() -> None:
    assert classify(httpx.Response(200, json={"data": []}), platform="threads", now=NOW) is None


def test_usage_headers_give_an_app_window_and_one_per_business_object() -> None:
    headers = httpx.Headers(
        {**fake_graph.app_usage(35, 12, 3), **fake_graph.business_usage("42", "pages", 100)}
    )
    app, business = usage_windows(headers, NOW)
    assert (app.scope, app.remaining, app.rolling) == ("app", 65, timedelta(hours=1))
    assert (business.scope, business.spent, business.rolling) == (
        "credential",
        True,
        timedelta(hours=24),
    )
    assert usage_windows(httpx.Headers({"X-App-Usage": "not json"}), NOW) == []
