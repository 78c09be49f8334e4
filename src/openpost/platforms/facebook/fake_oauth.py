"""The fake Facebook's Facebook Login side: the consent dialog (with its Page picker), the
token endpoint (code → short-lived user token, ``fb_exchange_token`` → long-lived) and
``/me/accounts`` (the granted Pages with their Page tokens).

What it checks is what Facebook checks (facts in ``platforms/facebook/oauth.py``): a known
app id and an exact registered redirect URI at the dialog (else an error page, never a
redirect); in development mode only people with a role on the app may consent ("App not
active" otherwise); at the token endpoint the app id (101) and secret (1 "Error validating
client secret"), codes usable once (100/36009 used, 36007 expired) and bound to their
redirect URI (100/36008).

``consent`` decides as a person would: ``"approve"`` redirects back with a code for
``consenting`` (the person "logged in" at Facebook), granting the Pages in ``granted``
(``None``: every Page they have a role on), ``"deny"`` with ``error=access_denied``. With no
``consenting`` person set, the dialog is an HTML page listing the test users and their Pages
(a form to pick one and tick Pages), as a person running the fake as a server would use it.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from openpost.platforms.facebook import fake_wire as wire
from openpost.platforms.meta.fake_graph import error_response

if TYPE_CHECKING:
    from openpost.platforms.facebook.fake import FakeFacebook, FakeUser, Token

SCOPES = ("pages_show_list", "pages_read_engagement", "read_insights")
CODE_LIFETIME = timedelta(minutes=10)
SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME = timedelta(seconds=5183944)  # about 60 days, as Meta answers
Consent = Literal["approve", "deny"]


@dataclass
class Code:
    user_id: str
    redirect_uri: str
    scope: str
    pages: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass
class OAuthState:
    app_id: str
    app_secret: str
    redirect_uris: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)  # people with a role on the app
    development_mode: bool = True
    consent: Consent = "approve"
    consenting: FakeUser | None = None
    granted: list[str] | None = None  # the Pages ticked in the picker (None: all)
    codes: dict[str, Code] = field(default_factory=dict)


def _problem(fake: FakeFacebook, params: dict[str, str]) -> Response | None:
    oauth = fake.oauth
    redirect_uri = params.get("redirect_uri", "")
    if params.get("client_id") != oauth.app_id:
        return HTMLResponse("<h1>Invalid App ID</h1><p>The provided app ID is invalid.</p>", 400)
    if redirect_uri not in oauth.redirect_uris:
        return HTMLResponse(
            "<h1>URL Blocked</h1><p>This redirect failed because the redirect URI is not "
            "whitelisted in the app's Client OAuth Settings.</p>",
            400,
        )
    return None


def dialog(fake: FakeFacebook, request: Request) -> Response:
    """``GET /v25.0/dialog/oauth``."""
    params = dict(request.query_params)
    with fake._lock:
        problem = _problem(fake, params)
        if problem is not None:
            return problem
        if fake.oauth.consenting is None and fake.oauth.consent == "approve":
            return _picker(fake, params)
        return _decide(fake, params, fake.oauth.consenting, fake.oauth.granted)


def confirm(fake: FakeFacebook, request: Request) -> Response:
    """The picker's form: the chosen test user and the Pages they ticked."""
    params = dict(request.query_params)
    with fake._lock:
        problem = _problem(fake, params)
        if problem is not None:
            return problem
        user = fake.users.get(params.get("user", ""))
        pages = request.query_params.getlist("page")
        return _decide(fake, params, user, pages)


def _decide(
    fake: FakeFacebook, params: dict[str, str], user: FakeUser | None, granted: list[str] | None
) -> Response:
    oauth, redirect_uri, state = fake.oauth, params["redirect_uri"], params.get("state", "")
    if oauth.consent == "deny" or user is None:
        denied = {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
            "state": state,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode(denied)}#_=_", status_code=302)
    if oauth.development_mode and user.id not in oauth.roles:
        return HTMLResponse(
            "<h1>App not active</h1><p>This app is not currently accessible and the app "
            "developer is aware of the issue.</p>",
            200,
        )
    theirs = [p.id for p in fake.pages.values() if user.id in p.roles]
    pages = tuple(p for p in theirs if granted is None or p in granted)
    code = secrets.token_urlsafe(32)
    oauth.codes[code] = Code(
        user.id, redirect_uri, params.get("scope", ""), pages, fake.now() + CODE_LIFETIME
    )
    return RedirectResponse(
        f"{redirect_uri}?{urlencode({'code': code, 'state': state})}#_=_", status_code=302
    )


def _picker(fake: FakeFacebook, params: dict[str, str]) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    people = []
    for user in fake.users.values():
        pages = "".join(
            f'<label><input type="checkbox" name="page" value="{p.id}" checked> '
            f"{html.escape(p.name)}</label>"
            for p in fake.pages.values()
            if user.id in p.roles
        )
        people.append(
            f'<fieldset><label><input type="radio" name="user" value="{user.id}" required> '
            f"{html.escape(user.name)}</label> {pages}</fieldset>"
        )
    body = (
        "<!doctype html><title>Log in with Facebook (fake)</title>"
        "<h1>Continue as a test user</h1>"
        f'<form method="get" action="oauth/confirm">{hidden}{"".join(people)}'
        '<button type="submit">Continue</button></form>'
    )
    return HTMLResponse(body)


def _issue(fake: FakeFacebook, user_id: str, pages: tuple[str, ...], scope: str, life: timedelta,
           ) -> dict[str, Any]:  # fmt: skip
    from openpost.platforms.facebook.fake import Token

    value = "EAAG" + secrets.token_urlsafe(40)
    fake.tokens[value] = Token(user_id, None, fake.now() + life, scope, pages)
    return {"access_token": value, "token_type": "bearer", "expires_in": int(life.total_seconds())}


def token(fake: FakeFacebook, form: dict[str, str]) -> Response:
    """``GET /v25.0/oauth/access_token`` (Facebook also takes POST; the client sends GET)."""
    oauth = fake.oauth
    if form.get("client_id") != oauth.app_id:
        return error_response(101, "Error validating application. Invalid application ID.")
    if not secrets.compare_digest(form.get("client_secret", ""), oauth.app_secret):
        return error_response(1, "Error validating client secret.")
    now = fake.now()
    if form.get("grant_type") == "fb_exchange_token":
        short = fake.tokens.get(form.get("fb_exchange_token", ""))
        if short is None or short.page_id is not None or short.dead is not None:
            return error_response(190, "Invalid OAuth access token - Cannot parse access token")
        if short.expires_at is not None and now >= short.expires_at:
            return error_response(190, wire.EXPIRED, subcode=463)
        return JSONResponse(_issue(fake, short.user_id, short.pages, short.scope, LONG_LIFETIME))
    grant = oauth.codes.get(form.get("code", ""))
    if grant is None or grant.used:
        return error_response(100, "This authorization code has been used.", subcode=36009)
    grant.used = True
    if now >= grant.expires_at:
        return error_response(100, "Code was invalid or expired.", subcode=36007)
    if form.get("redirect_uri") != grant.redirect_uri:
        return error_response(
            100,
            "Error validating verification code. Please make sure your redirect_uri is identical "
            "to the one you used in the OAuth dialog request",
            subcode=36008,
        )
    return JSONResponse(_issue(fake, grant.user_id, grant.pages, grant.scope, SHORT_LIFETIME))


def accounts(fake: FakeFacebook, token: Token, params: dict[str, str]) -> tuple[int, Any]:
    """``/me/accounts``: the granted Pages the person still has a role on, each with a Page
    token (and ``tasks``), paged with cursors."""
    if token.page_id is not None:
        return 400, {"error": {"message": "(#100) Tried accessing nonexisting field (accounts)",
                               "type": "OAuthException", "code": 100}}  # fmt: skip
    user = fake.users[token.user_id]
    pages = [fake.pages[p] for p in token.pages if user.id in fake.pages[p].roles]
    fields = [f for f in params.get("fields", "id,name").split(",") if f]
    limit = min(max(int(params.get("limit", "25") or 25), 1), 100)
    start = wire.cursor_offset(params.get("after"))
    data = []
    for page in pages[start : start + limit]:
        known = {
            "id": page.id,
            "name": page.name,
            "username": page.username,
            "tasks": page.roles[user.id],
            "category": "Bakery",
            "access_token": fake.page_token(page, user),
        }
        data.append({f: known[f] for f in fields if f in known})
    more = start + limit < len(pages)
    url = f"https://graph.facebook.com/v25.0/me/accounts?limit={limit}"
    return 200, wire.paged(data, start + limit if more else None, url)
