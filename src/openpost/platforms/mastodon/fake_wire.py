"""Mastodon's wire format, for the fake: the Account and Status entities, error bodies,
``X-RateLimit-*`` headers, ``Link`` pagination and parameter handling. Shapes follow the
Mastodon API docs (``reference/platform-apis.md`` §3); messages are Mastodon's short ones."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.mastodon.fake import FakeAccount, FakeStatus

NOT_FOUND = {"error": "Record not found"}
TOO_MANY = {"error": "Too many requests"}
AUTH_REQUIRED = {"error": "This API requires an authenticated user"}
FORBIDDEN = {"error": "This action is not allowed"}
VISIBLE_WITHOUT_TOKEN = ("public", "unlisted")
PAGINATION_PARAMS = ("limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned")
HTML_404 = (
    "<!DOCTYPE html><html><head><title>The page you are looking for isn't here.</title>"
    "</head><body><h1>404</h1></body></html>"
)


def version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    parts = []
    for piece in version.split("+")[0].split("-")[0].split(".")[:2]:
        parts.append(int(piece) if piece.isdigit() else 0)
    return tuple(parts) >= wanted


def timestamp(when: datetime) -> str:
    """``2026-03-01T10:00:00.000Z``: how Mastodon writes entity times."""
    moment = when.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def reset_timestamp(when: datetime) -> str:
    """``X-RateLimit-Reset``: ISO 8601 with microseconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def snowflake(when: datetime, sequence: int) -> str:
    """A status id as Mastodon makes them: milliseconds since 1970 shifted 16 bits left,
    plus a sequence in the low bits; a string, because it exceeds 2**53."""
    millis = int(when.timestamp() * 1000)
    return str((millis << 16) | (sequence & 0xFFFF))


def account_entity(account: FakeAccount, domain: str, *, statuses: int) -> dict[str, Any]:
    profile = f"https://{domain}/@{account.username}"
    entity: dict[str, Any] = {
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": account.locked,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": account.created_at.strftime("%Y-%m-%dT00:00:00.000Z"),
        "note": f"<p>The fake account of {account.username}</p>",
        "url": profile,
        "uri": f"https://{domain}/users/{account.username}",
        "avatar": f"https://{domain}/avatars/original/missing.png",
        "avatar_static": f"https://{domain}/avatars/original/missing.png",
        "header": f"https://{domain}/headers/original/missing.png",
        "header_static": f"https://{domain}/headers/original/missing.png",
        "followers_count": account.followers,
        "following_count": account.following,
        "statuses_count": statuses,
        "last_status_at": None,
        "emojis": [],
        "fields": [],
    }
    if account.suspended:
        entity.update(
            display_name="",
            note="",
            statuses_count=0,
            followers_count=0,
            following_count=0,
            suspended=True,
        )
    return entity


def status_entity(
    status: FakeStatus,
    account: dict[str, Any],
    domain: str,
    *,
    quotes: bool,
    reblog: dict[str, Any] | None = None,
) -> dict[str, Any]:
    username = account["username"]
    boost = reblog is not None
    entity: dict[str, Any] = {
        "id": status.id,
        "created_at": timestamp(status.created_at),
        "in_reply_to_id": status.in_reply_to_id,
        "in_reply_to_account_id": status.in_reply_to_account_id,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": status.visibility,
        "language": None if boost else "en",
        "uri": f"https://{domain}/users/{username}/statuses/{status.id}"
        + ("/activity" if boost else ""),
        "url": None if boost else f"https://{domain}/@{username}/{status.id}",
    }
    counts = copy.deepcopy(status.counts)  # tests may put anything in here
    if not quotes:
        counts.pop("quotes_count", None)
    entity.update(counts)
    entity.update(
        {
            "edited_at": None,
            "content": "" if boost else status.content,
            "reblog": reblog,
            "account": account,
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
    )
    return entity


def link_header(
    base: str, params: dict[str, str], first: str | None, last: str | None, *, more: bool
) -> str:
    """``Link`` as Mastodon writes it: ``next`` (older, ``max_id``) when the page was full,
    ``prev`` (newer, ``min_id``) when it was not empty. ``since_id`` is not carried over."""
    kept = {k: params[k] for k in PAGINATION_PARAMS if k in params}
    links = []
    if more and last is not None:
        links.append(f'<{base}?{urlencode({**kept, "max_id": last})}>; rel="next"')
    if first is not None:
        links.append(f'<{base}?{urlencode({**kept, "min_id": first})}>; rel="prev"')
    return ", ".join(links)


def limit_param(raw: str | None, default: int = 20) -> int:
    """Mastodon's ``limit``: absent → 20; otherwise clamped to 1..40."""
    if raw is None:
        return default
    try:
        value = abs(int(raw))
    except ValueError:
        return default
    return max(1, min(value, default * 2))


def truthy(raw: str | None) -> bool:
    return raw is not None and raw.lower() not in ("", "0", "false", "f", "off", "no")


def fault_response(kind: str, *, status: int) -> Response:
    """What an instance (or the proxy in front of it) sends for an injected fault."""
    if kind == "server_error":
        page = f"<html><body><h1>{status}</h1>We're sorry, but something went wrong.</body></html>"
        return HTMLResponse(page, status_code=status)
    if kind == "unauthorized":
        return JSONResponse(AUTH_REQUIRED, status_code=401)
    if kind == "forbidden":
        return JSONResponse(FORBIDDEN, status_code=403)
    if kind == "not_json":
        return HTMLResponse("<html><body>maintenance</body></html>", status_code=200)
    return JSONResponse({"unexpected": True}, status_code=200)  # wrong_shape
