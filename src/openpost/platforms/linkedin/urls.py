"""LinkedIn post URLs: linkedin.com and its subdomains.
``/feed/update/urn:li:<kind>:<digits>`` (percent-encoded or not) → that URN;
``/posts/<slug>-<kind>-<digits>-<suffix>`` → ``urn:li:<kind>:<digits>``; kind is
``activity``, ``share`` or ``ugcPost``. Given ids must be such URNs. ``lnkd.in`` short
links are refused. URL: ``https://www.linkedin.com/feed/update/<urn>/``."""

from __future__ import annotations

import re

from openpost.platforms.spec import PostUrls, Query

_KINDS = {"activity": "activity", "share": "share", "ugcpost": "ugcPost"}
_URN = re.compile(r"^urn:li:(activity|share|ugcPost):([0-9]{1,20})$", re.IGNORECASE)
_UPDATE_PATH = re.compile(r"^/feed/update/(urn:li:[A-Za-z]+:[0-9]{1,20})/?$")
_POSTS_PATH = re.compile(
    r"^/posts/[^/]*?-(activity|share|ugcpost)-([0-9]{1,20})(?:-[A-Za-z0-9_-]*)?/?$",
    re.IGNORECASE,
)


def _urn(kind: str, number: str) -> str:
    return f"urn:li:{_KINDS[kind.lower()]}:{number}"


def _parse(_host: str, path: str, _query: Query) -> str | None:
    update = _UPDATE_PATH.match(path)
    if update is not None:
        urn = _URN.match(update[1])
        return _urn(urn[1], urn[2]) if urn else None
    match = _POSTS_PATH.match(path)
    return _urn(match[1], match[2]) if match else None


def _url_for(post_id: str, _username: str) -> str | None:
    return f"https://www.linkedin.com/feed/update/{post_id}/"


URLS = PostUrls(
    hosts=frozenset({"linkedin.com"}),
    host_matches=lambda host: host.endswith(".linkedin.com"),
    short_hosts=frozenset({"lnkd.in"}),
    parse=_parse,
    id_pattern=_URN,
    normal_id=lambda match: _urn(match[1], match[2]),
    id_hint="urn:li:share:<digits>, urn:li:ugcPost:<digits> or urn:li:activity:<digits>",
    url_for=_url_for,
)
