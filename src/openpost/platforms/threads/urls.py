"""Threads post URLs: threads.net, threads.com. ``/@<user>/post/<code>`` or ``/t/<code>`` →
the shortcode. The Graph media id is not in the URL; the Threads reader matches shortcodes
to media ids when it lists the account. Given ids: a numeric media id or a shortcode.
URL: ``https://www.threads.net/@<username>/post/<code>`` for a shortcode, else none."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.urlparts import first

SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PATH = re.compile(r"^/(?:@[A-Za-z0-9._]{1,64}/post|t)/([A-Za-z0-9_-]{1,64})(?:/.*)?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    return first(_PATH, path)


def _url_for(post_id: str, username: str) -> str | None:
    return None if post_id.isdigit() else f"https://www.threads.net/@{username}/post/{post_id}"


URLS = PostUrls(
    hosts=frozenset({"threads.net", "threads.com"}),
    parse=_parse,
    id_pattern=SHORTCODE,
    id_hint="a media id or shortcode",
    url_for=_url_for,
)
