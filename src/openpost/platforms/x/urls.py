"""X post URLs: x.com, twitter.com, mobile.twitter.com, mobile.x.com.
``/<user>/status/<digits>`` (also ``/i/web/status/<digits>``, trailing ``/photo/1`` etc.) →
the digits, a 64-bit number. URL: ``https://x.com/<username>/status/<id>``. ``t.co`` short
links are refused (following them needs a network call)."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.urlparts import DIGITS, first, fits_64_bits

_PATH = re.compile(r"^/(?:i/web|[A-Za-z0-9_]{1,50})/status(?:es)?/([0-9]{1,20})(?:/.*)?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    found = first(_PATH, path)
    return found if found is not None and fits_64_bits(found) else None


def _url_for(post_id: str, username: str) -> str | None:
    return f"https://x.com/{username}/status/{post_id}"


URLS = PostUrls(
    hosts=frozenset({"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"}),
    short_hosts=frozenset({"t.co"}),
    parse=_parse,
    id_pattern=DIGITS,
    id_valid=fits_64_bits,
    id_hint="digits, within 64 bits",
    url_for=_url_for,
)
