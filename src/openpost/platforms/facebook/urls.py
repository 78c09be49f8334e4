"""Facebook post URLs: facebook.com, m., mbasic., web., business.facebook.com.
``/permalink.php`` or ``/story.php`` with ``story_fbid=<digits>&id=<digits>`` →
``<id>_<story_fbid>`` (the Graph page-post id); ``/<page>/posts/<digits>``,
``/<page>/videos/[<slug>/]<digits>``, ``/reel/<digits>``, ``/watch?v=<digits>``,
``/photo?fbid=<digits>`` (or ``photo.php``) → the digits; ``/<digits>_<digits>`` → that id.
``pfbid…`` links hide the id and are refused; so are ``fb.watch`` short links. Given ids:
``<digits>`` or ``<digits>_<digits>``. URL: ``https://www.facebook.com/<page>_<post>`` for a
page-post id; a bare number may be a post, video or photo, so it gets none."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrlError, PostUrls, Query
from openpost.platforms.urlparts import DIGITS, first

_ID = re.compile(r"^[0-9]{1,20}(?:_[0-9]{1,20})?$")
_PATHS = (
    re.compile(r"^/([0-9]{1,20}_[0-9]{1,20})/?$"),
    re.compile(r"^/[^/]+/posts/([0-9]{1,20})/?$"),
    re.compile(r"^/[^/]+/videos/(?:[^/]+/)?([0-9]{1,20})/?$"),
    re.compile(r"^/reel/([0-9]{1,20})/?$"),
)


def _parse(_host: str, path: str, query: Query) -> str | None:
    if "/pfbid" in path or query.get("story_fbid", "").startswith("pfbid"):
        raise PostUrlError("is a Facebook link that hides the post id; give platform_post_id")
    route = path.rstrip("/")
    if route in ("/permalink.php", "/story.php"):
        story, page = query.get("story_fbid", ""), query.get("id", "")
        return f"{page}_{story}" if DIGITS.match(story) and DIGITS.match(page) else None
    if route in ("/watch", "/photo", "/photo.php"):
        given = query.get("v" if route == "/watch" else "fbid", "")
        return given if DIGITS.match(given) else None
    for pattern in _PATHS:
        if found := first(pattern, path):
            return found
    return None


def _url_for(post_id: str, _username: str) -> str | None:
    return f"https://www.facebook.com/{post_id}" if "_" in post_id else None


URLS = PostUrls(
    hosts=frozenset(
        {
            "facebook.com",
            "m.facebook.com",
            "mbasic.facebook.com",
            "web.facebook.com",
            "business.facebook.com",
        }
    ),
    short_hosts=frozenset({"fb.watch"}),
    parse=_parse,
    id_pattern=_ID,
    id_hint="digits or <page>_<post>",
    url_for=_url_for,
)
