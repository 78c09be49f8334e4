"""What the fake LinkedIn writes on the wire: its error bodies and Rest.li parameter forms.

Error shape (``reference/gated-platforms.md`` §5.5): ``{"status", "serviceErrorCode",
"code", "message"}``. A missing ``LinkedIn-Version`` header is a 400 ``VERSION_MISSING``, a
retired one a 426 ``NONEXISTENT_VERSION`` (the message names the version), as LinkedIn's
versioned APIs answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from starlette.responses import JSONResponse, Response

APP_DAY = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
MEMBER_DAY = "Resource level throttle MEMBER DAY limit for calls to this resource is reached."
VERSION = re.compile(r"^20[0-9]{2}(0[1-9]|1[0-2])$")
_LIST = re.compile(r"^List\((.*)\)$")
_INDEXED = re.compile(r"^(shares|ugcPosts)\[([0-9]+)\]$")


def error(status: int, code: str, message: str, service_code: int) -> Response:
    body = {"status": status, "serviceErrorCode": service_code, "code": code, "message": message}
    return JSONResponse(body, status_code=status)


def unauthorized(code: str = "INVALID_ACCESS_TOKEN") -> Response:
    messages = {
        "INVALID_ACCESS_TOKEN": "Invalid access token",
        "EXPIRED_ACCESS_TOKEN": "The token used in the request has expired",
        "REVOKED_ACCESS_TOKEN": "The token used in the request has been revoked by the user",
    }
    service = 65601 if code == "REVOKED_ACCESS_TOKEN" else 65600
    return error(401, code, messages[code], service)


def access_denied(what: str) -> Response:
    return error(403, "ACCESS_DENIED", f"Not enough permissions to access: {what}", 100)


def not_found(what: str) -> Response:
    return error(404, "NOT_FOUND", f"Not Found: {what}", 0)


def bad_request(message: str, code: str = "ILLEGAL_ARGUMENT") -> Response:
    return error(400, code, message, 100)


def throttled(app: bool) -> Response:
    return error(429, "TOO_MANY_REQUESTS", APP_DAY if app else MEMBER_DAY, 101)


def version_problem(header: str | None, oldest: str, newest: str) -> Response | None:
    """The answer to a missing, malformed or inactive ``LinkedIn-Version`` (``None``: fine)."""
    if not header:
        return bad_request(
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
            code="VERSION_MISSING",
        )
    if not VERSION.match(header):
        return bad_request(f"Invalid version format: {header}", code="INVALID_VERSION")
    if not oldest <= header <= newest:
        return error(426, "NONEXISTENT_VERSION", f"Requested version {header} is not active", 0)
    return None


def urn_list(raw_query: str, params: Mapping[str, Sequence[str]], name: str) -> list[str] | None:
    """The URNs of ``name=List(a,b)`` (Rest.li 2.0) or ``name[0]=a&name[1]=b`` (1.0 style);
    ``None`` when a ``List(…)`` carries a URN whose colons are not percent-encoded (which
    LinkedIn cannot parse)."""
    urns: list[str] = []
    for value in params.get(name, ()):
        match = _LIST.match(value)
        if match is None:
            urns.append(value)
            continue
        urns.extend(u for u in match[1].split(",") if u)
    indexed = sorted(
        (int(m[2]), values[-1])
        for key, values in params.items()
        if (m := _INDEXED.match(key)) and m[1] == name and values
    )
    urns.extend(value for _, value in indexed)
    raw = re.search(rf"(?:^|&){name}=List\(([^)]*)\)", raw_query)
    if raw is not None and "urn:li:" in raw[1]:
        return None
    return [unquote(u) for u in urns]


def entity_of(value: str) -> str | None:
    """The post URN of a member analytics ``entity=(share:…)`` / ``(ugc:…)``."""
    match = re.match(r"^\((share|ugc):(urn:li:(?:share|ugcPost):[0-9]+)\)$", unquote(value))
    return match[2] if match else None
