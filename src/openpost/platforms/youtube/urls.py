"""YouTube post URLs: youtube.com, m.youtube.com, music.youtube.com, youtube-nocookie.com,
youtu.be. ``watch?v=<id>``, ``youtu.be/<id>``, ``/shorts/<id>``, ``/live/<id>``,
``/embed/<id>`` → the 11-character video id. URL: ``https://www.youtube.com/watch?v=<id>``."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.urlparts import first

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_PATH = re.compile(r"^/(?:shorts|live|embed|v)/([A-Za-z0-9_-]{11})/?$")
_SHORT_PATH = re.compile(r"^/([A-Za-z0-9_-]{11})/?$")


def _parse(host: str, path: str, query: Query) -> str | None:
    if host == "youtu.be":
        return first(_SHORT_PATH, path)
    if path.rstrip("/") == "/watch":
        video = query.get("v", "")
        return video if VIDEO_ID.match(video) else None
    return first(_PATH, path)


def _url_for(post_id: str, _username: str) -> str | None:
    return f"https://www.youtube.com/watch?v={post_id}"


URLS = PostUrls(
    hosts=frozenset(
        {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com", "youtu.be"}
    ),
    parse=_parse,
    id_pattern=VIDEO_ID,
    id_hint="11 characters",
    url_for=_url_for,
)
