"""TikTok's Login Kit v2 for an account owner's consent: code exchange, refresh (with
rotation) and who the token belongs to.

Facts (``reference/gated-platforms.md`` §6.1 and §0b):

- The owner consents at ``https://www.tiktok.com/v2/auth/authorize/`` with ``client_key``
  (TikTok's name for the client id), ``redirect_uri``, ``response_type=code``, comma-separated
  ``scope`` and ``state``; this server adds the PKCE S256 challenge, base64url as RFC 7636
  has it (TikTok requires PKCE of desktop and mobile apps, its desktop guide with a *hex*
  SHA-256; for a web app it is optional per the reference).
- Tokens come from ``POST https://open.tiktokapis.com/v2/oauth/token/`` (form-encoded, the
  client key and secret in the form): ``grant_type=authorization_code`` with ``code``,
  ``redirect_uri`` and ``code_verifier``, or ``grant_type=refresh_token`` with the latest
  ``refresh_token``.
- The answer is ``{"open_id", "scope", "access_token", "expires_in", "refresh_token",
  "refresh_expires_in", "token_type": "Bearer"}``: today an access token lives 2 hours and a
  refresh token 180 days (older docs said 24 h / 365 d, so the lifetimes are taken from the
  answer). **Refresh tokens rotate**: each refresh returns a new one and the old one stops
  working, so the new one must be stored with the new access token, under the integration's
  row lock (``openpost.consent.tokens`` does that).
- Errors are ``{"error", "error_description", "log_id"}``: ``invalid_grant`` (a used,
  expired or revoked code or refresh token) and ``invalid_request`` (e.g. a wrong verifier)
  are ``TokenRefused``: only a new consent helps; ``invalid_client`` / ``unauthorized_client``
  are ``ClientRejected`` (the operator's app). A refresh token past its stored
  ``refresh_expires_at`` is refused without asking TikTok.
- ``GET /v2/user/info/?fields=open_id,union_id,display_name,username`` names the account
  (``username`` needs ``user.info.profile``).

Nothing here ever puts a token, a code, a verifier or the client secret in a message or a
log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from openpost.core import clock
from openpost.platforms.base import Account, MalformedResponse, PlatformError, TransientError
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)
from openpost.platforms.http import json_object, make_client, safe_text, send
from openpost.platforms.tiktok import reading
from openpost.platforms.tiktok.reading import PLATFORM

if TYPE_CHECKING:
    from openpost.config import Settings

# user.info.stats: the account's counters; user.info.profile: its username; video.list: the
# Display API's video list and query.
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a path, not a secret
USER_INFO_PATH = "/v2/user/info/"
IDENTITY_FIELDS = "open_id,union_id,display_name,username"
# Shorter than SQLite's busy timeout (10 s): a refresh runs while its row is locked.
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)
REFUSED_ERRORS = frozenset({"invalid_grant", "invalid_request"})
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
ACCESS_LIFETIME = timedelta(hours=2)


class TikTokOAuth:
    """The token endpoint and ``/v2/user/info/`` for one TikTok app (client key, secret)."""

    def __init__(
        self,
        *,
        client_key: str,
        client_secret: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TOKEN_TIMEOUT,
    ) -> None:
        self._key, self._secret = client_key, client_secret
        self._http = make_client(base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TikTokOAuth:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the client secret
        return f"TikTokOAuth(base_url={str(self._http.base_url)!r})"

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            form["code_verifier"] = verifier
        return self._token(form, now, what="authorization code")

    def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet:
        """New tokens for the latest refresh token; the answer carries its successor."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token(form, now, what="refresh token")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002 - protocol
        """TikTok has no long-lived exchange: its tokens are kept as issued."""
        return tokens

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """``refresh`` with the stored refresh token; none, or one past its lifetime, is
        ``TokenRefused`` without a call."""
        if not tokens.refresh_token:
            raise _refused("the TikTok connection has no refresh token; reconnect the account")
        if tokens.refresh_expires_at is not None and now >= tokens.refresh_expires_at:
            raise _refused(
                "the TikTok connection's refresh token expired (it lasts 180 days); the owner "
                "has to connect the account again"
            )
        return self.refresh(tokens.refresh_token, now=now)

    def identify(self, access_token: str) -> Account:
        """The account the access token belongs to (its ``open_id``)."""
        response = send(
            self._http,
            "GET",
            USER_INFO_PATH,
            platform=PLATFORM,
            params={"fields": IDENTITY_FIELDS},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        user = reading.data_of(response, clock.now()).get("user")
        if not isinstance(user, dict):
            raise reading.malformed("TikTok's user info answer has no user object")
        open_id, username, name = (
            user.get("open_id"),
            user.get("username"),
            user.get("display_name"),
        )
        if not isinstance(open_id, str) or not open_id:
            raise reading.malformed("TikTok's user info answer has no open_id")
        display = name if isinstance(name, str) and name else ""
        handle = username if isinstance(username, str) and username else display or open_id
        return Account(external_account_id=open_id, username=handle, display_name=display or handle)

    # ---- requests ---------------------------------------------------------------------

    def _token(self, form: dict[str, str], now: datetime, *, what: str) -> TokenSet:
        if not (self._key and self._secret):  # the operator's to fix
            raise ClientRejected(
                "no TikTok app is configured (OPENPOST_TIKTOK_CLIENT_ID, "
                "OPENPOST_TIKTOK_CLIENT_SECRET)",
                code="tiktok_oauth_not_configured",
            )
        form = {"client_key": self._key, "client_secret": self._secret, **form}
        response = send(self._http, "POST", TOKEN_PATH, platform=PLATFORM, data=form)
        try:
            body: dict[str, Any] = json_object(response, platform=PLATFORM)
        except MalformedResponse:
            if response.status_code == 429 or response.status_code >= 500:
                raise _unavailable(response.status_code) from None
            raise
        error = body.get("error")
        if response.status_code == 200 and not error:
            return token_set(
                body, now, default_lifetime=ACCESS_LIFETIME, code="tiktok_oauth_malformed"
            )
        if error in REFUSED_ERRORS:
            raise _refused(
                f"TikTok refused the {what} (used, expired or revoked); the owner has to "
                "connect the account again"
            )
        if error in CLIENT_ERRORS or response.status_code == 401:
            raise ClientRejected(
                "TikTok rejected this server's client key or secret", code="tiktok_oauth_client"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise _unavailable(response.status_code)
        described = safe_text(body.get("error_description")) or safe_text(error)
        reason = f": {described}" if described else ""
        raise PlatformError(
            f"TikTok's token endpoint answered HTTP {response.status_code}{reason}",
            code="tiktok_oauth_error",
        )


def _refused(message: str) -> TokenRefused:
    return TokenRefused(message, code="tiktok_token_refused")


def _unavailable(status: int) -> TransientError:
    return TransientError(
        f"TikTok's token endpoint answered HTTP {status}; try again shortly",
        code="tiktok_oauth_unavailable",
    )


# ---- TikTok's part of the owner-consent flow -----------------------------------------------


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return TikTokOAuth(
        client_key=settings.tiktok_client_id,
        client_secret=settings.tiktok_client_secret,
        base_url=settings.tiktok_api_base_url,
        transport=transport,
    )


def _app_settings(settings: Settings) -> Mapping[str, str]:
    return {
        "OPENPOST_TIKTOK_CLIENT_ID": settings.tiktok_client_id,
        "OPENPOST_TIKTOK_CLIENT_SECRET": settings.tiktok_client_secret,
    }


def _authorize_endpoint(settings: Settings) -> str:
    return settings.tiktok_oauth_authorize_url


def _client_id(settings: Settings) -> str:
    return settings.tiktok_client_id


def configured(settings: Settings) -> bool:
    """Whether owners can connect TikTok accounts: the app's key, secret and base URL."""
    return bool(
        settings.tiktok_client_id and settings.tiktok_client_secret and settings.public_base_url
    )


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind="tiktok_oauth2",
    authorize_endpoint=_authorize_endpoint,
    client_id=_client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=_app_settings,
    pkce=True,
    scope_separator=",",
    client_id_param="client_key",
    uses_refresh_token=True,
    access_lifetime=ACCESS_LIFETIME,
)
