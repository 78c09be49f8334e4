"""The fake LinkedIn's OAuth 2.0 side: the consent page (with test members to pick from),
the token endpoint on "www.linkedin.com" (``POST /oauth/v2/accessToken``) and its rules.

As LinkedIn does (``platforms/linkedin/oauth.py`` has the facts): client id and secret in the
form (401 ``invalid_client`` otherwise), the exact registered redirect URI, codes used once
within a few minutes, access tokens of 60 days, and a refresh token whose life is **fixed at
365 days from the first consent**: each refresh gives a new access token and the same
refresh token with ``refresh_token_expires_in`` counting down; after it, ``invalid_grant``.
A revoked consent refuses the refresh token and the access tokens (401 REVOKED_ACCESS_TOKEN).

``consent`` decides what the page does: ``approve`` (as ``consenting``; with no member chosen
the page lists the test members, each a link that approves as them), or ``deny``.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.linkedin.fake import FakeLinkedIn

ACCESS_LIFETIME = timedelta(days=60)
REFRESH_LIFETIME = timedelta(days=365)
CODE_LIFETIME = timedelta(minutes=30)
Consent = Literal["approve", "deny"]


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Grant:
    member_id: str
    client_id: str
    scope: str
    expires_at: datetime
    redirect_uri: str = ""
    used: bool = False
    revoked: bool = False


@dataclass
class AccessToken:
    member_id: str
    scope: str
    expires_at: datetime
    revoked: bool = False


class OAuthState:
    def __init__(self) -> None:
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.consent: Consent = "approve"
        self.consenting: str | None = None  # a member id
        self.access_lifetime = ACCESS_LIFETIME
        self.refresh_lifetime = REFRESH_LIFETIME
        self.grant_refresh = True  # approved Community Management apps get refresh tokens


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def authorize(fake: FakeLinkedIn, request: Request) -> Response:
    """``GET /oauth/v2/authorization``."""
    params = dict(request.query_params)
    oauth = fake.oauth
    client = oauth.clients.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if client is None or redirect_uri not in client.redirect_uris:
        return HTMLResponse("<p>The redirect_uri does not match the registered value</p>", 400)
    state = params.get("state", "")
    scopes = set(params.get("scope", "").split())
    unknown = scopes - fake.app_scopes
    if params.get("response_type") != "code" or not scopes:
        return _back(redirect_uri, {"error": "invalid_request", "state": state})
    if unknown:
        description = (
            f"Scope &quot;{sorted(unknown)[0]}&quot; is not authorized for your application"
        )
        return _back(
            redirect_uri,
            {"error": "unauthorized_scope_error", "error_description": description, "state": state},
        )
    if oauth.consent == "deny":
        return _back(
            redirect_uri,
            {
                "error": "user_cancelled_authorize",
                "error_description": "The user cancelled",
                "state": state,
            },
        )
    member = params.get("as") or oauth.consenting
    if member is None or member not in fake.members:
        return _test_members(fake, request)
    code = secrets.token_urlsafe(24)
    oauth.codes[code] = Grant(
        member, client.client_id, " ".join(sorted(scopes)), fake.now() + CODE_LIFETIME, redirect_uri
    )
    return _back(redirect_uri, {"code": code, "state": state})


def _back(redirect_uri: str, query: dict[str, str]) -> Response:
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


def _test_members(fake: FakeLinkedIn, request: Request) -> Response:
    links = []
    for member in fake.members.values():
        query = urlencode({**dict(request.query_params), "as": member.id})
        name = html.escape(f"{member.first_name} {member.last_name}")
        href = html.escape(f"/oauth/v2/authorization?{query}")
        links.append(f'<li><a href="{href}">Allow as {name}</a></li>')
    page = "<h1>Fake LinkedIn: sign in as a test member</h1><ul>" + "".join(links) + "</ul>"
    return HTMLResponse(page)


def token(fake: FakeLinkedIn, form: dict[str, str]) -> Response:
    """``POST /oauth/v2/accessToken``: authorization_code or refresh_token."""
    oauth = fake.oauth
    client = oauth.clients.get(form.get("client_id", ""))
    if client is None or not secrets.compare_digest(
        client.client_secret, form.get("client_secret", "")
    ):
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    now = fake.now()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = oauth.codes.get(form.get("code", ""))
        if (
            grant is None
            or grant.used
            or grant.client_id != client.client_id
            or now >= grant.expires_at
        ):
            return _oauth_error(
                400, "invalid_grant", "The authorization code is invalid or expired"
            )
        grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(
                400,
                "invalid_redirect_uri",
                "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                "match authorization code",
            )
        return JSONResponse(issue(fake, grant.member_id, client.client_id, grant.scope))
    if grant_type == "refresh_token":
        refresh = form.get("refresh_token", "")
        grant = oauth.refresh_tokens.get(refresh)
        if (
            grant is None
            or grant.revoked
            or grant.client_id != client.client_id
            or now >= grant.expires_at
        ):
            return _oauth_error(
                400,
                "invalid_grant",
                "The provided authorization grant or refresh token is invalid, expired or revoked",
            )
        access = _access(fake, grant.member_id, grant.scope, until=grant.expires_at)
        return JSONResponse(access | _refresh_fields(refresh, grant, now))
    return _oauth_error(400, "invalid_request", 'A required parameter "grant_type" is missing')


def issue(fake: FakeLinkedIn, member_id: str, client_id: str, scope: str) -> dict[str, Any]:
    """A new consent's tokens: an access token, and a refresh token fixed at 365 days."""
    oauth = fake.oauth
    body = _access(fake, member_id, scope)
    if oauth.grant_refresh:
        refresh = secrets.token_urlsafe(32)
        grant = Grant(member_id, client_id, scope, fake.now() + oauth.refresh_lifetime)
        oauth.refresh_tokens[refresh] = grant
        body |= _refresh_fields(refresh, grant, fake.now())
    return body


def _access(
    fake: FakeLinkedIn, member_id: str, scope: str, *, until: datetime | None = None
) -> dict[str, Any]:
    """An access token of 60 days, never outliving the consent (``until``)."""
    access = secrets.token_urlsafe(32)
    lifetime = fake.oauth.access_lifetime
    if until is not None:
        lifetime = max(min(lifetime, until - fake.now()), timedelta(seconds=1))
    fake.tokens[access] = AccessToken(member_id, scope, fake.now() + lifetime)
    return {"access_token": access, "expires_in": int(lifetime.total_seconds()), "scope": scope}


def _refresh_fields(refresh: str, grant: Grant, now: datetime) -> dict[str, Any]:
    left = max(int((grant.expires_at - now).total_seconds()), 1)
    return {"refresh_token": refresh, "refresh_token_expires_in": left}
