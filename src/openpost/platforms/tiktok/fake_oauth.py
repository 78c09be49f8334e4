"""The fake TikTok's Login Kit v2 side: the consent page, the token endpoint (code exchange,
refresh with rotation) and revocation.

What it checks is what TikTok documents (``reference/gated-platforms.md`` §6.1, §0b):

- ``GET /v2/auth/authorize/``: a registered ``client_key`` and an exactly registered
  ``redirect_uri`` (else an error page on TikTok itself, never a redirect), then
  ``response_type=code``, a non-empty comma-separated ``scope`` of known scopes and, when the
  client uses PKCE (``OAuthClient.pkce``, the default), ``code_challenge`` with
  ``code_challenge_method=S256``; problems go back to the redirect URI as ``error=…``.
- A sandbox client (``OAuthClient.sandbox``) lets only its invited target users consent;
  anyone else is sent back with ``error=access_denied`` [L: the real wording is unknown].
- ``POST /v2/oauth/token/`` (form): ``client_key`` and ``client_secret`` in the form
  (``invalid_client`` otherwise); ``grant_type=authorization_code`` takes a code once, within
  its lifetime, with the same ``redirect_uri`` and the PKCE verifier of its challenge;
  ``grant_type=refresh_token`` takes a refresh token once: every refresh issues a new refresh
  token and the old one stops working (rotation), and a refresh token past its lifetime (180
  days) is refused. A used, expired or unknown code or refresh token is ``invalid_grant``.
- Answers: ``{"open_id", "scope", "access_token", "expires_in": 7200, "refresh_token",
  "refresh_expires_in": 15552000, "token_type": "Bearer"}``; errors ``{"error",
  "error_description", "log_id"}`` (HTTP 400, or 401 for the client).
- ``POST /v2/oauth/revoke/`` (form ``client_key``, ``client_secret``, ``token``): every token
  of that user and client stops working.

The consent page has no person to ask, so ``consent`` decides: ``"approve"`` redirects back
at once with a code for ``consenting``; ``"deny"`` with ``error=access_denied``; ``"ask"``
shows a page listing the client's test users, each a link that consents as that user (the
server mode, for a person or a browser test). The state lives on ``FakeTikTok`` (its lock,
clock and token table); this module keeps the rules.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from openpost.platforms.tiktok import fake_wire as wire

if TYPE_CHECKING:
    from openpost.platforms.tiktok.fake import FakeTikTok

ACCESS_LIFETIME = timedelta(hours=2)
REFRESH_LIFETIME = timedelta(days=180)
CODE_LIFETIME = timedelta(minutes=5)
KNOWN_SCOPES = frozenset(
    {
        "user.info.basic", "user.info.profile", "user.info.stats", "video.list",
        "video.upload", "video.publish",
    }
)  # fmt: skip
Consent = Literal["approve", "deny", "ask"]


@dataclass
class OAuthClient:
    client_key: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    pkce: bool = True
    sandbox: bool = False
    target_users: set[str] = field(default_factory=set)  # open ids invited to the sandbox


@dataclass
class Grant:
    """An issued code or refresh token: whose, for which client, until when, used or not."""

    open_id: str
    client_key: str
    scope: str
    expires_at: datetime
    redirect_uri: str = ""
    challenge: str = ""
    used: bool = False


@dataclass
class AccessGrant:
    open_id: str
    client_key: str
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool = False


class OAuthState:
    """Clients, codes and refresh tokens of the fake (guarded by ``FakeTikTok``'s lock)."""

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.consent: Consent = "approve"
        self.consenting: str | None = None  # the open id "logged in" at TikTok
        self.code_lifetime = CODE_LIFETIME
        self.access_lifetime = ACCESS_LIFETIME
        self.refresh_lifetime = REFRESH_LIFETIME
        self.refreshes = 0  # successful refresh grants, for tests


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize(fake: FakeTikTok, params: dict[str, str]) -> Response:
    """``GET /v2/auth/authorize/``: check the request, then consent as told."""
    oauth = fake.oauth
    client = oauth.clients.get(params.get("client_key", ""))
    redirect_uri = params.get("redirect_uri", "")
    if client is None or redirect_uri not in client.redirect_uris:
        return HTMLResponse("<h1>Something went wrong</h1><p>client_key or redirect_uri</p>", 400)
    state = params.get("state", "")
    scopes = [s for s in params.get("scope", "").split(",") if s]
    if params.get("response_type") != "code":
        return _back(redirect_uri, state, error="unsupported_response_type")
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        return _back(redirect_uri, state, error="invalid_scope")
    if client.pkce and (
        params.get("code_challenge_method") != "S256" or not params.get("code_challenge")
    ):
        return _back(redirect_uri, state, error="invalid_request")
    chosen = params.get("user") or oauth.consenting
    if oauth.consent == "ask" and not params.get("user"):
        return _consent_page(fake, client, params)
    if oauth.consent == "deny" or chosen is None or chosen not in fake.users:
        return _back(redirect_uri, state, error="access_denied")
    if client.sandbox and chosen not in client.target_users:
        return _back(redirect_uri, state, error="access_denied")
    code = secrets.token_urlsafe(24)
    oauth.codes[code] = Grant(
        open_id=chosen,
        client_key=client.client_key,
        scope=",".join(scopes),
        expires_at=fake.now() + oauth.code_lifetime,
        redirect_uri=redirect_uri,
        challenge=params.get("code_challenge", ""),
    )
    return _back(redirect_uri, state, code=code, scopes=",".join(scopes))


def token(fake: FakeTikTok, form: dict[str, str]) -> Response:
    """``POST /v2/oauth/token/``: authorization_code (with PKCE) or refresh_token."""
    oauth, now = fake.oauth, fake.now()
    client = oauth.clients.get(form.get("client_key", ""))
    if client is None or not secrets.compare_digest(
        client.client_secret, form.get("client_secret", "")
    ):
        return wire.oauth_error(
            "invalid_client", "Client key or secret is invalid.", now, status=401
        )
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = oauth.codes.get(form.get("code", ""))
        if not _usable(grant, client, now):
            return _invalid_grant(now, "Authorization code is expired or invalid.")
        assert grant is not None
        grant.used = True  # even a failed verifier burns the code
        if form.get("redirect_uri") != grant.redirect_uri:
            return wire.oauth_error(
                "invalid_request", "The redirect_uri does not match.", now, status=400
            )
        if grant.challenge and s256(form.get("code_verifier", "")) != grant.challenge:
            return wire.oauth_error(
                "invalid_request", "Code verifier or code challenge is invalid.", now, status=400
            )
    elif grant_type == "refresh_token":
        grant = oauth.refresh_tokens.get(form.get("refresh_token", ""))
        if not _usable(grant, client, now):
            return _invalid_grant(now, "Refresh token is invalid or expired.")
        assert grant is not None
        grant.used = True  # rotation: the old refresh token stops working
        oauth.refreshes += 1
    else:
        return wire.oauth_error(
            "unsupported_grant_type", "The grant type is not supported.", now, status=400
        )
    return wire_json(issue(fake, grant.open_id, client.client_key, grant.scope))


def revoke(fake: FakeTikTok, form: dict[str, str]) -> Response:
    """``POST /v2/oauth/revoke/``: the user's tokens for this client stop working."""
    oauth, now = fake.oauth, fake.now()
    client = oauth.clients.get(form.get("client_key", ""))
    if client is None or client.client_secret != form.get("client_secret"):
        return wire.oauth_error(
            "invalid_client", "Client key or secret is invalid.", now, status=401
        )
    grant = fake.access_tokens.get(form.get("token", ""))
    if grant is not None and grant.client_key == client.client_key:
        fake.revoke_user(grant.open_id)
    return wire_json({})


def issue(fake: FakeTikTok, open_id: str, client_key: str, scope: str) -> dict[str, Any]:
    """A new access token and refresh token for the user, as the token endpoint answers."""
    oauth, now = fake.oauth, fake.now()
    access = "act." + secrets.token_urlsafe(30)
    refresh = "rft." + secrets.token_urlsafe(30)
    fake.access_tokens[access] = AccessGrant(
        open_id, client_key, frozenset(scope.split(",")), now + oauth.access_lifetime
    )
    oauth.refresh_tokens[refresh] = Grant(open_id, client_key, scope, now + oauth.refresh_lifetime)
    return {
        "open_id": open_id,
        "scope": scope,
        "access_token": access,
        "expires_in": int(oauth.access_lifetime.total_seconds()),
        "refresh_token": refresh,
        "refresh_expires_in": int(oauth.refresh_lifetime.total_seconds()),
        "token_type": "Bearer",
    }


def wire_json(body: dict[str, Any]) -> Response:
    return JSONResponse(body)


def _usable(grant: Grant | None, client: OAuthClient, now: datetime) -> bool:
    return (
        grant is not None
        and not grant.used
        and grant.client_key == client.client_key
        and now < grant.expires_at
    )


def _invalid_grant(now: datetime, description: str) -> Response:
    return wire.oauth_error("invalid_grant", description, now, status=400)


def _back(redirect_uri: str, state: str, **values: str) -> Response:
    query = {"state": state, **values}
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


def _consent_page(fake: FakeTikTok, client: OAuthClient, params: dict[str, str]) -> Response:
    """The page a person sees: the app's test users, each a link that consents as them."""
    allowed = client.target_users if client.sandbox else set(fake.users)
    rows = []
    for open_id in sorted(allowed):
        user = fake.users.get(open_id)
        if user is None:
            continue
        link = "/v2/auth/authorize/?" + urlencode({**params, "user": open_id})
        rows.append(
            f'<li><a class="consent-as" href="{html.escape(link)}">Authorize as '
            f"@{html.escape(user.username)}</a></li>"
        )
    deny = "/v2/auth/authorize/?" + urlencode({**params, "user": "-"})
    body = (
        "<!doctype html><title>TikTok (fake): authorize</title>"
        f"<h1>{html.escape(client.client_key)} would like to access your TikTok account</h1>"
        f"<p>Scopes: {html.escape(params.get('scope', ''))}</p>"
        f"<ul>{''.join(rows)}</ul>"
        f'<p><a id="deny" href="{html.escape(deny)}">Cancel</a></p>'
    )
    return HTMLResponse(body)
