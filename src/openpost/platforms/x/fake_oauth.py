"""The fake X's OAuth 2.0 side: the consent page, the token endpoint and ``/2/users/me``.

What it checks is what X checks (see ``platforms/x/oauth.py`` for the facts): a registered
client and exact redirect URI at the consent page; HTTP Basic client authentication at the
token endpoint (401 ``unauthorized_client`` without it); the PKCE verifier against the
S256 challenge; codes and refresh tokens usable once (a refresh rotates the refresh token);
access tokens that expire after two hours. A used, expired or unknown code or refresh token
is a 400 with ``error=invalid_request`` as X answers (``refused_error`` switches it to the
standard's ``invalid_grant``).

Consent has no person to ask, so ``consent`` decides: ``"approve"`` redirects straight back
with a code for ``consenting`` (the account "logged in" at X), ``"deny"`` with
``error=access_denied``. The state lives on ``FakeX`` (its lock, clock and token table);
this module keeps the rules.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.x.fake import FakeAccount, FakeX

ACCESS_LIFETIME = timedelta(hours=2)
CODE_LIFETIME = timedelta(seconds=30)
Consent = Literal["approve", "deny"]


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Grant:
    """An issued code or refresh token: whose, for which client, until when, used or not."""

    account_id: str
    client_id: str
    scope: str
    expires_at: datetime | None
    redirect_uri: str = ""
    challenge: str = ""
    used: bool = False


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthState:
    """Clients, codes and refresh tokens of the fake (guarded by ``FakeX``'s lock)."""

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.consent: Consent = "approve"
        self.consenting: FakeAccount | None = None
        self.refused_error = "invalid_request"
        self.code_lifetime = CODE_LIFETIME
        self.access_lifetime = ACCESS_LIFETIME
        self.refresh_lifetime: timedelta | None = None  # X's refresh tokens do not time out


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def authorize(fake: FakeX, request: Request) -> Response:
    """``GET /i/oauth2/authorize``: check the request, then "consent" as told."""
    params = dict(request.query_params)
    oauth = fake.oauth
    client = oauth.clients.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if client is None or redirect_uri not in client.redirect_uris:
        # Never redirect to an unregistered address: an error page on X itself.
        return Response("Something went wrong: unknown client or callback URL", 400)
    state = params.get("state", "")
    problems = [
        params.get("response_type") != "code" and "response_type must be code",
        params.get("code_challenge_method") != "S256" and "code_challenge_method must be S256",
        not params.get("code_challenge") and "code_challenge is required",
        not state and "state is required",
        not set(params.get("scope", "").split()) and "scope is required",
    ]
    if any(problems):
        error = {"error": "invalid_request", "state": state}
        return RedirectResponse(f"{redirect_uri}?{urlencode(error)}", status_code=302)
    if oauth.consent == "deny" or oauth.consenting is None:
        denied = {"error": "access_denied", "state": state}
        return RedirectResponse(f"{redirect_uri}?{urlencode(denied)}", status_code=302)
    code = secrets.token_urlsafe(24)
    oauth.codes[code] = Grant(
        account_id=oauth.consenting.id,
        client_id=client.client_id,
        scope=params["scope"],
        expires_at=fake.now() + oauth.code_lifetime,
        redirect_uri=redirect_uri,
        challenge=params["code_challenge"],
    )
    answer = {"state": state, "code": code}
    return RedirectResponse(f"{redirect_uri}?{urlencode(answer)}", status_code=302)


def token(fake: FakeX, request: Request, form: dict[str, str]) -> Response:
    """``POST /2/oauth2/token``: authorization_code (with PKCE) or refresh_token."""
    oauth = fake.oauth
    client = _basic_client(oauth, request.headers.get("authorization", ""))
    if client is None:
        return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
    grant_type = form.get("grant_type")
    now = fake.now()
    if grant_type == "authorization_code":
        grant = oauth.codes.get(form.get("code", ""))
        if not _usable(grant, client, now):
            return _refused(oauth, "authorization code")
        assert grant is not None
        grant.used = True  # even a failed verifier burns the code
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_request", "Value passed for redirect_uri is invalid.")
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return _refused(oauth, "code_verifier")
    elif grant_type == "refresh_token":
        grant = oauth.refresh_tokens.get(form.get("refresh_token", ""))
        if not _usable(grant, client, now):
            return _refused(oauth, "token")
        assert grant is not None
        grant.used = True  # rotation: the old refresh token stops working
    else:
        return _oauth_error(400, "invalid_request", "Missing required parameter [grant_type].")
    return JSONResponse(issue(fake, grant.account_id, client.client_id, grant.scope))


def issue(fake: FakeX, account_id: str, client_id: str, scope: str) -> dict[str, Any]:
    """A new access token (and, with ``offline.access``, refresh token) for the account."""
    oauth = fake.oauth
    access = secrets.token_urlsafe(32)
    fake.user_tokens[access] = account_id
    fake.user_token_expiry[access] = fake.now() + oauth.access_lifetime
    body: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": int(oauth.access_lifetime.total_seconds()),
        "access_token": access,
        "scope": scope,
    }
    if "offline.access" in scope.split():
        refresh = secrets.token_urlsafe(32)
        until = fake.now() + oauth.refresh_lifetime if oauth.refresh_lifetime else None
        oauth.refresh_tokens[refresh] = Grant(account_id, client_id, scope, until)
        body["refresh_token"] = refresh
    return body


def me(fake: FakeX, context: str | None) -> Response:
    """``GET /2/users/me``: only a user token says who "me" is."""
    if context is None or not context.startswith("user:"):
        return JSONResponse(
            {"title": "Unsupported Authentication", "status": 403, "type": "about:blank"}, 403
        )
    account = fake.accounts[context.removeprefix("user:")]
    return JSONResponse(
        {"data": {"id": account.id, "name": account.name, "username": account.username}}
    )


def _usable(grant: Grant | None, client: OAuthClient, now: datetime) -> bool:
    return (
        grant is not None
        and not grant.used
        and grant.client_id == client.client_id
        and (grant.expires_at is None or now < grant.expires_at)
    )


def _refused(oauth: OAuthState, what: str) -> Response:
    return _oauth_error(400, oauth.refused_error, f"Value passed for the {what} was invalid.")


def _basic_client(oauth: OAuthState, header: str) -> OAuthClient | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    client = oauth.clients.get(client_id)
    if client is None or not secrets.compare_digest(client.client_secret, secret):
        return None
    return client
