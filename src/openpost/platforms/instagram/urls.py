"""Instagram post URLs: instagram.com, instagr.am. ``/p/<code>``, ``/reel/<code>``,
``/reels/<code>``, ``/tv/<code>``, optionally after ``/<user>`` → the shortcode (the reader
matches shortcodes to media ids). URL: ``https://www.instagram.com/p/<code>/`` for a
shortcode, else none."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.threads.urls import SHORTCODE
from openpost.platforms.urlparts import first

_PATH = re.compile(r"^/(?:[A-Za-z0-9._]{1,30}/)?(?:p|reels?|tv)/([A-Za-z0-9_-]{1,64})/?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    return first(_PATH, path)


def _url_for(post_id: str, _username: str) -> str | None:
    return None if post_id.isdigit() else f"https://www.instagram.com/p/{post_id}/"


URLS = PostUrls(
    hosts=frozenset({"instagram.com", "instagr.am"}),
    parse=_parse,
    id_pattern=SHORTCODE,
    id_hint="a media id or shortcode",
    url_for=_url_for,
)
