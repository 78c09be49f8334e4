"""Facebook Login for Pages: the owner's consent, the user token, and the Pages' tokens.

Facts (reference: gated-platforms.md §1.4, §3.1 Facebook Login column, §4.1):

- The owner consents at ``https://www.facebook.com/v25.0/dialog/oauth`` (``client_id``,
  ``redirect_uri``, ``state``, ``response_type=code``, comma-separated ``scope``:
  ``pages_show_list,pages_read_engagement,read_insights``). In that dialog the owner also
  chooses which of their Pages the app may use.
- ``GET /v25.0/oauth/access_token?client_id&client_secret&redirect_uri&code`` → a
  short-lived user token (``{"access_token", "token_type", "expires_in"}``, about 1-2 h);
  ``grant_type=fb_exchange_token&fb_exchange_token=<short>`` → a long-lived one (about 60 d).
  There is no refresh token: Facebook Login renews only by a new login.
- ``GET /v25.0/me/accounts?fields=id,name,username,access_token,tasks`` with the long-lived
  user token lists the Pages granted, each with a **Page token**. Page tokens derived from a
  long-lived user token do not expire; they die when the owner changes password, loses the
  Page role or removes the app (190 with subcode 460, 458 or 463 on the next read).
  Reading insights needs the ``ANALYZE`` task on the Page.

One consent therefore connects **every Page the owner granted in Facebook's dialog** that
lets them analyse it (one integration each, the Page token sealed as its credential): the
choice is made in Facebook's own Page picker, so the owner gets exactly the Pages they
ticked. A Page without ``ANALYZE`` is left out; no Page at all is the ``no_accounts`` failure.

Errors at the token endpoint: 100 (subcodes 36007 expired, 36009 used) and 190 →
``TokenRefused``; 101 (unknown application) and 1 "Error validating client secret" →
``ClientRejected``. Renewal (``renew``) always refuses: only a new consent helps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from openpost.core import clock
from openpost.platforms.base import Account, MalformedResponse, PlatformError
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    ConsentedAccount,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)
from openpost.platforms.http import json_object, make_client, send
from openpost.platforms.meta.graph import classify, graph_error

if TYPE_CHECKING:
    from openpost.config import Settings

PLATFORM = "facebook"
SCOPES = ("pages_show_list", "pages_read_engagement", "read_insights")
KIND = "facebook_page"
PAGE_FIELDS = "id,name,username,access_token,tasks"
ANALYZE = "ANALYZE"
SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME = timedelta(days=60)
# Shorter than SQLite's busy timeout (10 s), as every consent client's.
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)
CLIENT_CODES = frozenset({101})
REFUSED_CODES = frozenset({100, 190, 102})


def client_id(settings: Settings) -> str:
    return settings.facebook_client_id or settings.meta_app_id


def client_secret(settings: Settings) -> str:
    return settings.facebook_client_secret or settings.meta_app_secret


class FacebookLogin:
    """The token endpoint and ``/me/accounts`` for one Meta app (``ManyAccounts``)."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        base_url: str,
        version: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TOKEN_TIMEOUT,
    ) -> None:
        self._id, self._secret = app_id, app_secret
        self._version = version.strip("/")
        self._http = make_client(base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the secret
        return f"FacebookLogin(base_url={str(self._http.base_url)!r})"

    def exchange_code(
        self,
        code: str,
        *,
        verifier: str | None,  # noqa: ARG002 - Facebook Login's server flow has no PKCE
        redirect_uri: str,
        now: datetime,
    ) -> TokenSet:
        params = {"redirect_uri": redirect_uri, "code": code}
        return self._token(params, now, SHORT_LIFETIME, what="authorization code")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        params = {"grant_type": "fb_exchange_token", "fb_exchange_token": tokens.access_token}
        kept = self._token(params, now, LONG_LIFETIME, what="short-lived token")
        return TokenSet(kept.access_token, None, kept.expires_at, tokens.scope or ",".join(SCOPES))

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002
        raise TokenRefused(
            "a Facebook Page token cannot be renewed; reconnect the Page with its owner's consent",
            code="facebook_token_refused",
        )

    def identify(self, access_token: str) -> Account:
        """The person the user token belongs to (``accounts`` gives their Pages)."""
        body = self._get("/me", access_token, {"fields": "id,name"})
        person, name = body.get("id"), body.get("name")
        if not isinstance(person, str) or not isinstance(name, str):
            raise _malformed("Facebook's /me answer lacks the id or name")
        return Account(external_account_id=person, username=person, display_name=name)

    def accounts(self, tokens: TokenSet, *, now: datetime) -> list[ConsentedAccount]:  # noqa: ARG002
        """Every granted Page the owner may analyse, with its (non-expiring) Page token."""
        params: dict[str, str] = {"fields": PAGE_FIELDS, "limit": "100"}
        found: list[ConsentedAccount] = []
        seen: set[str] = set()
        while True:
            body = self._get("/me/accounts", tokens.access_token, params)
            data = body.get("data")
            if not isinstance(data, list):
                raise _malformed("Facebook's /me/accounts answer has no data list")
            for page in data:
                one = _page(page, tokens.scope)
                if one is not None and one.account.external_account_id not in seen:
                    seen.add(one.account.external_account_id)
                    found.append(one)
            paging = body.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not (isinstance(paging, dict) and paging.get("next")) or not isinstance(after, str):
                return found
            if params.get("after") == after:
                return found
            params = {**params, "after": after}

    # ---- requests ---------------------------------------------------------------------------

    def _token(
        self, params: dict[str, str], now: datetime, lifetime: timedelta, *, what: str
    ) -> TokenSet:
        if not (self._id and self._secret):
            raise ClientRejected(
                "no Facebook app is configured (OPENPOST_FACEBOOK_CLIENT_ID / "
                "OPENPOST_META_APP_ID and the secret)",
                code="facebook_oauth_not_configured",
            )
        query = {"client_id": self._id, "client_secret": self._secret, **params}
        response = send(
            self._http, "GET", f"/{self._version}/oauth/access_token", platform=PLATFORM,
            params=query,
        )  # fmt: skip
        if response.is_success:
            return token_set(
                json_object(response, platform=PLATFORM),
                now,
                default_lifetime=lifetime,
                code="facebook_oauth_malformed",
            )
        error = graph_error(response) or {}
        code, message = error.get("code"), str(error.get("message") or "")
        if code in CLIENT_CODES or (code == 1 and "client secret" in message.lower()):
            raise ClientRejected(
                "Facebook rejected this server's app id or secret", code="facebook_oauth_client"
            )
        if code in REFUSED_CODES:
            raise TokenRefused(
                f"Facebook refused the {what} (expired, used or revoked); the owner has to "
                "connect again",
                code="facebook_token_refused",
            )
        raise classify(response, platform=PLATFORM, now=now, what="the token exchange") or (
            PlatformError("the token exchange failed", code="facebook_oauth_error")
        )

    def _get(self, path: str, token: str, params: Mapping[str, str]) -> dict[str, Any]:
        response = send(
            self._http,
            "GET",
            f"/{self._version}{path}",
            platform=PLATFORM,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
        error = classify(response, platform=PLATFORM, now=clock.now(), what="the Page list")
        if error is not None:
            raise error
        return json_object(response, platform=PLATFORM)


def _malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="facebook_oauth_malformed")


def _page(page: object, scope: str) -> ConsentedAccount | None:
    if not isinstance(page, dict):
        raise _malformed("Facebook's /me/accounts answer holds something that is not a Page")
    page_id, name, token = page.get("id"), page.get("name"), page.get("access_token")
    if not (isinstance(page_id, str) and page_id.isdigit() and isinstance(name, str)):
        raise _malformed("Facebook's /me/accounts answer has a Page without an id or name")
    tasks = page.get("tasks")
    if isinstance(tasks, list) and ANALYZE not in tasks:
        return None  # the owner may not see this Page's insights
    if not isinstance(token, str) or not token:
        return None  # no Page token for this app: nothing could be read
    username = page.get("username")
    account = Account(
        external_account_id=page_id,
        username=username if isinstance(username, str) and username else page_id,
        display_name=name,
    )
    # Page tokens from a long-lived user token do not expire: no expiry, no refresh token.
    return ConsentedAccount(account, TokenSet(token, None, None, scope))


# ---- Facebook's part of the owner-consent flow --------------------------------------------


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return FacebookLogin(
        app_id=client_id(settings),
        app_secret=client_secret(settings),
        base_url=settings.facebook_api_base_url,
        version=settings.facebook_graph_version,
        transport=transport,
    )


def app_settings(settings: Settings) -> Mapping[str, str]:
    """What the operator sets: the Facebook app's id and secret, or the Meta app's."""
    if settings.facebook_client_id or settings.facebook_client_secret:
        return {
            "OPENPOST_FACEBOOK_CLIENT_ID": settings.facebook_client_id,
            "OPENPOST_FACEBOOK_CLIENT_SECRET": settings.facebook_client_secret,
        }
    return {
        "OPENPOST_META_APP_ID": settings.meta_app_id,
        "OPENPOST_META_APP_SECRET": settings.meta_app_secret,
    }


def _authorize_endpoint(settings: Settings) -> str:
    return settings.facebook_oauth_authorize_url


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind=KIND,
    authorize_endpoint=_authorize_endpoint,
    client_id=client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=app_settings,
    pkce=False,
    scope_separator=",",
    uses_refresh_token=False,  # Page tokens do not expire; a refused one needs a new consent
    access_lifetime=None,
    adds="each Page chosen in Facebook's dialog is connected, with its insights",
)
