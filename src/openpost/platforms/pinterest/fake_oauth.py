"""The fake Pinterest's OAuth side: the consent page (with its test users), the token
endpoint and the tokens it issued.

Rules (``platforms/pinterest/oauth.py`` has the facts): a registered app and exact
redirect URI at ``GET /oauth/``; **HTTP Basic** client authentication at
``POST /v5/oauth/token`` (401 code 2 without it); codes usable once for 30 seconds; access
tokens for 30 days; **continuous** refresh tokens for 60 days, each refresh returning a new
one (with ``refresh_token_expires_in`` / ``_at``) and retiring the old one; an app created
before 2025-09-25 (``legacy_app``) must send ``continuous_refresh=true``. A refused code or
refresh token is a 400 ``{"code": 1, "message": …}`` (the real code is not documented).

The consent page: with ``consent="approve"`` and a ``consenting`` user it redirects back
at once (tests); with no user chosen it shows the test users as links (a person at the
page picks one, ``&user=<username>``); ``consent="deny"`` redirects with
``error=access_denied``.
"""

from __future__ import annotations

import base64
import html
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from openpost.platforms.pinterest import fake_wire as wire

if TYPE_CHECKING:
    from openpost.platforms.pinterest.fake import FakePinterest, FakeUser

ACCESS_LIFETIME = timedelta(days=30)
REFRESH_LIFETIME = timedelta(days=60)
CODE_LIFETIME = timedelta(seconds=30)
Consent = Literal["approve", "deny"]


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Grant:
    user_id: str
    client_id: str
    scope: str
    expires_at: datetime
    redirect_uri: str = ""
    used: bool = False


@dataclass
class AccessToken:
    user_id: str
    scope: frozenset[str]
    expires_at: datetime


class OAuthState:
    """Apps, codes and tokens of the fake (guarded by ``FakePinterest``'s lock)."""

    def __init__(self) -> None:
        self.apps: dict[str, OAuthApp] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.consent: Consent = "approve"
        self.consenting: FakeUser | None = None
        self.legacy_app = False  # created before 2025-09-25: needs continuous_refresh=true
        self.access_lifetime = ACCESS_LIFETIME
        self.refresh_lifetime = REFRESH_LIFETIME


def _refused(message: str) -> Response:
    return wire.error(400, 1, message)


def authorize(fake: FakePinterest, request: Request) -> Response:
    """``GET /oauth/``: check the app and redirect URI, then consent as told."""
    params = dict(request.query_params)
    oauth = fake.oauth
    app = oauth.apps.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if app is None or redirect_uri not in app.redirect_uris:
        return HTMLResponse("<h1>Invalid client_id or redirect_uri</h1>", 400)
    state = params.get("state", "")
    scopes = {s for s in params.get("scope", "").split(",") if s}
    if params.get("response_type") != "code" or not scopes or not state:
        back = {"error": "invalid_request", "state": state}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)
    if oauth.consent == "deny":
        back = {"error": "access_denied", "state": state}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)
    chosen = params.get("user")
    user = next((u for u in fake.users.values() if u.username == chosen), None) if chosen else None
    user = user or oauth.consenting
    if user is None:
        return _choose_page(fake, params)
    code = secrets.token_urlsafe(24)
    oauth.codes[code] = Grant(
        user_id=user.id,
        client_id=app.client_id,
        scope=",".join(sorted(scopes)),
        expires_at=fake.now() + CODE_LIFETIME,
        redirect_uri=redirect_uri,
    )
    back = {"code": code, "state": state}
    return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)


def _choose_page(fake: FakePinterest, params: dict[str, str]) -> Response:
    links = "".join(
        f'<li><a href="/oauth/?{html.escape(urlencode({**params, "user": u.username}))}">'
        f"Give access as {html.escape(u.username)}</a></li>"
        for u in fake.users.values()
    )
    body = f"<h1>Fake Pinterest: give access to your account</h1><ul>{links}</ul>"
    return HTMLResponse(body)


def token(fake: FakePinterest, request: Request, form: dict[str, str]) -> Response:
    """``POST /v5/oauth/token``: authorization_code or refresh_token (HTTP Basic)."""
    oauth = fake.oauth
    app = _basic_app(oauth, request.headers.get("authorization", ""))
    if app is None:
        return wire.unauthorized()
    now = fake.now()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = oauth.codes.get(form.get("code", ""))
        if not _usable(grant, app, now):
            return _refused("Invalid authorization code.")
        assert grant is not None
        grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return _refused("Invalid redirect_uri.")
        kind = "authorization_code"
    elif grant_type == "refresh_token":
        if oauth.legacy_app and form.get("continuous_refresh") != "true":
            return _refused(
                "Legacy refresh tokens are no longer supported: send continuous_refresh=true."
            )
        grant = oauth.refresh_tokens.get(form.get("refresh_token", ""))
        if not _usable(grant, app, now):
            return _refused("Invalid refresh token.")
        assert grant is not None
        grant.used = True  # the new continuous refresh token replaces it
        kind = "refresh_token"
    else:
        return _refused("Invalid grant_type.")
    return JSONResponse(issue(fake, grant.user_id, app.client_id, grant.scope, kind))


def issue(
    fake: FakePinterest, user_id: str, client_id: str, scope: str, kind: str = "authorization_code"
) -> dict[str, Any]:
    """A new access token and continuous refresh token for the user."""
    oauth = fake.oauth
    now = fake.now()
    access, refresh = "pina_" + secrets.token_urlsafe(32), "pinr_" + secrets.token_urlsafe(32)
    oauth.access_tokens[access] = AccessToken(
        user_id, frozenset(scope.split(",")), now + oauth.access_lifetime
    )
    until = now + oauth.refresh_lifetime
    oauth.refresh_tokens[refresh] = Grant(user_id, client_id, scope, until)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(oauth.access_lifetime.total_seconds()),
        "scope": scope,
        "response_type": kind,
        "refresh_token": refresh,
        "refresh_token_expires_in": int(oauth.refresh_lifetime.total_seconds()),
        "refresh_token_expires_at": wire.timestamp(until),
    }


def _usable(grant: Grant | None, app: OAuthApp, now: datetime) -> bool:
    return (
        grant is not None
        and not grant.used
        and grant.client_id == app.client_id
        and now < grant.expires_at
    )


def _basic_app(oauth: OAuthState, header: str) -> OAuthApp | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    app = oauth.apps.get(client_id)
    if app is None or not secrets.compare_digest(app.client_secret, secret):
        return None
    return app
