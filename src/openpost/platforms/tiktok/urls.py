"""TikTok post URLs: tiktok.com, m.tiktok.com. ``/@<user>/video/<digits>`` (or ``/photo/``)
→ the digits. ``vm.``/``vt.tiktok.com`` short links are refused. URL:
``https://www.tiktok.com/@<username>/video/<id>``."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.urlparts import DIGITS, first

_PATH = re.compile(r"^/@[^/]{1,64}/(?:video|photo)/([0-9]{1,20})/?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    return first(_PATH, path)


def _url_for(post_id: str, username: str) -> str | None:
    return f"https://www.tiktok.com/@{username}/video/{post_id}"


URLS = PostUrls(
    hosts=frozenset({"tiktok.com", "m.tiktok.com"}),
    short_hosts=frozenset({"vm.tiktok.com", "vt.tiktok.com"}),
    parse=_parse,
    id_pattern=DIGITS,
    id_hint="digits",
    url_for=_url_for,
)
