"""What one platform contributes to an account owner's consent (OAuth 2.0 authorization
code flow), as plain data and a small client: no database, no dashboard.

A platform that connects accounts with their owner's consent gives an ``OwnerConsent``
(hung on its ``PlatformSpec`` as ``consent=``). ``openpost.consent`` runs the round trip
for every such platform the same way (attempts, state, PKCE, single use, expiry, storing
and refreshing the tokens); only what differs from one platform to the next is here:

- the consent page and its query: ``authorize_endpoint``, ``client_id`` (sent as
  ``client_id_param``: TikTok calls it ``client_key``), ``scopes`` joined by
  ``scope_separator``, PKCE S256 or not (``pkce``), ``extra_params``;
- which settings the operator has to set (``app_settings``: name → value, empty when unset);
- a ``ConsentClient`` (``open``): the code exchange, an optional long-lived-token step
  (Meta swaps its one-hour token for a sixty-day one; others return the tokens as given),
  renewal (a refresh token that may rotate; Meta renews the long-lived access token with
  itself) and who the token belongs to (``identify``, X's ``/2/users/me``), or, for a
  consent that covers several accounts, each of them with its own tokens (``ManyAccounts``:
  Facebook's Pages);
- the platform's own refusals on the callback (``refusal`` and ``answers``: Threads says
  why its consent page refused, a Threads app id that is the Facebook one, say);
- token lifetimes: ``uses_refresh_token`` (renewal needs one, so a consent without it is
  refused), ``refresh_margin`` (renew this long before the access token expires) and
  ``access_lifetime`` (what the platform documents; for answers without ``expires_in``).

Errors: ``TokenRefused`` (the code or refresh token is used, expired or revoked: only a new
consent helps; a ``PermissionRequired``, so collection marks the integration
``needs_refresh``) and ``ClientRejected`` (the platform refused the operator's client id or
secret, or they are unset: the operator's to fix, never a reason to ask owners again). Any
other ``PlatformError`` is a failure worth trying again later.

Nothing here may put a token, code, verifier or client secret into a message or a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import httpx

from openpost.platforms.base import Account, MalformedResponse, PermissionRequired, PlatformError

if TYPE_CHECKING:
    from openpost.config import Settings

REFRESH_MARGIN = timedelta(minutes=5)


class TokenRefused(PermissionRequired):
    """The platform refused the code or refresh token (used, expired, revoked): the owner
    must consent again."""


class ClientRejected(PlatformError):
    """The platform refused this server's OAuth client (id or secret), or none is
    configured: the operator's to fix, so not ``PermissionRequired``."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    """An owner's tokens as a platform issued them (``repr`` shows no token)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scope: str
    refresh_expires_at: datetime | None = None


class ConsentClient(Protocol):
    """One platform's token endpoint and account lookup for one app; closed after use."""

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        """The tokens for the code the consent page handed back (``verifier`` is the PKCE
        verifier, ``None`` for a platform without PKCE)."""
        ...

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """The tokens to keep: a long-lived exchange where the platform has one, else
        ``tokens`` unchanged."""
        ...

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """New tokens for the stored ones (``TokenRefused`` when only a new consent helps).
        A refresh token in the answer replaces the old one; none keeps it."""
        ...

    def identify(self, access_token: str) -> Account:
        """The account the access token belongs to."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsentedAccount:
    """One of several accounts a single consent gives, with its own tokens (Facebook: one
    Page each, with the Page's token)."""

    account: Account
    tokens: TokenSet


@runtime_checkable
class ManyAccounts(Protocol):
    """A ``ConsentClient`` whose one consent may cover several accounts (Facebook Login: every
    Page the owner chose). The round trip connects each; without this, ``identify`` names the
    one account the token belongs to."""

    def accounts(self, tokens: TokenSet, *, now: datetime) -> list[ConsentedAccount]:
        """Every account the kept tokens give access to, each with the tokens to store."""
        ...


class UserTokenSource(Protocol):
    """Gives current owner credentials to a platform client: the same ones, or renewed
    (and stored) ones when they expire soon or ``force`` says the platform rejected them."""

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]: ...


def _no_settings(_settings: Settings) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class OwnerConsent:
    """Everything the consent round trip needs to know about one platform (module docs).

    - ``platform``: the stored code (``twitter``); ``slug``: its name in the URL
      (``/integrations/<slug>/connect`` and ``/callback``; ``x`` for X, else the code).
    - ``kind``: the ``kind`` written into the sealed credentials (``x_oauth2``): it tells
      the token refresher which platform's consent renews them.
    - ``adds``: what the consent gives beyond a connection by handle, one clause for the
      dashboard ("non-public metrics are collected …"), or empty.
    - ``variant``: for a platform with more than one consent (``PlatformSpec.more_consents``:
      Instagram's Facebook Login beside Instagram Login), what tells this one apart on the
      dashboard, after its label ("(Facebook Login)"); empty for a platform's main consent.
    """

    platform: str
    slug: str
    kind: str
    authorize_endpoint: Callable[[Settings], str]
    client_id: Callable[[Settings], str]
    open: Callable[[Settings, httpx.BaseTransport | None], ConsentClient]
    scopes: tuple[str, ...]
    app_settings: Callable[[Settings], Mapping[str, str]] = _no_settings
    pkce: bool = True
    scope_separator: str = " "
    client_id_param: str = "client_id"
    extra_params: tuple[tuple[str, str], ...] = ()
    uses_refresh_token: bool = True
    refresh_margin: timedelta = REFRESH_MARGIN
    access_lifetime: timedelta | None = None
    adds: str = ""
    variant: str = ""
    # The platform's own refusals on the callback (Threads: "not a tester of the app"):
    # ``refusal(query)`` names one (a key of ``answers``) or gives ``None``; ``answers``
    # words each as the integrations page says it ({label}, {settings} as in the others).
    refusal: Callable[[Mapping[str, str]], str | None] | None = None
    answers: tuple[tuple[str, str], ...] = ()

    def missing(self, settings: Settings) -> list[str]:
        """The platform's settings an operator still has to set (names, in order)."""
        return [name for name, value in self.app_settings(settings).items() if not value]

    def authorize_url(
        self, settings: Settings, *, redirect_uri: str, state: str, challenge: str | None
    ) -> str:
        """The consent page's address for one attempt (``challenge``: the PKCE S256
        challenge, required exactly when the platform uses PKCE)."""
        if self.pkce != (challenge is not None):
            raise ValueError("a PKCE challenge goes with, and only with, a PKCE platform")
        query = {
            "response_type": "code",
            self.client_id_param: self.client_id(settings),
            "redirect_uri": redirect_uri,
            "scope": self.scope_separator.join(self.scopes),
            "state": state,
        }
        if challenge is not None:
            query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        query |= dict(self.extra_params)
        return f"{self.authorize_endpoint(settings)}?{urlencode(query)}"


def token_set(
    body: Mapping[str, Any],
    now: datetime,
    *,
    default_lifetime: timedelta | None = None,
    code: str = "oauth_malformed",
) -> TokenSet:
    """A standard OAuth 2.0 token answer (RFC 6749 §5.1: ``access_token``, ``expires_in``,
    ``refresh_token``, ``scope``, and the ``refresh_token_expires_in`` / ``refresh_expires_in``
    some platforms add) as a ``TokenSet``; ``MalformedResponse`` (with ``code``) otherwise."""
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise MalformedResponse("the token answer has no access token", code=code)
    if refresh is not None and not isinstance(refresh, str):
        raise MalformedResponse("the token answer has a refresh token that is not text", code=code)
    expires_in = _seconds(body.get("expires_in"), code=code)
    lifetime = timedelta(seconds=expires_in) if expires_in is not None else default_lifetime
    refresh_in = _seconds(
        body.get("refresh_token_expires_in", body.get("refresh_expires_in")), code=code
    )
    scope = body.get("scope")
    return TokenSet(
        access_token=access,
        refresh_token=refresh or None,
        expires_at=now + lifetime if lifetime is not None else None,
        scope=scope if isinstance(scope, str) else "",
        refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in is not None else None,
    )


def _seconds(value: object, *, code: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value <= 0:
        raise MalformedResponse("the token answer has a lifetime that is not seconds", code=code)
    return value
