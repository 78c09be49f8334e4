"""The fake Threads' consent side: the consent page, the code exchange, the long-lived
exchange and the refresh, with what Threads checks (``platforms/threads/oauth.py`` has the
facts).

- The consent page wants a registered Threads app id and its exact redirect URI (else an
  error page on Threads, no redirect). A Facebook app id given instead is sent back with
  ``error_code=1349026``; a consenting user who is not an accepted tester of the app (before
  App Review) with ``error_code=1349245`` (with ``error_message``, as Meta's dialogs write
  it); ``deny`` sends ``error=access_denied&error_reason=user_denied``. A code is appended
  as ``?code=…&state=…#_`` (the ``#_`` is not part of the code).
- Codes live one hour and are single use (a used code: 100/36009; an unknown one: 100).
- ``POST /oauth/access_token`` → ``{"access_token", "user_id": <number>}`` (one hour);
  ``GET /access_token?grant_type=th_exchange_token`` → a sixty-day token; ``GET
  /refresh_access_token?grant_type=th_refresh_token`` renews a long-lived token that is at
  least 24 hours old and unexpired (a younger one is refused with code 100 [L]).
- A wrong app id or secret: 101 "Error validating application".

State lives on ``FakeThreads`` (its lock, clock and token table); this module keeps the rules.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openpost.platforms.threads import fake_wire as wire

if TYPE_CHECKING:
    from openpost.platforms.threads.fake import FakeThreads

CODE_LIFETIME = timedelta(hours=1)
SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME_SECONDS = 5_183_944  # what Threads' answers say (about 60 days)
MIN_REFRESH_AGE = timedelta(hours=24)
Consent = Literal["approve", "deny"]
NOT_TESTER_MESSAGE = "Invalid Request: The user has not accepted the invite to test the app"
FACEBOOK_ID_MESSAGE = "Invalid Request: The app id is not a Threads app id"


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Code:
    user_id: str
    client_id: str
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class Token:
    user_id: str
    client_id: str
    scopes: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    long_lived: bool
    revoked: bool = False


class OAuthState:
    """Apps, codes and the consent page's behaviour (guarded by ``FakeThreads``' lock)."""

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.facebook_app_ids: set[str] = set()
        self.codes: dict[str, Code] = {}
        self.consent: Consent = "approve"
        self.consenting: str | None = None  # the user id "logged in" at Threads


def _scopes(raw: str) -> frozenset[str]:
    return frozenset(s for s in raw.replace(",", " ").split() if s)


def _back(redirect_uri: str, query: dict[str, str], *, fragment: bool = False) -> Response:
    return RedirectResponse(
        f"{redirect_uri}?{urlencode(query)}{'#_' if fragment else ''}", status_code=302
    )


def authorize(fake: FakeThreads, request: Request) -> Response:
    """``GET /oauth/authorize``."""
    params = dict(request.query_params)
    oauth = fake.oauth
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    state = params.get("state", "")
    if client_id in oauth.facebook_app_ids:
        message = FACEBOOK_ID_MESSAGE
        return _back(
            redirect_uri, {"error_code": "1349026", "error_message": message, "state": state}
        )
    app = oauth.apps.get(client_id)
    if app is None or redirect_uri not in app.redirect_uris:
        return wire.json_response(
            {
                "error_message": "Invalid Request: Redirect URI or app id is not valid",
                "error_code": 1349187,
            },
            status=400,
        )
    scopes = _scopes(params.get("scope", ""))
    if params.get("response_type") != "code" or "threads_basic" not in scopes:
        return _back(redirect_uri, {"error": "invalid_request", "state": state})
    user = fake.users.get(oauth.consenting or "")
    if oauth.consent == "deny" or user is None:
        denied = {
            "error": "access_denied",
            "error_reason": "user_denied",
            "error_description": "Permissions error",
            "state": state,
        }
        return _back(redirect_uri, denied, fragment=True)
    if not user.tester:
        message = NOT_TESTER_MESSAGE
        return _back(
            redirect_uri, {"error_code": "1349245", "error_message": message, "state": state}
        )
    code = secrets.token_urlsafe(24)
    oauth.codes[code] = Code(user.id, client_id, scopes, redirect_uri, fake.now() + CODE_LIFETIME)
    return _back(redirect_uri, {"code": code, "state": state}, fragment=True)


def exchange(fake: FakeThreads, form: dict[str, str]) -> Response:
    """``POST /oauth/access_token`` (grant_type=authorization_code)."""
    app = _app(fake, form.get("client_id", ""), form.get("client_secret", ""))
    if app is None:
        return wire.oauth_error(101, "Error validating application. Invalid application ID.")
    if form.get("grant_type") != "authorization_code":
        return wire.oauth_error(100, "Unsupported grant_type")
    code = fake.oauth.codes.get(form.get("code", ""))
    if code is None or code.client_id != app.client_id:
        return wire.oauth_error(100, "Invalid verification code format.")
    if code.used:
        return wire.oauth_error(100, "This authorization code has been used.", subcode=36009)
    code.used = True
    if fake.now() >= code.expires_at:
        return wire.oauth_error(100, "This authorization code has expired.", subcode=36007)
    if form.get("redirect_uri") != code.redirect_uri:
        return wire.oauth_error(
            100, "Error validating verification code. Please make sure your redirect_uri is "
            "identical to the one you used in the OAuth dialog request", subcode=36008,
        )  # fmt: skip
    access = fake.mint(
        code.user_id, app.client_id, code.scopes, lifetime=SHORT_LIFETIME, long=False
    )
    return wire.json_response({"access_token": access, "user_id": int(code.user_id)})


def long_lived(fake: FakeThreads, params: dict[str, str]) -> Response:
    """``GET /access_token?grant_type=th_exchange_token&client_secret&access_token``."""
    if params.get("grant_type") != "th_exchange_token":
        return wire.oauth_error(100, "Unsupported grant_type")
    token = fake.valid_token(params.get("access_token", ""))
    if token is None:
        return wire.token_refused()
    app = fake.oauth.apps.get(token.client_id)
    if app is None or not secrets.compare_digest(
        app.client_secret, params.get("client_secret", "")
    ):
        return wire.oauth_error(101, "Error validating client secret.")
    lifetime = timedelta(seconds=LONG_LIFETIME_SECONDS)
    access = fake.mint(token.user_id, token.client_id, token.scopes, lifetime=lifetime, long=True)
    return wire.json_response(
        {"access_token": access, "token_type": "bearer", "expires_in": LONG_LIFETIME_SECONDS}
    )


def refresh(fake: FakeThreads, params: dict[str, str]) -> Response:
    """``GET /refresh_access_token?grant_type=th_refresh_token&access_token``."""
    if params.get("grant_type") != "th_refresh_token":
        return wire.oauth_error(100, "Unsupported grant_type")
    token = fake.valid_token(params.get("access_token", ""))
    if token is None:
        return wire.token_refused(463)
    if not token.long_lived or fake.now() - token.issued_at < MIN_REFRESH_AGE:
        return wire.oauth_error(100, "The access token cannot be refreshed yet")
    lifetime = timedelta(seconds=LONG_LIFETIME_SECONDS)
    access = fake.mint(token.user_id, token.client_id, token.scopes, lifetime=lifetime, long=True)
    fake.refreshes += 1
    return wire.json_response(
        {"access_token": access, "token_type": "bearer", "expires_in": LONG_LIFETIME_SECONDS}
    )


def _app(fake: FakeThreads, client_id: str, secret: str) -> App | None:
    app = fake.oauth.apps.get(client_id)
    if app is None or not secrets.compare_digest(app.client_secret, secret):
        return None
    return app
