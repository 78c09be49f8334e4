"""Bluesky post URLs: bsky.app. ``/profile/<handle-or-did>/post/<rkey>`` →
``at://<handle-or-did>/app.bsky.feed.post/<rkey>``; for a connected account ``owned`` then
stores the DID form, as discovery reports it. Given ids must be such AT-URIs. URL: the
reverse mapping."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrlError, PostUrls, Query

_ACTOR = r"[A-Za-z0-9._:%-]{1,253}"
_RKEY = r"[A-Za-z0-9._:~-]{1,512}"
AT_URI = re.compile(rf"^at://({_ACTOR})/app\.bsky\.feed\.post/({_RKEY})$")
_PATH = re.compile(rf"^/profile/({_ACTOR})/post/({_RKEY})/?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    match = _PATH.match(path)
    return f"at://{match[1]}/app.bsky.feed.post/{match[2]}" if match else None


def _url_for(post_id: str, _username: str) -> str | None:
    match = AT_URI.match(post_id)
    return f"https://bsky.app/profile/{match[1]}/post/{match[2]}" if match else None


def _owned(post_id: str, username: str, account_id: str, _url: str | None) -> str:
    """A post named by its author's handle is stored in the DID form that reads and
    discovery use, so a post registered by URL and the same post found by discovery are one;
    a handle or DID of another account is refused. Checked only against a resolved account
    (a DID): simulated accounts have none."""
    if not account_id.startswith("did:"):
        return post_id
    match = AT_URI.match(post_id)
    if match is None:
        return post_id
    actor, rkey = match[1], match[2]
    handle = username.strip().removeprefix("@").lower()
    if actor.startswith("did:"):
        if actor != account_id:
            raise PostUrlError(f"is a post of another Bluesky account ({actor}), not of @{handle}")
    elif actor.lower() != handle:
        raise PostUrlError(
            f"is a post of @{actor.lower()}, not of this integration's @{handle} (if the "
            "account changed its handle, connect it again)"
        )
    return f"at://{account_id}/app.bsky.feed.post/{rkey}"


URLS = PostUrls(
    hosts=frozenset({"bsky.app"}),
    parse=_parse,
    id_pattern=AT_URI,
    id_hint="at://<handle-or-did>/app.bsky.feed.post/<rkey>",
    url_for=_url_for,
    owned=_owned,
)
