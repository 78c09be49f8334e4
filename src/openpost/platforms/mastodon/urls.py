"""Mastodon post URLs: any host not known for another platform. ``/@<user>/<digits>`` or
``/users/<user>/statuses/<digits>`` → the digits (a 64-bit number).
``/@<user>@<domain>/<digits>`` is another instance's local copy whose id means nothing on
the author's home instance, so it is refused. URL: ``https://<instance>/@<user>/<id>`` when
the username is ``user@instance``, else none."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from openpost.platforms.spec import PostUrlError, PostUrls, Query
from openpost.platforms.urlparts import DIGITS, first, fits_64_bits

_AT_PATH = re.compile(r"^/@([A-Za-z0-9_.-]{1,64})(@[^/]+)?/([0-9]{1,20})/?$")
_USERS_PATH = re.compile(r"^/users/[A-Za-z0-9_.-]{1,64}/statuses/([0-9]{1,20})/?$")


def _parse(_host: str, path: str, _query: Query) -> str | None:
    match = _AT_PATH.match(path)
    if match:
        if match[2]:
            raise PostUrlError(
                "shows a copy of the post on another instance, whose id is local to that "
                "instance; give the post's URL on its home instance"
            )
        found: str | None = match[3]
    else:
        found = first(_USERS_PATH, path)
    return found if found is not None and fits_64_bits(found) else None


def _url_for(post_id: str, username: str) -> str | None:
    user, at, instance = username.partition("@")
    return f"https://{instance}/@{user}/{post_id}" if at and instance and user else None


def _host(host: str) -> str:
    return host.lower().rstrip(".").removeprefix("www.")


def _owned(post_id: str, username: str, _account_id: str, url: str | None) -> str:
    """A status id is local to its instance: a URL on another host than the account's
    instance is refused (checked only for a ``user@instance`` account)."""
    if url is None:
        return post_id
    user, at, instance = username.strip().removeprefix("@").rpartition("@")
    if at and user and instance:
        text = url.strip() if "://" in url else "https://" + url.strip()
        try:
            parts = urlsplit(text)
            host = _host(parts.hostname or "")
            host = f"{host}:{parts.port}" if parts.port else host
        except ValueError:
            return post_id
        if host != _host(instance):
            raise PostUrlError(
                f"is on {host}, but the integration's account lives on {instance.lower()} "
                "(a status id means something only on its home instance)"
            )
    return post_id


URLS = PostUrls(
    hosts=frozenset(),
    any_host=True,
    parse=_parse,
    id_pattern=DIGITS,
    id_valid=fits_64_bits,
    id_hint="digits, within 64 bits",
    url_for=_url_for,
    owned=_owned,
)
