"""Bluesky's wire format, for the fake: XRPC error bodies, identifiers (DIDs, TIDs, CIDs),
parameter checks, and the views (``profileViewBasic``, ``profileViewDetailed``,
``postView``, ``feedViewPost``). Shapes follow the AT Protocol lexicons
(``reference/platform-apis.md`` §2); messages are ours."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from openpost.platforms.fakes.base import bad_gateway

if TYPE_CHECKING:
    from openpost.platforms.bluesky.fake import FakeActor, FakePost, FakeRepost

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
REASON_REPOST = "app.bsky.feed.defs#reasonRepost"
NOT_FOUND_POST = "app.bsky.feed.defs#notFoundPost"
FILTERS = (
    "posts_with_replies",
    "posts_no_replies",
    "posts_with_media",
    "posts_and_author_threads",
    "posts_with_video",
)
S32 = "234567abcdefghijklmnopqrstuvwxyz"
HANDLE = re.compile(
    r"^(?=.{3,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}$")
AT_URI = re.compile(r"^at://([^/\s?#]+)(?:/([a-zA-Z0-9.-]+)(?:/([A-Za-z0-9._:~-]{1,512}))?)?$")
CURSOR = re.compile(r"^(\d{1,16})::([a-z0-9]{1,100})$")


def xrpc_error(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def invalid(message: str) -> tuple[int, Any]:
    return 400, {"error": "InvalidRequest", "message": message}


def did_for(handle: str) -> str:
    """A stable ``did:plc`` for a handle (24 base32 characters, as PLC identifiers are)."""
    digest = hashlib.sha256(handle.lower().encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def cid_for(uri: str) -> str:
    """A CIDv1-looking identifier (``bafyrei`` + base32 of a sha-256 digest)."""
    digest = hashlib.sha256(uri.encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def tid(when: datetime, clock_id: int) -> str:
    """A TID record key: 53 bits of microseconds since 1970 and 10 bits of clock id,
    written in base32-sortable (13 characters)."""
    micros = int(when.timestamp() * 1_000_000)
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(S32[(value >> (60 - 5 * i)) & 31] for i in range(13))


def timestamp(when: datetime) -> str:
    """``2026-03-01T10:00:00.000Z``: how the AppView writes datetimes."""
    moment = when.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def valid_at_uri(value: str) -> bool:
    match = AT_URI.match(value)
    return match is not None and bool(DID.match(match[1]) or HANDLE.match(match[1]))


def profile_basic(actor: FakeActor) -> dict[str, Any]:
    return {
        "did": actor.did,
        "handle": actor.handle,
        "displayName": actor.display_name,
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{actor.did}/{cid_for(actor.did)}@jpeg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "labels": [],
        "createdAt": timestamp(actor.created_at),
    }


def profile_detailed(actor: FakeActor, *, posts: int, indexed_at: datetime) -> dict[str, Any]:
    return {
        **profile_basic(actor),
        "description": f"The fake profile of {actor.handle}",
        "followersCount": actor.followers,
        "followsCount": actor.follows,
        "postsCount": posts,
        "indexedAt": timestamp(indexed_at),
    }


def post_view(post: FakePost, author: FakeActor, posts: dict[str, FakePost]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": POST,
        "createdAt": timestamp(post.created_at),
        "langs": ["en"],
        "text": post.text,
    }
    if post.reply_parent is not None:
        parent = posts.get(post.reply_parent)
        root = posts.get(post.reply_root or post.reply_parent)
        record["reply"] = {
            "parent": {
                "cid": parent.cid if parent else cid_for(post.reply_parent),
                "uri": post.reply_parent,
            },
            "root": {
                "cid": root.cid if root else cid_for(post.reply_root or post.reply_parent),
                "uri": post.reply_root or post.reply_parent,
            },
        }
    view: dict[str, Any] = {
        "uri": post.uri,
        "cid": post.cid,
        "author": profile_basic(author),
        "record": record,
    }
    view.update(copy.deepcopy(post.counts))  # tests may put anything in here
    view["indexedAt"] = timestamp(post.indexed_at)
    view["labels"] = []
    return view


def reply_ref(uri: str, view: dict[str, Any] | None) -> dict[str, Any]:
    if view is None:
        return {"$type": NOT_FOUND_POST, "uri": uri, "notFound": True}
    return {"$type": "app.bsky.feed.defs#postView", **view}


def reason_repost(repost: FakeRepost, by: FakeActor) -> dict[str, Any]:
    return {
        "$type": REASON_REPOST,
        "by": profile_basic(by),
        "uri": repost.uri,
        "cid": repost.cid,
        "indexedAt": timestamp(repost.created_at),
    }


def encode_cursor(sort_at: datetime, cid: str) -> str:
    return f"{int(sort_at.timestamp() * 1000)}::{cid}"


def decode_cursor(cursor: str) -> tuple[int, str] | None:
    match = CURSOR.match(cursor)
    return (int(match[1]), match[2]) if match else None


def fault_response(kind: str, *, status: int) -> Response:
    """The body the AppView (or what stands in front of it) sends for an injected fault."""
    if kind == "server_error":
        if status == 502:
            return bad_gateway()
        return xrpc_error(status, "InternalServerError", "Internal Server Error")
    if kind == "not_json":
        return Response(
            "<html><body>upstream overloaded</body></html>", 200, media_type="text/html"
        )
    return JSONResponse({"unexpected": True}, status_code=200)  # wrong_shape
