"""Pinterest post URLs: pinterest.com and its country domains (pinterest.co.uk,
de.pinterest.com, pinterest.com.au…). ``/pin/<digits>`` → the digits. ``pin.it`` short
links are refused. URL: ``https://www.pinterest.com/pin/<id>/``."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query
from openpost.platforms.urlparts import DIGITS, first

_HOST = re.compile(r"^(?:[a-z]{2}\.)?pinterest\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$")
_PATH = re.compile(r"^/pin/([0-9]{1,20})/?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    return first(_PATH, path)


def _url_for(post_id: str, _username: str) -> str | None:
    return f"https://www.pinterest.com/pin/{post_id}/"


URLS = PostUrls(
    hosts=frozenset({"pinterest.com"}),
    host_matches=lambda host: _HOST.match(host) is not None,
    short_hosts=frozenset({"pin.it"}),
    parse=_parse,
    id_pattern=DIGITS,
    id_hint="digits",
    url_for=_url_for,
)
