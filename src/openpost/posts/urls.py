"""Post URLs and platform post ids, for every platform. Pure: no I/O, no database.

``post_id_from_url(platform, url)`` turns a post's public URL into the id we store,
``check_post_id(platform, id)`` checks an id given directly, and
``url_for_post(platform, id, username)`` writes the URL back where the id alone allows it.
Failures raise ``PostUrlError`` with a message fit to show to the caller.

General rules: http or https (a bare ``x.com/…`` is read as https); hosts are matched
case-insensitively with any ``www.`` removed; a trailing slash, query string and fragment
are ignored unless they carry the id. A URL on a host known to belong to another platform
is refused as that platform's URL. Ids stay strings (X and Mastodon ids exceed 2**53).
Short links (t.co, vm.tiktok.com, pin.it, fb.watch, lnkd.in) would need a network call to
follow, so they are refused with a request for the full URL.

Per platform (URL forms → stored id; id → URL):

- ``twitter`` (X): x.com, twitter.com, mobile.twitter.com, mobile.x.com.
  ``/<user>/status/<digits>`` (also ``/i/web/status/<digits>``, trailing ``/photo/1`` etc.)
  → the digits. URL: ``https://x.com/<username>/status/<id>``.
- ``bluesky``: bsky.app. ``/profile/<handle-or-did>/post/<rkey>`` →
  ``at://<handle-or-did>/app.bsky.feed.post/<rkey>``; for a connected account,
  ``owned_post_id`` then stores the DID form, as discovery reports it. Given ids must be
  such AT-URIs. URL: the reverse mapping.
- ``mastodon``: any host not known for another platform. ``/@<user>/<digits>`` or
  ``/users/<user>/statuses/<digits>`` → the digits. ``/@<user>@<domain>/<digits>`` is
  another instance's local copy whose id means nothing on the author's home instance, so it
  is refused. URL: ``https://<instance>/@<user>/<id>`` when the username is
  ``user@instance``, else none.
- ``youtube``: youtube.com, m.youtube.com, music.youtube.com, youtube-nocookie.com,
  youtu.be. ``watch?v=<id>``, ``youtu.be/<id>``, ``/shorts/<id>``, ``/live/<id>``,
  ``/embed/<id>`` → the 11-character video id. URL: ``https://www.youtube.com/watch?v=<id>``.
- ``threads``: threads.net, threads.com. ``/@<user>/post/<code>`` or ``/t/<code>`` → the
  shortcode. The Graph media id is not in the URL; the Threads reader matches shortcodes to
  media ids when it lists the account. Given ids: a numeric media id or a shortcode.
  URL: ``https://www.threads.net/@<username>/post/<code>`` for a shortcode, else none.
- ``instagram``: instagram.com, instagr.am. ``/p/<code>``, ``/reel/<code>``,
  ``/reels/<code>``, ``/tv/<code>``, optionally after ``/<user>`` → the shortcode, as for
  Threads. URL: ``https://www.instagram.com/p/<code>/`` for a shortcode, else none.
- ``facebook``: facebook.com, m., mbasic., web., business.facebook.com.
  ``/permalink.php`` or ``/story.php`` with ``story_fbid=<digits>&id=<digits>`` →
  ``<id>_<story_fbid>`` (the Graph page-post id); ``/<page>/posts/<digits>``,
  ``/<page>/videos/[<slug>/]<digits>``, ``/reel/<digits>``, ``/watch?v=<digits>``,
  ``/photo?fbid=<digits>`` (or ``photo.php``) → the digits; ``/<digits>_<digits>`` → that
  id. ``pfbid…`` links hide the id and are refused. Given ids: ``<digits>`` or
  ``<digits>_<digits>``. URL: ``https://www.facebook.com/<page>_<post>`` for a page-post id;
  a bare number may be a post, video or photo, so it gets none.
- ``linkedin``: linkedin.com and its subdomains. ``/feed/update/urn:li:<kind>:<digits>``
  (percent-encoded or not) → that URN; ``/posts/<slug>-<kind>-<digits>-<suffix>`` →
  ``urn:li:<kind>:<digits>``; kind is ``activity``, ``share`` or ``ugcPost``. Given ids must
  be such URNs. URL: ``https://www.linkedin.com/feed/update/<urn>/``.
- ``tiktok``: tiktok.com, m.tiktok.com. ``/@<user>/video/<digits>`` (or ``/photo/``) → the
  digits. URL: ``https://www.tiktok.com/@<username>/video/<id>``.
- ``pinterest``: pinterest.com and its country domains (pinterest.co.uk, de.pinterest.com,
  pinterest.com.au…). ``/pin/<digits>`` → the digits. URL:
  ``https://www.pinterest.com/pin/<id>/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit


class PostUrlError(ValueError):
    """A post URL or id that cannot be used; ``str(error)`` is safe to show."""


_HOSTS: dict[str, frozenset[str]] = {
    "twitter": frozenset({"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"}),
    "bluesky": frozenset({"bsky.app"}),
    "youtube": frozenset(
        {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com", "youtu.be"}
    ),
    "threads": frozenset({"threads.net", "threads.com"}),
    "instagram": frozenset({"instagram.com", "instagr.am"}),
    "facebook": frozenset(
        {
            "facebook.com",
            "m.facebook.com",
            "mbasic.facebook.com",
            "web.facebook.com",
            "business.facebook.com",
        }
    ),
    "linkedin": frozenset({"linkedin.com"}),
    "tiktok": frozenset({"tiktok.com", "m.tiktok.com"}),
    "pinterest": frozenset({"pinterest.com"}),
}

_SHORT_LINK_HOSTS = {
    "t.co": "twitter",
    "vm.tiktok.com": "tiktok",
    "vt.tiktok.com": "tiktok",
    "pin.it": "pinterest",
    "fb.watch": "facebook",
    "lnkd.in": "linkedin",
}

_PINTEREST_HOST = re.compile(
    r"^(?:[a-z]{2}\.)?pinterest\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$"
)

_DIGITS = re.compile(r"^\d{1,30}$")
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BLUESKY_ACTOR = r"[A-Za-z0-9._:%-]{1,253}"
_BLUESKY_RKEY = r"[A-Za-z0-9._:~-]{1,512}"
_AT_URI = re.compile(rf"^at://({_BLUESKY_ACTOR})/app\.bsky\.feed\.post/({_BLUESKY_RKEY})$")
_FACEBOOK_ID = re.compile(r"^\d{1,30}(?:_\d{1,30})?$")
_LINKEDIN_KINDS = {"activity": "activity", "share": "share", "ugcpost": "ugcPost"}
_LINKEDIN_URN = re.compile(r"^urn:li:(activity|share|ugcPost):(\d{1,30})$", re.IGNORECASE)

_NAMES = {
    "twitter": "X",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "youtube": "YouTube",
    "threads": "Threads",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
    "pinterest": "Pinterest",
}


def platform_of_host(host: str) -> str | None:
    """The platform whose posts live on ``host``, or None (Mastodon instances are anywhere)."""
    host = _normal_host(host)
    for platform, hosts in _HOSTS.items():
        if host in hosts:
            return platform
    if _PINTEREST_HOST.match(host):
        return "pinterest"
    if host.endswith(".linkedin.com"):
        return "linkedin"
    return _SHORT_LINK_HOSTS.get(host) or None


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
            f"is {_a(_NAMES[owner])} URL, but the integration is {_a(_name(platform))} account"
        )
    parser = _PARSERS.get(platform)
    if parser is None or (owner is None and platform != "mastodon"):
        raise PostUrlError(f"is not {_a(_name(platform))} post URL")
    if host in _SHORT_LINK_HOSTS:
        raise PostUrlError("is a short link; give the post's full URL")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    found = parser(host, unquote(parts.path), query)
    if found is None:
        raise PostUrlError(f"is not {_a(_name(platform))} post URL")
    return found


def check_post_id(platform: str, post_id: str) -> str:
    """``post_id`` stripped, if it has the shape of ``platform``'s post ids."""
    post_id = post_id.strip()
    pattern = {
        "twitter": _DIGITS,
        "mastodon": _DIGITS,
        "tiktok": _DIGITS,
        "pinterest": _DIGITS,
        "youtube": _YOUTUBE_ID,
        "bluesky": _AT_URI,
        "facebook": _FACEBOOK_ID,
        "threads": _SHORTCODE,
        "instagram": _SHORTCODE,
        "linkedin": _LINKEDIN_URN,
    }.get(platform)
    match = pattern.match(post_id) if pattern is not None else None
    if match is None:
        raise PostUrlError(f"is not {_a(_name(platform))} post id ({_ID_HINTS.get(platform, '')})")
    if platform == "linkedin":
        return f"urn:li:{_LINKEDIN_KINDS[match[1].lower()]}:{match[2]}"
    return post_id


def url_for_post(platform: str, post_id: str, username: str) -> str | None:
    """The public URL of a post from its id, where the platform's URLs allow it."""
    if platform == "twitter":
        return f"https://x.com/{username}/status/{post_id}"
    if platform == "bluesky":
        match = _AT_URI.match(post_id)
        return f"https://bsky.app/profile/{match[1]}/post/{match[2]}" if match else None
    if platform == "mastodon":
        user, at, instance = username.partition("@")
        return f"https://{instance}/@{user}/{post_id}" if at and instance and user else None
    if platform == "youtube":
        return f"https://www.youtube.com/watch?v={post_id}"
    if platform == "threads":
        return None if post_id.isdigit() else f"https://www.threads.net/@{username}/post/{post_id}"
    if platform == "instagram":
        return None if post_id.isdigit() else f"https://www.instagram.com/p/{post_id}/"
    if platform == "facebook":
        return f"https://www.facebook.com/{post_id}" if "_" in post_id else None
    if platform == "linkedin":
        return f"https://www.linkedin.com/feed/update/{post_id}/"
    if platform == "tiktok":
        return f"https://www.tiktok.com/@{username}/video/{post_id}"
    if platform == "pinterest":
        return f"https://www.pinterest.com/pin/{post_id}/"
    return None


def owned_post_id(
    platform: str, post_id: str, *, username: str, account_id: str, url: str | None = None
) -> str:
    """The id to store for a post of the integration's account, after checking that the post
    is that account's where the id or URL tells (so a post cannot be tracked twice, or under
    the wrong account):

    - Bluesky: a post named by its author's handle is stored in the DID form that reads and
      discovery use (``at://<did>/…``), so a post registered by URL and the same post found
      by discovery are one; a handle or DID of another account is refused.
    - Mastodon: a status id is local to its instance, so a URL on another host than the
      account's instance is refused.

    Checked only against a resolved account (a DID on Bluesky, ``user@instance`` on
    Mastodon): simulated accounts in test workspaces have neither."""
    if platform == "bluesky" and account_id.startswith("did:"):
        match = _AT_URI.match(post_id)
        if match is None:
            return post_id
        actor, rkey = match[1], match[2]
        handle = username.strip().removeprefix("@").lower()
        if actor.startswith("did:"):
            if actor != account_id:
                raise PostUrlError(
                    f"is a post of another Bluesky account ({actor}), not of @{handle}"
                )
        elif actor.lower() != handle:
            raise PostUrlError(
                f"is a post of @{actor.lower()}, not of this integration's @{handle} (if the "
                "account changed its handle, connect it again)"
            )
        return f"at://{account_id}/app.bsky.feed.post/{rkey}"
    if platform == "mastodon" and url is not None:
        user, at, instance = username.strip().removeprefix("@").rpartition("@")
        if at and user and instance:
            text = url.strip() if "://" in url else "https://" + url.strip()
            try:
                parts = urlsplit(text)
                host = _normal_host(parts.hostname or "")
                host = f"{host}:{parts.port}" if parts.port else host
            except ValueError:
                return post_id
            if host != _normal_host(instance):
                raise PostUrlError(
                    f"is on {host}, but the integration's account lives on {instance.lower()} "
                    "(a status id means something only on its home instance)"
                )
    return post_id


_ID_HINTS = {
    "twitter": "digits",
    "mastodon": "digits",
    "tiktok": "digits",
    "pinterest": "digits",
    "youtube": "11 characters",
    "bluesky": "at://<handle-or-did>/app.bsky.feed.post/<rkey>",
    "facebook": "digits or <page>_<post>",
    "threads": "a media id or shortcode",
    "instagram": "a media id or shortcode",
    "linkedin": "urn:li:share:<digits>, urn:li:ugcPost:<digits> or urn:li:activity:<digits>",
}


def _a(name: str) -> str:
    """``name`` with its article: "a Bluesky", "an X", "an Instagram"."""
    return f"{'an' if name[:1] in 'AEIOUX' else 'a'} {name}"


def _name(platform: str) -> str:
    return _NAMES.get(platform, platform)


def _normal_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


Query = dict[str, str]
_Parser = Callable[[str, str, Query], str | None]

_X_PATH = re.compile(r"^/(?:i/web|[A-Za-z0-9_]{1,50})/status(?:es)?/(\d{1,30})(?:/.*)?$")
_BSKY_PATH = re.compile(rf"^/profile/({_BLUESKY_ACTOR})/post/({_BLUESKY_RKEY})/?$")
_MASTODON_AT_PATH = re.compile(r"^/@([A-Za-z0-9_.-]{1,64})(@[^/]+)?/(\d{1,30})/?$")
_MASTODON_USERS_PATH = re.compile(r"^/users/[A-Za-z0-9_.-]{1,64}/statuses/(\d{1,30})/?$")
_YOUTUBE_PATH = re.compile(r"^/(?:shorts|live|embed|v)/([A-Za-z0-9_-]{11})/?$")
_YOUTU_BE_PATH = re.compile(r"^/([A-Za-z0-9_-]{11})/?$")
_THREADS_PATH = re.compile(r"^/(?:@[A-Za-z0-9._]{1,64}/post|t)/([A-Za-z0-9_-]{1,64})(?:/.*)?$")
_INSTAGRAM_PATH = re.compile(r"^/(?:[A-Za-z0-9._]{1,30}/)?(?:p|reels?|tv)/([A-Za-z0-9_-]{1,64})/?$")
_FACEBOOK_PATHS = (
    re.compile(r"^/(\d{1,30}_\d{1,30})/?$"),
    re.compile(r"^/[^/]+/posts/(\d{1,30})/?$"),
    re.compile(r"^/[^/]+/videos/(?:[^/]+/)?(\d{1,30})/?$"),
    re.compile(r"^/reel/(\d{1,30})/?$"),
)
_LINKEDIN_UPDATE_PATH = re.compile(r"^/feed/update/(urn:li:[A-Za-z]+:\d{1,30})/?$")
_LINKEDIN_POSTS_PATH = re.compile(
    r"^/posts/[^/]*?-(activity|share|ugcpost)-(\d{1,30})(?:-[A-Za-z0-9_-]*)?/?$", re.IGNORECASE
)
_TIKTOK_PATH = re.compile(r"^/@[^/]{1,64}/(?:video|photo)/(\d{1,30})/?$")
_PINTEREST_PATH = re.compile(r"^/pin/(\d{1,30})/?$")


def _first(pattern: re.Pattern[str], path: str) -> str | None:
    match = pattern.match(path)
    return match[1] if match else None


def _twitter(_host: str, path: str, _query: Query) -> str | None:
    return _first(_X_PATH, path)


def _bluesky(_host: str, path: str, _query: Query) -> str | None:
    match = _BSKY_PATH.match(path)
    return f"at://{match[1]}/app.bsky.feed.post/{match[2]}" if match else None


def _mastodon(_host: str, path: str, _query: Query) -> str | None:
    match = _MASTODON_AT_PATH.match(path)
    if match:
        if match[2]:
            raise PostUrlError(
                "shows a copy of the post on another instance, whose id is local to that "
                "instance; give the post's URL on its home instance"
            )
        return match[3]
    return _first(_MASTODON_USERS_PATH, path)


def _youtube(host: str, path: str, query: Query) -> str | None:
    if host == "youtu.be":
        return _first(_YOUTU_BE_PATH, path)
    if path.rstrip("/") == "/watch":
        video = query.get("v", "")
        return video if _YOUTUBE_ID.match(video) else None
    return _first(_YOUTUBE_PATH, path)


def _threads(_host: str, path: str, _query: Query) -> str | None:
    return _first(_THREADS_PATH, path)


def _instagram(_host: str, path: str, _query: Query) -> str | None:
    return _first(_INSTAGRAM_PATH, path)


def _facebook(_host: str, path: str, query: Query) -> str | None:
    if "/pfbid" in path or query.get("story_fbid", "").startswith("pfbid"):
        raise PostUrlError("is a Facebook link that hides the post id; give platform_post_id")
    route = path.rstrip("/")
    if route in ("/permalink.php", "/story.php"):
        story, page = query.get("story_fbid", ""), query.get("id", "")
        return f"{page}_{story}" if _DIGITS.match(story) and _DIGITS.match(page) else None
    if route in ("/watch", "/photo", "/photo.php"):
        given = query.get("v" if route == "/watch" else "fbid", "")
        return given if _DIGITS.match(given) else None
    for pattern in _FACEBOOK_PATHS:
        if found := _first(pattern, path):
            return found
    return None


def _linkedin(_host: str, path: str, _query: Query) -> str | None:
    urn = _first(_LINKEDIN_UPDATE_PATH, path)
    if urn is not None:
        try:
            return check_post_id("linkedin", urn)
        except PostUrlError:
            return None
    match = _LINKEDIN_POSTS_PATH.match(path)
    return f"urn:li:{_LINKEDIN_KINDS[match[1].lower()]}:{match[2]}" if match else None


def _tiktok(_host: str, path: str, _query: Query) -> str | None:
    return _first(_TIKTOK_PATH, path)


def _pinterest(_host: str, path: str, _query: Query) -> str | None:
    return _first(_PINTEREST_PATH, path)


_PARSERS: dict[str, _Parser] = {
    "twitter": _twitter,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "youtube": _youtube,
    "threads": _threads,
    "instagram": _instagram,
    "facebook": _facebook,
    "linkedin": _linkedin,
    "tiktok": _tiktok,
    "pinterest": _pinterest,
}
