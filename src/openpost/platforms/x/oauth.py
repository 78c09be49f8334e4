"""X's OAuth 2.0 endpoints for an account owner's consent: code exchange, refresh, and who
the token belongs to.

Facts (X's "OAuth 2.0 Authorization Code Flow with PKCE" docs and
``reference/platform-apis.md`` §1):

- The owner consents at ``https://x.com/i/oauth2/authorize`` (``response_type=code``,
  ``client_id``, ``redirect_uri``, ``scope``, ``state``, ``code_challenge``,
  ``code_challenge_method=S256``); X sends the browser back to the redirect URI with
  ``code`` and ``state``, or ``error=access_denied`` when consent is refused.
- Tokens come from ``POST /2/oauth2/token`` (form-encoded). A confidential client
  authenticates with HTTP Basic (client id and secret); the body is
  ``grant_type=authorization_code`` with ``code``, ``redirect_uri`` and ``code_verifier``,
  or ``grant_type=refresh_token`` with ``refresh_token``.
- The answer is ``{"token_type": "bearer", "expires_in": 7200, "access_token", "scope",
  "refresh_token"}``: an access token lives two hours; a refresh token comes only with the
  ``offline.access`` scope and is rotated by every refresh (the old one stops working).
- A used, expired or unknown code or refresh token is HTTP 400 with an OAuth ``error``
  (X writes ``invalid_request`` with "Value passed for the … was invalid"; the standard
  says ``invalid_grant``): both are ``TokenRefused``, which only a new consent fixes.
- ``GET /2/users/me`` with the user's token names the account (``data.id``, ``username``,
  ``name``).

``CONSENT`` is X's part of the generic owner-consent flow (``platforms.consent``): PKCE
S256, the three scopes, the operator's client id and secret, ``XOAuth`` as its client.

Nothing here ever puts a token, a code, a verifier or the client secret in a message or a
log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from openpost.platforms.base import (
    Account,
    MalformedResponse,
    PermissionRequired,
    PlatformError,
    TransientError,
)
from openpost.platforms.consent import ClientRejected, ConsentClient, OwnerConsent
from openpost.platforms.consent import TokenRefused as TokenRefused  # X's refusals
from openpost.platforms.consent import TokenSet as TokenSet
from openpost.platforms.http import json_object, make_client, safe_text, send

if TYPE_CHECKING:
    from openpost.config import Settings

PLATFORM = "twitter"
SCOPES = ("tweet.read", "users.read", "offline.access")
TOKEN_PATH = "/2/oauth2/token"  # noqa: S105 - a path, not a secret
ME_PATH = "/2/users/me"
# Shorter than SQLite's busy timeout (10 s): a refresh runs while its row is locked.
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)
REFUSED_ERRORS = frozenset({"invalid_grant", "invalid_request"})
ACCESS_LIFETIME = timedelta(hours=2)

_ID = re.compile(r"^[0-9]{1,19}$")


class XOAuth:
    """The token endpoint and ``/2/users/me`` for one X app (client id and secret)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TOKEN_TIMEOUT,
    ) -> None:
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._configured = bool(client_id and client_secret)
        self._http = make_client(base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XOAuth:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the client secret
        return f"XOAuth(base_url={str(self._http.base_url)!r})"

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        """The owner's tokens for the code X handed back (``TokenRefused`` if X will not;
        X requires the PKCE verifier, so without one it refuses)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            form["code_verifier"] = verifier
        return self._token(form, now, what="authorization code")

    def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet:
        """New tokens for a refresh token; the refresh token is rotated (keep the new one)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token(form, now, what="refresh token")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002 - protocol
        """X has no long-lived exchange: its tokens are kept as issued."""
        return tokens

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """``refresh`` with the stored refresh token (none: ``TokenRefused``)."""
        if not tokens.refresh_token:
            raise TokenRefused(
                "the X connection has no refresh token; reconnect the account",
                code="x_token_refused",
            )
        return self.refresh(tokens.refresh_token, now=now)

    def identify(self, access_token: str) -> Account:
        return self.me(access_token)

    def me(self, access_token: str) -> Account:
        """The account the user token belongs to."""
        response = self._send(
            "GET", ME_PATH, headers={"Authorization": f"Bearer {access_token}"}, data=None
        )
        if response.status_code == 401:
            raise PermissionRequired("X rejected the new access token", code="x_user_unauthorized")
        if response.status_code != 200:
            raise _status_error(response)
        data = json_object(response, platform=PLATFORM).get("data")
        if not isinstance(data, dict):
            raise _malformed("X's /2/users/me answer has no user object")
        user_id, username, name = data.get("id"), data.get("username"), data.get("name")
        if not (isinstance(user_id, str) and _ID.match(user_id) and isinstance(username, str)):
            raise _malformed("X's /2/users/me answer lacks the id or username")
        return Account(
            external_account_id=user_id,
            username=username,
            display_name=name if isinstance(name, str) else username,
        )

    # ---- requests ---------------------------------------------------------------------

    def _token(self, form: dict[str, str], now: datetime, *, what: str) -> TokenSet:
        if not self._configured:  # the operator's to fix: not a reason to reconnect accounts
            raise ClientRejected(
                "no X OAuth client is configured (OPENPOST_X_CLIENT_ID, OPENPOST_X_CLIENT_SECRET)",
                code="x_oauth_not_configured",
            )
        response = self._send("POST", TOKEN_PATH, headers={}, data=form)
        if response.status_code == 200:
            return _token_set(json_object(response, platform=PLATFORM), now)
        try:
            body = json_object(response, platform=PLATFORM)
        except MalformedResponse:
            body = {}
        error = body.get("error")
        if response.status_code == 400 and error in REFUSED_ERRORS:
            raise TokenRefused(
                f"X refused the {what} (used, expired or revoked); the owner has to connect "
                "the account again",
                code="x_token_refused",
            )
        if response.status_code == 401 or error in ("invalid_client", "unauthorized_client"):
            # The operator's to fix, so not PermissionRequired (which sends owners to reconnect).
            raise ClientRejected(
                "X rejected this server's OAuth client id or secret", code="x_oauth_client"
            )
        raise _status_error(response)

    def _send(
        self, method: str, path: str, *, headers: dict[str, str], data: dict[str, str] | None
    ) -> httpx.Response:
        """One request (the token endpoint's form with the client's HTTP Basic auth)."""
        auth = self._auth if data is not None else None
        return send(
            self._http, method, path, platform=PLATFORM, headers=headers, data=data, auth=auth
        )


def _malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="x_malformed")


def _status_error(response: httpx.Response) -> PlatformError:
    status = response.status_code
    if status == 429:
        return TransientError("X rate limit reached for OAuth; try again shortly", code="x_rate")
    if status >= 500:
        return TransientError(f"X answered HTTP {status}", code="x_server_error")
    try:
        title = safe_text(json_object(response, platform=PLATFORM).get("title"))
    except MalformedResponse:
        title = None
    reason = f": {title}" if title else ""
    return PlatformError(f"X answered HTTP {status}{reason}", code=f"x_http_{status}")


def _token_set(body: dict[str, Any], now: datetime) -> TokenSet:
    access, refresh = body.get("access_token"), body.get("refresh_token")
    expires_in = body.get("expires_in")
    if not isinstance(access, str) or not access:
        raise _malformed("X's token answer has no access token")
    if refresh is not None and not isinstance(refresh, str):
        raise _malformed("X's token answer has a refresh token that is not text")
    if type(expires_in) is not int or expires_in <= 0:
        raise _malformed("X's token answer has no valid expires_in")
    scope = body.get("scope")
    return TokenSet(
        access_token=access,
        refresh_token=refresh or None,
        expires_at=now + timedelta(seconds=expires_in),
        scope=scope if isinstance(scope, str) else "",
    )


# ---- X's part of the owner-consent flow ----------------------------------------------------


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return XOAuth(
        client_id=settings.x_client_id,
        client_secret=settings.x_client_secret,
        base_url=settings.x_api_base_url,
        transport=transport,
    )


def _app_settings(settings: Settings) -> Mapping[str, str]:
    return {
        "OPENPOST_X_CLIENT_ID": settings.x_client_id,
        "OPENPOST_X_CLIENT_SECRET": settings.x_client_secret,
    }


def _authorize_endpoint(settings: Settings) -> str:
    return settings.x_oauth_authorize_url


def _client_id(settings: Settings) -> str:
    return settings.x_client_id


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug="x",
    kind="x_oauth2",
    authorize_endpoint=_authorize_endpoint,
    client_id=_client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=_app_settings,
    pkce=True,
    uses_refresh_token=True,  # offline.access: without it the connection dies in two hours
    access_lifetime=ACCESS_LIFETIME,
    adds="non-public metrics are collected for its posts under 30 days old",
)
