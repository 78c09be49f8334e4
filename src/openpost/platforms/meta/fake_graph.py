"""The fakes' side of Meta's Graph conventions: error bodies as Meta writes them and the
usage headers, so that the Threads, Instagram and Facebook fakes answer alike."""

from __future__ import annotations

import secrets

import orjson
from starlette.responses import Response


def error_response(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    status: int = 400,
    kind: str = "OAuthException",  # Threads: THApiException; Instagram: IGApiException
    headers: dict[str, str] | None = None,
) -> Response:
    """A Graph error answer: ``{"error": {message, type, code, error_subcode?, fbtrace_id}}``."""
    error: dict[str, object] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return Response(
        orjson.dumps({"error": error}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def app_usage(call_count: int, cputime: int = 0, total_time: int = 0) -> dict[str, str]:
    """The ``X-App-Usage`` header for those percentages."""
    value = {"call_count": call_count, "total_cputime": cputime, "total_time": total_time}
    return {"X-App-Usage": orjson.dumps(value).decode()}


def business_usage(
    object_id: str, kind: str, call_count: int, *, regain_minutes: int = 0
) -> dict[str, str]:
    """The ``X-Business-Use-Case-Usage`` header of one business object."""
    entry = {
        "type": kind,
        "call_count": call_count,
        "total_cputime": 0,
        "total_time": 0,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"X-Business-Use-Case-Usage": orjson.dumps({object_id: [entry]}).decode()}
