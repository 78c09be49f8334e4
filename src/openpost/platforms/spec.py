"""What the rest of the code may know about a platform: one ``PlatformSpec`` each.

A spec is plain data plus a few pure hooks. Anyone may read it (the dashboard for labels
and colours, ``posts`` for URL rules, the planner for batch sizes, caps and budgets); only
``refresh`` (and the owner-consent token exchange) builds clients from it. ``specs.py``
lists every platform's spec; nothing outside a platform's own folder branches on its name.

The pieces:
- ``CredentialKey``: which credential a read uses. Targets with equal keys share a batch
  and a rate window (``twitter``: X's app token for every workspace;
  ``twitter:user:<integration>``: an owner's token; ``mastodon:<instance>``: limits are per
  instance). Stored and sent in jobs as ``str(key)``, read back with ``parse``.
- ``PostUrls``: how the platform's post URLs map to stored ids and back.
- ``Reader``: how to build the platform's client and what one read may carry.
- ``DailyBudgetRule`` and ``PostCap``: what the platform lets the service spend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import httpx

    from openpost.config import Settings
    from openpost.platforms.base import PlatformClient
    from openpost.platforms.consent import OwnerConsent, UserTokenSource


class PostUrlError(ValueError):
    """A post URL or id that cannot be used; ``str(error)`` is safe to show."""


@dataclass(frozen=True, slots=True)
class CredentialKey:
    """The credential a read spends: the platform's app credential (``scope`` empty), an
    owner's token (``user:<integration id>``) or a per-host credential (``<instance>``)."""

    platform: str
    scope: str = ""

    def __str__(self) -> str:
        return f"{self.platform}:{self.scope}" if self.scope else self.platform

    @classmethod
    def parse(cls, text: str) -> CredentialKey:
        """The key of ``str(key)``; an endpoint suffix (``…/metrics``) is ignored."""
        platform, _, scope = text.rsplit("/", 1)[0].partition(":")
        return cls(platform, scope)

    @classmethod
    def owner(cls, platform: str, integration_id: object) -> CredentialKey:
        return cls(platform, f"user:{integration_id}")

    @property
    def is_owner_token(self) -> bool:
        return self.scope.startswith("user:")

    @property
    def shared(self) -> bool:
        """Spent by every workspace: a refusal blames the operator's app, not an account."""
        return not self.is_owner_token and self.platform != "synthetic"


Query = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PostUrls:
    """A platform's post URLs and ids (pure; the rules shared by all are in ``posts.urls``).

    - ``hosts``: hosts (``www.`` removed) whose posts are this platform's; ``host_matches``
      extends them (country domains, subdomains); ``any_host``: posts live on any host
      not known for another platform (Mastodon instances).
    - ``short_hosts``: link shorteners of the platform, refused (following them needs a
      network call).
    - ``parse(host, path, query)``: the stored id of the post at that URL, or ``None``.
    - ``id_pattern`` and ``id_hint``: the shape of ids given directly, and how to describe
      it; ``normal_id`` rewrites a matching id into its stored form; ``id_valid`` adds a
      check a pattern cannot express (X: within 64 bits).
    - ``url_for(post_id, username)``: the post's public URL, where the id allows it.
    - ``owned(post_id, username, account_id, url)``: the id to store for a post of a
      resolved account, after checking that it is that account's (or ``PostUrlError``).
    """

    hosts: frozenset[str]
    parse: Callable[[str, str, Query], str | None]
    id_pattern: re.Pattern[str]
    id_hint: str
    url_for: Callable[[str, str], str | None]
    host_matches: Callable[[str], bool] | None = None
    any_host: bool = False
    short_hosts: frozenset[str] = frozenset()
    normal_id: Callable[[re.Match[str]], str] | None = None
    id_valid: Callable[[str], bool] | None = None
    owned: Callable[[str, str, str, str | None], str] | None = None


@dataclass(frozen=True, slots=True)
class Reader:
    """How collection reads the platform (a platform without one is ``unsupported``).

    - ``build(settings, transport, user_tokens)``: a new client (``transport`` replaces
      the network in tests; ``user_tokens`` refreshes owners' tokens where the platform
      has them).
    - ``batch_size(settings)``: the most post ids one metrics request may carry.
    - ``discovery_limit(settings)``: at most this many of an account's newest posts per
      discovery run.
    - ``credential_scope(username)``: the scope of the credential an account's reads
      spend when it has no owner token (``""``: the app credential).
    - ``read_credentials(username, stored)``: what the client's calls take as
      ``credentials`` for that account.
    """

    build: Callable[[Settings, httpx.BaseTransport | None, UserTokenSource | None], PlatformClient]
    batch_size: Callable[[Settings], int]
    discovery_limit: Callable[[Settings], int]
    credential_scope: Callable[[str], str] | None = None
    read_credentials: Callable[[str, dict[str, Any] | None], dict[str, Any] | None] | None = None


Unit = Literal["posts", "quota_units"]


@dataclass(frozen=True, slots=True)
class DailyBudgetRule:
    """How a platform's day is counted: in posts (billed once per day per post) or in quota
    units (every call costs); the day in the platform's own zone (``day_of``) and when it
    comes back (``resets_at``); ``limit(settings)`` 0 means no limit."""

    unit: Unit
    limit: Callable[[Settings], int]
    day_of: Callable[[datetime], date]
    resets_at: Callable[[datetime], datetime]
    discovery_reserve: Callable[[int], int] = lambda _limit: 1


@dataclass(frozen=True, slots=True)
class PostCap:
    """Each integration is re-read only for its ``max_posts`` newest posts, while younger
    than ``window`` (X's app-wide token: SPEC §5.2)."""

    max_posts: int
    window: timedelta


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def utc_midnight_after(now: datetime) -> datetime:
    return datetime.combine(utc_day(now) + timedelta(days=1), time(0), tzinfo=UTC)


def per_day_in(zone: str, unit: Unit, limit: Callable[[Settings], int]) -> DailyBudgetRule:
    """A budget whose day is the calendar day in the IANA ``zone`` the platform counts in
    (its quota comes back at that zone's midnight)."""
    tz = ZoneInfo(zone)

    def day_of(now: datetime) -> date:
        return now.astimezone(tz).date()

    def resets_at(now: datetime) -> datetime:
        following = datetime.combine(day_of(now) + timedelta(days=1), time(0), tzinfo=tz)
        return following.astimezone(UTC)

    return DailyBudgetRule(unit, limit, day_of, resets_at)


def posts_per_utc_day(limit: Callable[[Settings], int]) -> DailyBudgetRule:
    """A budget of posts read per UTC day (a post read today costs nothing more)."""
    return DailyBudgetRule("posts", limit, utc_day, utc_midnight_after)


def _never(_settings: Settings) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """Everything that differs from one platform to the next, in one place.

    - ``name``: the stored code (``twitter``); ``label``: what people read (``X``);
      ``code_prefix``: the prefix of its error codes (``x_rate_limited``).
    - ``colour``: its colour in charts; ``handle_hint``: the connect form's placeholder.
    - ``settle_time``: how long after publication its numbers keep settling; a reading
      taken inside it is provisional (SPEC §9.2).
    - ``configured(settings)``: whether the operator has given what reading it needs (an
      API key, an app's credentials); ``needs``: what to set when it has not.
    - ``consent_only``: accounts connect only through the owner's consent (no handle form);
      ``consent``: the owner-consent flow (``None``: none); ``more_consents``: further flows
      for the same accounts, each with its own slug and credentials ``kind`` (Instagram's
      Facebook Login beside its Instagram Login).
    - ``app_credential_codes``: error codes meaning the operator's app credential itself
      was refused (pause the platform, blame no account).
    - ``usd_per_read``: what one post read costs, for the dry run's estimate.
    - ``fake``: a new fake of its API (``FakePlatform``: ``.app``, ``.transport()``), for
      tests and demo servers.
    - ``thumbnail_url``: where the platform serves a post's preview image, ``{post_id}``
      standing for its platform post id (YouTube's video thumbnails); empty for none.
    - ``preview_hosts``: hosts of the preview images its API hands out per post (X's
      attached media on pbs.twimg.com); a preview elsewhere is not kept.
    """

    name: str
    label: str
    colour: str
    settle_time: timedelta
    urls: PostUrls
    handle_hint: str = ""
    code_prefix: str = ""
    configured: Callable[[Settings], bool] = _never
    needs: str = ""
    consent_only: bool = False
    reader: Reader | None = None
    budget: DailyBudgetRule | None = None
    cap: Callable[[Settings], PostCap] | None = None
    app_credential_codes: frozenset[str] = frozenset()
    usd_per_read: float | None = None
    fake: Callable[[], Any] | None = None
    consent: OwnerConsent | None = None
    more_consents: tuple[OwnerConsent, ...] = ()
    thumbnail_url: str = ""
    preview_hosts: frozenset[str] = frozenset()

    def keeps_preview(self, url: str) -> bool:
        """Whether ``url`` is an https image on one of the platform's preview hosts."""
        parts = urlsplit(url)
        return parts.scheme == "https" and parts.hostname in self.preview_hosts and len(url) <= 2048

    @property
    def prefix(self) -> str:
        return self.code_prefix or self.name

    @property
    def live(self) -> bool:
        """It has a client: collection can read it (when configured)."""
        return self.reader is not None

    def credential_key(self, username: str, owner_of: object | None = None) -> CredentialKey:
        """The key an account's reads spend: its owner's token (``owner_of`` = the
        integration id, when it carries one), else the app's or its host's credential."""
        if owner_of is not None:
            return CredentialKey.owner(self.name, owner_of)
        scoped = self.reader.credential_scope if self.reader is not None else None
        return CredentialKey(self.name, scoped(username) if scoped is not None else "")
