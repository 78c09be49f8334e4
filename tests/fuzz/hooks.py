"""Schemathesis checks of our own, loaded by ``st run`` (``SCHEMATHESIS_HOOKS``).

``error_body_shape``: every 4xx and 5xx is ``{"error": "<non-empty string>"}`` as JSON, and
no answer is ever a 422.

``accepted_or_refused_as_documented`` stands in for schemathesis' own
``positive_data_acceptance``. A request that the OpenAPI document allows must be
answered 2xx, or 401/404/409/429, or 400 for one of the rules below only. Each is a rule
the document states in words and JSON Schema cannot: it depends on stored state (an
opaque cursor, a reused Idempotency-Key, a post already tracked, a disconnected
integration), compares two values (since before until, a time not in the future), or
follows the platform's own format (a post URL or id of that integration's platform, a
handle). Any other 400 to a schema-valid request is a gap in the document: it fails.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

DOCUMENTED_REFUSALS = [
    re.compile(pattern)
    for pattern in (
        r"^cursor is invalid$",  # opaque: only a next_cursor is one
        r"^Idempotency-Key was already used with a different request$",  # SPEC §1: a 400
        r"^a request with this Idempotency-Key is still in progress; retry it$",
        r"^targets\.\d+: .* is already tracked \(post [0-9a-f-]+\)$",
        r"^targets\.\d+: the same post is listed twice$",
        r"^targets\.\d+\.integration_id: the integration is disconnected$",
        r"^targets\.\d+\.(post_url|platform_post_id) ",  # the integration's platform's format
        r"^targets\.\d+\.published_at must not be in the future$",
        r"^targets\.\d+\.published_at is out of range$",
        r"^since must be before until$",
        r"^(since|until) is out of range$",
        r"^days cannot be combined with since/until$",  # stated in the operation's description
        r"^until needs since$",
        r"^as_of is in the future: ",  # stated in as_of's words (SPEC §9.6)
        r"^as_of must be on or after 2000-01-01T00:00:00Z$",
        r"^username must be 1 to \d+ characters$",  # after a leading @ and spaces are dropped
        r"^username must not contain spaces or control characters$",
        r"^username: ",  # the platform's own handle rules
        r"^(post_id|search) does not apply to view=accounts$",  # stated in `view`'s words
        r"^url: ",  # the URL guard's rules (https, standard port, a public host), in words
    )
]

ACCEPTED_STATUSES = {401, 403, 404, 409, 429}


def _error_message(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str):
        return str(body["error"])
    return None


@schemathesis.check
def error_body_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    status = response.status_code
    if status == 422:
        raise AssertionError(f"422 reached the client: {response.text[:300]}")
    if status < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not str(content_type).startswith("application/json"):
        raise AssertionError(f"{status} is not JSON: {content_type!r}")
    message = _error_message(response)
    if not message:
        raise AssertionError(
            f"{status} body is not {{'error': '<message>'}}: {response.text[:300]}"
        )
    return None


@schemathesis.check
def accepted_or_refused_as_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if is_unexpected_http_status_case(case):  # a probe of the request's shape (as upstream)
        return None
    status = response.status_code
    if status < 400 or status in ACCEPTED_STATUSES or status >= 500:  # 5xx: not_a_server_error
        return None
    message = _error_message(response) or ""
    if status == 400 and any(rule.search(message) for rule in DOCUMENTED_REFUSALS):
        return None
    raise AssertionError(
        f"a request the document allows was refused: {status} {response.text[:300]}"
    )
