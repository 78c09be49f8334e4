"""LinkedIn's OAuth 2.0 side for an owner's consent: code exchange, refresh, and whose
page (or profile) the token reads.

Facts (``reference/gated-platforms.md`` §5.1):

- consent at ``https://www.linkedin.com/oauth/v2/authorization`` (``response_type=code``,
  ``client_id``, ``redirect_uri``, ``state``, space-separated ``scope``; no PKCE in the web
  server flow);
- tokens at ``POST https://www.linkedin.com/oauth/v2/accessToken`` (a different host from
  ``api.linkedin.com``), form fields ``grant_type``, ``code``/``refresh_token``,
  ``redirect_uri``, ``client_id`` and ``client_secret`` → ``{access_token, expires_in}``
  (≈ 60 days) and, for approved Community Management apps, ``refresh_token`` and
  ``refresh_token_expires_in``;
- the refresh token lives **365 days from the first consent**: a refresh issues a new 60-day
  access token, and the refresh token's remaining life goes on shrinking (the answer's
  ``refresh_token_expires_in`` counts down). After it, only a new consent helps;
- a used, expired or revoked code or refresh token: HTTP 400 ``invalid_grant`` →
  ``TokenRefused``; a wrong client id or secret: 401 ``invalid_client`` → ``ClientRejected``.

Whose token: ``GET /rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED``
lists the pages the member administers (``rw_organization_admin``); the first (lowest id) is
the account connected, named by ``GET /rest/organizations/{id}`` (``localizedName``,
``vanityName``). A member who administers no page is connected as themself (their own posts,
read through member post analytics), named by ``GET /v2/me`` (``r_basicprofile``). The
integration's username is the URN (``urn:li:organization:…`` / ``urn:li:person:…``): stable
where vanity names change, and what tells the planner a member's posts from a page's.

Nothing here puts a token, a code or the client secret into a message or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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
from openpost.platforms.http import json_object, make_client, send
from openpost.platforms.linkedin.reading import PLATFORM, http_error, malformed

if TYPE_CHECKING:
    from openpost.config import Settings

SCOPES = (
    "r_organization_social",
    "rw_organization_admin",
    "r_member_postAnalytics",
    "r_basicprofile",
)
ACCESS_LIFETIME = timedelta(days=60)
REFRESH_LIFETIME = timedelta(days=365)
# LinkedIn's access token lives 60 days: renew a day early rather than minutes before.
REFRESH_MARGIN = timedelta(days=1)
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)  # under SQLite's busy timeout (10 s)
RESTLI = {"X-Restli-Protocol-Version": "2.0.0"}


def rest_headers(version: str, token: str) -> dict[str, str]:
    """What every ``/rest`` call carries."""
    return {"Authorization": f"Bearer {token}", "LinkedIn-Version": version, **RESTLI}


class LinkedInOAuth:
    """The token endpoint (on www.linkedin.com) and the account lookup (on the API host)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        api_base_url: str,
        version: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self._token_url = token_url
        self._version = version
        self._tokens = make_client(token_url, transport=transport, timeout=TOKEN_TIMEOUT)
        self._api = make_client(api_base_url, transport=transport, timeout=TOKEN_TIMEOUT)

    def close(self) -> None:
        self._tokens.close()
        self._api.close()

    def __repr__(self) -> str:  # never the secret
        return f"LinkedInOAuth(token_url={self._token_url!r})"

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        del verifier  # no PKCE in LinkedIn's web server flow
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token(form, now, what="authorization code")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:  # noqa: ARG002
        return tokens  # LinkedIn's tokens are already the sixty-day kind

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        if not tokens.refresh_token:
            raise TokenRefused(
                "the LinkedIn connection has no refresh token; reconnect the account",
                code="linkedin_token_refused",
            )
        if tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= now:
            raise TokenRefused(
                "the LinkedIn consent has ended (365 days); the owner has to connect again",
                code="linkedin_consent_ended",
            )
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        renewed = self._token(form, now, what="refresh token")
        # The refresh token's end is fixed at the first consent: never let it move later.
        end = renewed.refresh_expires_at or tokens.refresh_expires_at
        if tokens.refresh_expires_at is not None and end is not None:
            end = min(end, tokens.refresh_expires_at)
        return TokenSet(
            access_token=renewed.access_token,
            refresh_token=renewed.refresh_token or tokens.refresh_token,
            expires_at=renewed.expires_at,
            scope=renewed.scope or tokens.scope,
            refresh_expires_at=end,
        )

    def identify(self, access_token: str) -> Account:
        headers = rest_headers(self._version, access_token)
        acls = self._get(
            "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED", headers
        )
        elements = acls.get("elements")
        if not isinstance(elements, list):
            raise malformed("LinkedIn's organizationAcls answer has no elements")
        pages = sorted(
            {
                int(e["organization"].rsplit(":", 1)[1])
                for e in elements
                if isinstance(e, dict)
                and isinstance(e.get("organization"), str)
                and e["organization"].startswith("urn:li:organization:")
                and e["organization"].rsplit(":", 1)[1].isdigit()
            }
        )
        if pages:
            organization = self._get(f"/rest/organizations/{pages[0]}", headers)
            urn = f"urn:li:organization:{pages[0]}"
            name = organization.get("localizedName")
            return Account(urn, urn, name if isinstance(name, str) else urn)
        me = self._get("/v2/me", {"Authorization": f"Bearer {access_token}", **RESTLI})
        member = me.get("id")
        if not isinstance(member, str) or not member:
            raise malformed("LinkedIn's /v2/me answer has no member id")
        urn = f"urn:li:person:{quote(member, safe='')}"
        first, last = me.get("localizedFirstName"), me.get("localizedLastName")
        name = " ".join(p for p in (first, last) if isinstance(p, str) and p) or urn
        return Account(urn, urn, name)

    # ---- requests -----------------------------------------------------------------------

    def _token(self, form: dict[str, str], now: datetime, *, what: str) -> TokenSet:
        if not (self._client_id and self._secret):
            raise ClientRejected(
                "no LinkedIn app is configured (OPENPOST_LINKEDIN_CLIENT_ID, "
                "OPENPOST_LINKEDIN_CLIENT_SECRET)",
                code="linkedin_oauth_not_configured",
            )
        form = {**form, "client_id": self._client_id, "client_secret": self._secret}
        response = send(self._tokens, "POST", self._token_url, platform=PLATFORM, data=form)
        body: dict[str, Any]
        try:
            body = json_object(response, platform=PLATFORM)
        except MalformedResponse:
            if response.status_code == 200:
                raise
            body = {}
        if response.status_code == 200:
            return token_set(
                body, now, default_lifetime=ACCESS_LIFETIME, code="linkedin_oauth_malformed"
            )
        error = body.get("error")
        if response.status_code == 400 and error == "invalid_grant":
            raise TokenRefused(
                f"LinkedIn refused the {what} (used, expired or revoked); the owner has to "
                "connect the account again",
                code="linkedin_token_refused",
            )
        if response.status_code == 401 or error in ("invalid_client", "unauthorized_client"):
            raise ClientRejected(
                "LinkedIn rejected this server's client id or secret", code="linkedin_oauth_client"
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"LinkedIn's token endpoint answered HTTP {response.status_code}",
                code="linkedin_oauth_unavailable",
            )
        raise PlatformError(
            f"LinkedIn's token endpoint answered HTTP {response.status_code}",
            code="linkedin_oauth_error",
        )

    def _get(self, path: str, headers: Mapping[str, str]) -> dict[str, Any]:
        response = send(self._api, "GET", path, platform=PLATFORM, headers=headers)
        if response.status_code != 200:
            raise http_error(response, clock.now())
        return json_object(response, platform=PLATFORM)


# ---- LinkedIn's part of the owner-consent flow ---------------------------------------------


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    return LinkedInOAuth(
        client_id=settings.linkedin_client_id,
        client_secret=settings.linkedin_client_secret,
        token_url=settings.linkedin_oauth_token_url,
        api_base_url=settings.linkedin_api_base_url,
        version=settings.linkedin_api_version,
        transport=transport,
    )


def app_settings(settings: Settings) -> Mapping[str, str]:
    return {
        "OPENPOST_LINKEDIN_CLIENT_ID": settings.linkedin_client_id,
        "OPENPOST_LINKEDIN_CLIENT_SECRET": settings.linkedin_client_secret,
    }


def configured(settings: Settings) -> bool:
    return all(app_settings(settings).values()) and bool(settings.public_base_url)


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind="linkedin_oauth2",
    authorize_endpoint=lambda settings: settings.linkedin_oauth_authorize_url,
    client_id=lambda settings: settings.linkedin_client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=app_settings,
    pkce=False,
    uses_refresh_token=True,  # approved Community Management apps get one; 60 days without
    refresh_margin=REFRESH_MARGIN,
    access_lifetime=ACCESS_LIFETIME,
    adds="its page's posts and followers are collected (or, for a member, the posts "
    "registered by URL)",
)
