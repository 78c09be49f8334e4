"""Post URLs and platform post ids, for every platform. Pure: no I/O, no database.

``post_id_from_url(platform, url)`` turns a post's public URL into the id we store,
``check_post_id(platform, id)`` checks an id given directly, and
``url_for_post(platform, id, username)`` writes the URL back where the id alone allows it.
Failures raise ``PostUrlError`` with a message fit to show to the caller.

The rules shared by every platform are here: http or https (a bare ``x.com/…`` is read as
https); hosts are matched case-insensitively with any ``www.`` removed; a trailing slash,
query string and fragment are ignored unless they carry the id. A URL on a host known to
belong to another platform is refused as that platform's URL. Ids stay strings (X and
Mastodon ids exceed 2**53) and are ASCII. Short links (t.co, vm.tiktok.com, pin.it,
fb.watch, lnkd.in) would need a network call to follow, so they are refused with a request
for the full URL.

Each platform's own forms (hosts, paths → stored id, id shapes, id → URL) are its spec's
``urls`` (``platforms/<name>/urls.py``), documented there.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from openpost.platforms.spec import PostUrlError, PostUrls
from openpost.platforms.specs import SPECS, label

__all__ = [
    "PostUrlError",
    "check_post_id",
    "owned_post_id",
    "platform_of_host",
    "post_id_from_url",
    "url_for_post",
]

_RULES: dict[str, PostUrls] = {name: spec.urls for name, spec in SPECS.items()}
_SHORT_LINK_HOSTS = {host: name for name, rules in _RULES.items() for host in rules.short_hosts}


def platform_of_host(host: str) -> str | None:
    """The platform whose posts live on ``host``, or None (Mastodon instances are anywhere)."""
    host = _normal_host(host)
    for platform, rules in _RULES.items():
        if host in rules.hosts or (rules.host_matches is not None and rules.host_matches(host)):
            return platform
    return _SHORT_LINK_HOSTS.get(host)


def post_id_from_url(platform: str, url: str) -> str:
    """The id of the post at ``url``, which must be a post URL of ``platform``."""
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        host = _normal_host(parts.hostname or "")
    except ValueError:
        raise PostUrlError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise PostUrlError("must be an http or https URL")

    owner = platform_of_host(host)
    if owner is not None and owner != platform:
        raise PostUrlError(
            f"is {_a(label(owner))} URL, but the integration is {_a(label(platform))} account"
        )
    rules = _RULES.get(platform)
    if rules is None or (owner is None and not rules.any_host):
        raise PostUrlError(f"is not {_a(label(platform))} post URL")
    if host in _SHORT_LINK_HOSTS:
        raise PostUrlError("is a short link; give the post's full URL")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    found = rules.parse(host, unquote(parts.path), query)
    if found is None:
        raise PostUrlError(f"is not {_a(label(platform))} post URL")
    return found


def check_post_id(platform: str, post_id: str) -> str:
    """``post_id`` stripped, in its stored form, if it has the shape of ``platform``'s ids."""
    post_id = post_id.strip()
    rules = _RULES.get(platform)
    match = rules.id_pattern.fullmatch(post_id) if rules is not None else None
    if rules is None or match is None or (rules.id_valid and not rules.id_valid(post_id)):
        hint = f" ({rules.id_hint})" if rules is not None else ""
        raise PostUrlError(f"is not {_a(label(platform))} post id{hint}")
    return rules.normal_id(match) if rules.normal_id is not None else post_id


def url_for_post(platform: str, post_id: str, username: str) -> str | None:
    """The public URL of a post from its id, where the platform's URLs allow it."""
    rules = _RULES.get(platform)
    return rules.url_for(post_id, username) if rules is not None else None


def owned_post_id(
    platform: str, post_id: str, *, username: str, account_id: str, url: str | None = None
) -> str:
    """The id to store for a post of the integration's account, after checking that the post
    is that account's where the id or URL tells (so a post cannot be tracked twice, or under
    the wrong account): each platform's ``urls.owned`` rule (Bluesky stores the DID form and
    refuses another account's post; Mastodon refuses a URL on another instance)."""
    rules = _RULES.get(platform)
    if rules is None or rules.owned is None:
        return post_id
    return rules.owned(post_id, username, account_id, url)


def _a(name: str) -> str:
    """``name`` with its article: "a Bluesky", "an X", "an Instagram"."""
    return f"{'an' if name[:1] in 'AEIOUX' else 'a'} {name}"


def _normal_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")
