"""Instagram's part of the owner-consent flow, for its two logins (gated-platforms.md §3.1).

**Instagram Login** (``CONSENT``, slug ``instagram``): the owner consents at
``www.instagram.com/oauth/authorize`` to ``instagram_business_basic`` and
``instagram_business_manage_insights`` (comma-separated; the ``business_*`` names died
2025-01-27). The code (its ``#_`` suffix is not part of it) is exchanged at
``POST api.instagram.com/oauth/access_token`` for a one-hour token and the ``user_id`` (a big
number: read as text; the answer is flat or wrapped in ``data[]``, both are read), then at
``GET graph.instagram.com/access_token?grant_type=ig_exchange_token`` for a 60-day token.
There is no refresh token: the long-lived token renews itself at
``GET graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token`` (it must be at
least 24 hours old and unexpired), which the consent machinery does ``REFRESH_MARGIN``
before it expires. Who it is: ``GET /me?fields=user_id,username,name``.

**Facebook Login** (``FACEBOOK_CONSENT``, slug ``instagram-facebook``): for an Instagram
account linked to a Facebook Page. The owner consents at ``facebook.com/v25.0/dialog/oauth``
(``instagram_basic``, ``instagram_manage_insights``, ``pages_show_list``,
``pages_read_engagement``); the code becomes a user token at
``graph.facebook.com/<version>/oauth/access_token``, then a 60-day one
(``fb_exchange_token``), and ``/me/accounts`` gives the Page linked to the Instagram account
and that Page's token, which does not expire: that is what is kept (reads then need no
renewal; a removed app or role answers 190 and the owner reconnects).

Refusals: a used or expired code, a dead token → ``TokenRefused``; a refused client id or
secret → ``ClientRejected``. No token, code or secret goes into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from openpost.platforms.base import Account, MalformedResponse, PlatformError, TransientError
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)
from openpost.platforms.http import make_client, safe_text, send
from openpost.platforms.instagram.client import FACEBOOK_LOGIN, INSTAGRAM_LOGIN
from openpost.platforms.instagram.reading import PLATFORM, graph_id
from openpost.platforms.meta.graph import TOKEN_CODES, graph_error

if TYPE_CHECKING:
    from openpost.config import Settings

SCOPES = ("instagram_business_basic", "instagram_business_manage_insights")
FACEBOOK_SCOPES = (
    "instagram_basic",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
)
LONG_LIFETIME = timedelta(days=60)
REFRESH_MARGIN = timedelta(days=30)  # renew halfway: the token is then well past 24 hours
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)  # under SQLite's busy timeout (10 s)


def _client_id(settings: Settings) -> str:
    return settings.instagram_client_id or settings.meta_app_id


def _client_secret(settings: Settings) -> str:
    return settings.instagram_client_secret or settings.meta_app_secret


def _facebook_id(settings: Settings) -> str:
    return settings.facebook_client_id or settings.meta_app_id


def _facebook_secret(settings: Settings) -> str:
    return settings.facebook_client_secret or settings.meta_app_secret


def configured(settings: Settings) -> bool:
    """Instagram is read once an app for either login is set (and the consent can come back)."""
    return bool(settings.public_base_url) and (
        bool(_client_id(settings) and _client_secret(settings))
        or bool(_facebook_id(settings) and _facebook_secret(settings))
    )


class _Graph:
    """What both logins share: one client per host, Graph error handling."""

    def __init__(self, transport: httpx.BaseTransport | None) -> None:
        self._transport = transport
        self._opened: list[httpx.Client] = []

    def _http(self, base_url: str) -> httpx.Client:
        client = make_client(base_url, transport=self._transport, timeout=TOKEN_TIMEOUT)
        self._opened.append(client)
        return client

    def close(self) -> None:
        for client in self._opened:
            client.close()

    def __enter__(self) -> _Graph:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _answer(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        """A token endpoint's answer: its JSON, or the error it means."""
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"Instagram could not exchange the {what} now (HTTP {response.status_code})",
                code="instagram_oauth_unavailable",
            )
        error = graph_error(response)
        if error is not None:
            code = error.get("code")
            if code in (101, 1):
                raise ClientRejected(
                    "Meta rejected this server's app id or secret", code="instagram_oauth_client"
                )
            if code in TOKEN_CODES or code == 100:
                raise TokenRefused(
                    f"Meta refused the {what} (used, expired or revoked); connect again",
                    code="instagram_token_refused",
                )
        elif isinstance(body, dict):  # api.instagram.com: {"error_type", "code", "error_message"}
            said = safe_text(body.get("error_message")) or ""
            if "app" in said.lower() or "client" in said.lower():
                raise ClientRejected(
                    "Instagram rejected this server's app id or secret",
                    code="instagram_oauth_client",
                )
            raise TokenRefused(
                f"Instagram refused the {what} (used, expired or revoked); connect again",
                code="instagram_token_refused",
            )
        raise PlatformError(
            f"Instagram answered HTTP {response.status_code} to the {what} exchange",
            code="instagram_oauth_error",
        )


class InstagramLogin(_Graph):
    """Instagram Login's token endpoints for one app."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(transport)
        self._id, self._secret = _client_id(settings), _client_secret(settings)
        self._token_host = self._http(settings.instagram_token_base_url)
        self._graph = self._http(settings.instagram_login_api_base_url)
        self._version = settings.instagram_graph_version

    def __repr__(self) -> str:
        return "InstagramLogin()"

    def _require_app(self) -> None:
        if not (self._id and self._secret):
            raise ClientRejected(
                "no Instagram app is configured (OPENPOST_INSTAGRAM_CLIENT_ID / _SECRET or "
                "OPENPOST_META_APP_ID / _SECRET)",
                code="instagram_oauth_not_configured",
            )

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        del verifier  # no PKCE
        self._require_app()
        form = {
            "client_id": self._id,
            "client_secret": self._secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code.removesuffix("#_"),
        }
        response = send(
            self._token_host, "POST", "/oauth/access_token", platform=PLATFORM, data=form
        )
        body = self._answer(response, what="authorization code")
        entry = body
        if isinstance(body.get("data"), list) and body["data"]:  # the newer, wrapped form
            entry = body["data"][0] if isinstance(body["data"][0], dict) else {}
        permissions = entry.get("permissions")
        scope = ",".join(permissions) if isinstance(permissions, list) else permissions
        return token_set(
            {"access_token": entry.get("access_token"), "scope": scope},
            now,
            default_lifetime=timedelta(hours=1),
            code="instagram_malformed",
        )

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": self._secret,
            "access_token": tokens.access_token,
        }
        response = send(self._graph, "GET", "/access_token", platform=PLATFORM, params=params)
        body = self._answer(response, what="short-lived token")
        lived = token_set(body, now, default_lifetime=LONG_LIFETIME, code="instagram_malformed")
        return TokenSet(lived.access_token, None, lived.expires_at, tokens.scope)

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        params = {"grant_type": "ig_refresh_token", "access_token": tokens.access_token}
        response = send(
            self._graph, "GET", "/refresh_access_token", platform=PLATFORM, params=params
        )
        body = self._answer(response, what="long-lived token")
        renewed = token_set(body, now, default_lifetime=LONG_LIFETIME, code="instagram_malformed")
        return TokenSet(renewed.access_token, None, renewed.expires_at, tokens.scope)

    def identify(self, access_token: str) -> Account:
        response = send(
            self._graph,
            "GET",
            f"/{self._version}/me",
            platform=PLATFORM,
            params={"fields": "user_id,username,name,account_type"},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return _account(self._answer(response, what="new token"))


class FacebookLogin(_Graph):
    """Facebook Login's token endpoints, for an Instagram account linked to a Page."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(transport)
        self._id, self._secret = _facebook_id(settings), _facebook_secret(settings)
        self._graph = self._http(settings.instagram_api_base_url)
        self._version = settings.instagram_graph_version

    def __repr__(self) -> str:
        return "FacebookLogin()"

    def _token(self, params: dict[str, str], now: datetime, *, what: str) -> TokenSet:
        if not (self._id and self._secret):
            raise ClientRejected(
                "no Facebook app is configured (OPENPOST_FACEBOOK_CLIENT_ID / _SECRET or "
                "OPENPOST_META_APP_ID / _SECRET)",
                code="instagram_oauth_not_configured",
            )
        query = {"client_id": self._id, "client_secret": self._secret, **params}
        response = send(
            self._graph, "GET", f"/{self._version}/oauth/access_token", platform=PLATFORM,
            params=query,
        )  # fmt: skip
        body = self._answer(response, what=what)
        return token_set(body, now, default_lifetime=LONG_LIFETIME, code="instagram_malformed")

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        del verifier
        return self._token(
            {"redirect_uri": redirect_uri, "code": code}, now, what="authorization code"
        )

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """The 60-day user token, then the token of the Page linked to an Instagram account
        (no expiry): what reads use."""
        lived = self._token(
            {"grant_type": "fb_exchange_token", "fb_exchange_token": tokens.access_token},
            now,
            what="short-lived token",
        )
        body = self._get(
            "me/accounts", lived.access_token, "id,name,access_token,instagram_business_account"
        )
        for page in body.get("data") or []:
            linked = page.get("instagram_business_account") if isinstance(page, dict) else None
            token = page.get("access_token") if isinstance(page, dict) else None
            if isinstance(linked, dict) and isinstance(token, str) and token:
                return TokenSet(token, None, None, tokens.scope or ",".join(FACEBOOK_SCOPES))
        raise TokenRefused(
            "none of the Facebook user's Pages has an Instagram professional account linked",
            code="instagram_no_linked_account",
        )

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002
        """A Page token does not expire; it cannot be renewed either, only replaced by a
        new consent."""
        del now
        raise TokenRefused(
            "the Facebook Page token was refused; reconnect the account",
            code="instagram_token_refused",
        )

    def identify(self, access_token: str) -> Account:
        page = self._get("me", access_token, "id,instagram_business_account")
        linked = page.get("instagram_business_account")
        account_id = graph_id(linked.get("id")) if isinstance(linked, dict) else None
        if account_id is None:
            raise MalformedResponse(
                "the Page has no Instagram account linked", code="instagram_malformed"
            )
        return _account(self._get(account_id, access_token, "id,username,name"))

    def _get(self, path: str, token: str, fields: str) -> dict[str, Any]:
        response = send(
            self._graph, "GET", f"/{self._version}/{path}", platform=PLATFORM,
            params={"fields": fields}, headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        return self._answer(response, what="token")


def _account(body: Mapping[str, Any]) -> Account:
    account_id = graph_id(body.get("user_id")) or graph_id(body.get("id"))
    username = body.get("username")
    if account_id is None or not isinstance(username, str):
        raise MalformedResponse(
            "Instagram's /me answer lacks the account id or username", code="instagram_malformed"
        )
    name = body.get("name")
    return Account(account_id, username, name if isinstance(name, str) and name else username)


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return InstagramLogin(settings, transport)


def _open_facebook(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return FacebookLogin(settings, transport)


def _app_settings(settings: Settings) -> Mapping[str, str]:
    if settings.instagram_client_id or settings.instagram_client_secret:
        return {
            "OPENPOST_INSTAGRAM_CLIENT_ID": settings.instagram_client_id,
            "OPENPOST_INSTAGRAM_CLIENT_SECRET": settings.instagram_client_secret,
        }
    return {
        "OPENPOST_META_APP_ID": settings.meta_app_id,
        "OPENPOST_META_APP_SECRET": settings.meta_app_secret,
    }


def _facebook_settings(settings: Settings) -> Mapping[str, str]:
    if settings.facebook_client_id or settings.facebook_client_secret:
        return {
            "OPENPOST_FACEBOOK_CLIENT_ID": settings.facebook_client_id,
            "OPENPOST_FACEBOOK_CLIENT_SECRET": settings.facebook_client_secret,
        }
    return {
        "OPENPOST_META_APP_ID": settings.meta_app_id,
        "OPENPOST_META_APP_SECRET": settings.meta_app_secret,
    }


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind=INSTAGRAM_LOGIN,
    authorize_endpoint=lambda settings: settings.instagram_oauth_authorize_url,
    client_id=_client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=_app_settings,
    pkce=False,
    scope_separator=",",
    uses_refresh_token=False,  # the long-lived access token renews itself
    refresh_margin=REFRESH_MARGIN,
    access_lifetime=LONG_LIFETIME,
    adds="its posts' views, reach, likes, comments, shares and saves are collected",
)

FACEBOOK_CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=f"{PLATFORM}-facebook",
    kind=FACEBOOK_LOGIN,
    authorize_endpoint=lambda settings: settings.facebook_oauth_authorize_url,
    client_id=_facebook_id,
    open=_open_facebook,
    scopes=FACEBOOK_SCOPES,
    app_settings=_facebook_settings,
    pkce=False,
    scope_separator=",",
    uses_refresh_token=False,  # a Page token does not expire
    variant="(Facebook Login)",
    adds="for an Instagram account linked to a Facebook Page, its posts' views, reach, likes, "
    "comments, shares and saves are collected, with totals that include ads",
)
