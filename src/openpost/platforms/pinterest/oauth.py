"""Pinterest's OAuth 2.0 endpoints for an account owner's consent: code exchange, continuous
refresh, and who the token belongs to.

Facts (``reference/gated-platforms.md`` §0b and §7.1; openapi.json ``/oauth/token``):

- The owner consents at ``https://www.pinterest.com/oauth/`` (``client_id``,
  ``redirect_uri``, ``response_type=code``, ``scope`` comma-separated, ``state``). No PKCE.
- Tokens come from ``POST https://api.pinterest.com/v5/oauth/token`` (form-encoded) with
  **HTTP Basic** client authentication (client id and secret): ``grant_type=
  authorization_code`` with ``code`` and ``redirect_uri``, or ``grant_type=refresh_token``
  with ``refresh_token``. Apps created before 2025-09-25 add ``continuous_refresh=true``
  (setting ``OPENPOST_PINTEREST_CONTINUOUS_REFRESH``).
- The answer: ``{"access_token", "token_type": "bearer", "expires_in", "scope",
  "response_type", "refresh_token", "refresh_token_expires_in", "refresh_token_expires_at"}``.
  Access tokens live about 30 days; refresh tokens are **continuous**: 60 days, and every
  refresh returns a new one with its own expiry (the stored one is replaced each time).
- A refresh token past its expiry is refused without asking (``TokenRefused``: the owner
  must consent again). A refused code or refresh token is a 400 from the token endpoint
  (the body's exact code is not documented); a 401 there is the operator's client id or
  secret (``ClientRejected``).
- ``GET /v5/user_account`` names the account (``id``, ``username``, ``business_name``).

Nothing here ever puts a token, a code or the client secret in a message or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from openpost.core import clock
from openpost.platforms.base import Account
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)
from openpost.platforms.http import json_object, make_client, send
from openpost.platforms.pinterest.reading import PLATFORM, http_error, malformed

if TYPE_CHECKING:
    from openpost.config import Settings

SCOPES = ("boards:read", "pins:read", "user_accounts:read")
TOKEN_PATH = "/v5/oauth/token"  # noqa: S105 - a path, not a secret
USER_ACCOUNT_PATH = "/v5/user_account"
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)  # under SQLite's busy timeout (10 s)
ACCESS_LIFETIME = timedelta(days=30)  # about 30 days (third-party figure; expires_in wins)
REFRESH_LIFETIME = timedelta(days=60)  # continuous refresh tokens
_ID = re.compile(r"^[0-9]{1,20}$")


class PinterestOAuth:
    """The token endpoint and ``/v5/user_account`` for one Pinterest app."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        continuous_refresh: bool = False,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TOKEN_TIMEOUT,
    ) -> None:
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._configured = bool(client_id and client_secret)
        self._continuous = continuous_refresh
        self._http = make_client(base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PinterestOAuth:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the client secret
        return f"PinterestOAuth(base_url={str(self._http.base_url)!r})"

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        """The owner's tokens for the code Pinterest handed back (no PKCE: ``verifier`` is
        ignored)."""
        del verifier
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token(form, now, what="authorization code")

    def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet:
        """New tokens, including a new continuous refresh token (keep it and its expiry)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token(form, now, what="refresh token")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002
        """Pinterest has no long-lived exchange: tokens are kept as issued."""
        return tokens

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """``refresh`` with the stored refresh token; one past its expiry (or none) is
        refused without a call."""
        if not tokens.refresh_token:
            raise TokenRefused(
                "the Pinterest connection has no refresh token; reconnect the account",
                code="pinterest_token_refused",
            )
        if tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= now:
            raise TokenRefused(
                "the Pinterest refresh token expired (60 days without a refresh); the owner "
                "has to connect the account again",
                code="pinterest_refresh_expired",
            )
        return self.refresh(tokens.refresh_token, now=now)

    def identify(self, access_token: str) -> Account:
        return self.me(access_token)

    def me(self, access_token: str) -> Account:
        """The account the token belongs to (``GET /v5/user_account``)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        response = send(self._http, "GET", USER_ACCOUNT_PATH, platform=PLATFORM, headers=headers)
        if response.status_code != 200:
            raise http_error(response, clock.now(), trial=False)
        return account_of(json_object(response, platform=PLATFORM))

    def _token(self, form: dict[str, str], now: datetime, *, what: str) -> TokenSet:
        if not self._configured:
            raise ClientRejected(
                "no Pinterest app is configured (OPENPOST_PINTEREST_CLIENT_ID, "
                "OPENPOST_PINTEREST_CLIENT_SECRET)",
                code="pinterest_not_configured",
            )
        if self._continuous:
            form["continuous_refresh"] = "true"
        response = send(
            self._http, "POST", TOKEN_PATH, platform=PLATFORM, data=form, auth=self._auth
        )
        if response.status_code == 200:
            return tokens_of(json_object(response, platform=PLATFORM), now)
        if response.status_code == 401:
            raise ClientRejected(
                "Pinterest rejected this server's app id or secret", code="pinterest_oauth_client"
            )
        if response.status_code in (400, 403):
            raise TokenRefused(
                f"Pinterest refused the {what} (used, expired or revoked); the owner has to "
                "connect the account again",
                code="pinterest_token_refused",
            )
        raise http_error(response, now, trial=False)


def tokens_of(body: Mapping[str, Any], now: datetime) -> TokenSet:
    """Pinterest's token answer; ``refresh_token_expires_at`` (a Unix time) wins over
    ``refresh_token_expires_in``."""
    tokens = token_set(body, now, default_lifetime=ACCESS_LIFETIME, code="pinterest_malformed")
    at = body.get("refresh_token_expires_at")
    if type(at) is int and at > 0:
        tokens = TokenSet(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            scope=tokens.scope,
            refresh_expires_at=datetime.fromtimestamp(at, UTC),
        )
    elif tokens.refresh_token and tokens.refresh_expires_at is None:
        tokens = TokenSet(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            scope=tokens.scope,
            refresh_expires_at=now + REFRESH_LIFETIME,
        )
    return tokens


def account_of(body: Mapping[str, Any]) -> Account:
    user_id, username = body.get("id"), body.get("username")
    if not (isinstance(user_id, str) and _ID.match(user_id) and isinstance(username, str)):
        raise malformed("Pinterest's user_account answer lacks the id or username")
    name = body.get("business_name")
    return Account(
        external_account_id=user_id,
        username=username,
        display_name=name if isinstance(name, str) and name else username,
    )


# ---- Pinterest's part of the owner-consent flow ---------------------------------------------


def open_client(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return PinterestOAuth(
        client_id=settings.pinterest_client_id,
        client_secret=settings.pinterest_client_secret,
        base_url=settings.pinterest_api_base_url,
        continuous_refresh=settings.pinterest_continuous_refresh,
        transport=transport,
    )


def app_settings(settings: Settings) -> Mapping[str, str]:
    return {
        "OPENPOST_PINTEREST_CLIENT_ID": settings.pinterest_client_id,
        "OPENPOST_PINTEREST_CLIENT_SECRET": settings.pinterest_client_secret,
    }


def configured(settings: Settings) -> bool:
    """The app's credentials and the public base URL (for the callback) are set."""
    return all(app_settings(settings).values()) and bool(settings.public_base_url)


def _authorize_endpoint(settings: Settings) -> str:
    return settings.pinterest_oauth_authorize_url


def _client_id(settings: Settings) -> str:
    return settings.pinterest_client_id


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind="pinterest_oauth2",
    authorize_endpoint=_authorize_endpoint,
    client_id=_client_id,
    open=open_client,
    scopes=SCOPES,
    app_settings=app_settings,
    pkce=False,
    scope_separator=",",
    uses_refresh_token=True,
    refresh_margin=timedelta(hours=1),
    access_lifetime=ACCESS_LIFETIME,
)
