"""The fake Instagram's consent side, for both logins (facts: gated-platforms.md §3.1).

Instagram Login: the consent page ``GET /oauth/authorize`` (``instagram_business_*``
scopes, comma-separated; the retired ``business_*`` names are refused), the code exchange
``POST /oauth/access_token`` (api.instagram.com: a one-hour token and ``user_id`` as a big
JSON number; ``token_shape`` ``"data"`` wraps it in ``data[]`` with the granted permissions,
``"flat"`` is the older form), the long-lived exchange ``GET /access_token?grant_type=
ig_exchange_token`` (60 days) and its refresh ``GET /refresh_access_token?grant_type=
ig_refresh_token`` (only for an unexpired token at least 24 hours old; 60 days again).

Facebook Login: ``GET /<version>/dialog/oauth``, then ``GET /<version>/oauth/access_token``
with the code (a short-lived user token) or with ``grant_type=fb_exchange_token`` (60 days);
``/me/accounts`` then hands out Page tokens, which do not expire.

Codes live 10 minutes and are single use. Consent has no person to ask: ``consent`` says
approve or deny, ``consenting`` whose account approves.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from openpost.platforms.instagram import fake_wire as wire
from openpost.platforms.meta.fake_graph import error_response

if TYPE_CHECKING:
    from openpost.platforms.instagram.fake import FakeAccount, FakeInstagram

SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME = timedelta(seconds=5_183_944)  # "about 60 days", as Meta answers
REFRESH_MIN_AGE = timedelta(hours=24)
CODE_LIFETIME = timedelta(minutes=10)
INSTAGRAM_SCOPES = frozenset(
    {"instagram_business_basic", "instagram_business_manage_insights",
     "instagram_business_manage_messages", "instagram_business_content_publish",
     "instagram_business_manage_comments"}
)  # fmt: skip
FACEBOOK_SCOPES = frozenset(
    {"instagram_basic", "instagram_manage_insights", "pages_show_list", "pages_read_engagement",
     "business_management", "ads_read"}
)  # fmt: skip
Consent = Literal["approve", "deny"]


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Grant:
    account_id: str
    client_id: str
    scope: str
    expires_at: datetime
    redirect_uri: str
    facebook: bool
    used: bool = False


class OAuthState:
    def __init__(self) -> None:
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, Grant] = {}
        self.consent: Consent = "approve"
        self.consenting: FakeAccount | None = None
        self.token_shape: Literal["data", "flat"] = "data"  # noqa: S105 - a shape


def new_token(
    fake: FakeInstagram,
    account: FakeAccount,
    kind: str,
    client_id: str,
    lifetime: timedelta | None,
    scope: str = "",
) -> str:
    from openpost.platforms.instagram.fake import Token

    now = fake.now()
    token = ("IGAA" if kind.startswith("ig") else "EAAB") + secrets.token_urlsafe(32)
    subject = {"page": account.page_id}.get(
        kind, account.facebook_user if kind.startswith("fb") else account.id
    )
    default = {"ig_short": SHORT_LIFETIME, "fb_short": SHORT_LIFETIME, "page": None}.get(
        kind, LONG_LIFETIME
    )
    chosen = lifetime if lifetime is not None else default
    fake.tokens[token] = Token(
        kind,  # type: ignore[arg-type]
        subject,
        client_id,
        now,
        now + chosen if chosen is not None else None,
        scope,
    )
    return token


def page_token(fake: FakeInstagram, account: FakeAccount, client_id: str) -> str:
    for raw, token in fake.tokens.items():
        if token.kind == "page" and token.subject == account.page_id:
            return raw
    return new_token(fake, account, "page", client_id, None)


def serve(fake: FakeInstagram, endpoint: str, request: Request, params: dict[str, str]) -> Response:
    if endpoint in ("authorize", "fb_authorize"):
        return _authorize(fake, params, facebook=endpoint == "fb_authorize")
    if endpoint == "token":
        if request.method != "POST":
            return wire.oauth_error("Unsupported request - method type: get", code=405)
        return _exchange(fake, params)
    if endpoint == "long_lived":
        return _long_lived(fake, params)
    if endpoint == "refresh":
        return _refresh(fake, params)
    return _facebook_token(fake, params)


def _authorize(fake: FakeInstagram, params: dict[str, str], *, facebook: bool) -> Response:
    state = fake.oauth
    client = state.clients.get(params.get("client_id", ""))
    redirect = params.get("redirect_uri", "")
    if client is None or redirect not in client.redirect_uris:
        return Response("Invalid redirect_uri or client_id: this app cannot be used", 400)
    scopes = {s for s in params.get("scope", "").replace(" ", ",").split(",") if s}
    known = FACEBOOK_SCOPES if facebook else INSTAGRAM_SCOPES
    if params.get("response_type") != "code" or not scopes or not scopes <= known:
        return Response("Invalid Request: Invalid scope or response_type", 400)
    answer: dict[str, str] = {}
    if "state" in params:
        answer["state"] = params["state"]
    if state.consent == "deny" or state.consenting is None:
        answer |= {
            "error": "access_denied",
            "error_reason": "user_denied",
            "error_description": "Permissions error",
        }
        return RedirectResponse(f"{redirect}?{urlencode(answer)}", 302)
    code = secrets.token_urlsafe(24)
    state.codes[code] = Grant(
        account_id=state.consenting.id,
        client_id=client.client_id,
        scope=",".join(sorted(scopes)),
        expires_at=fake.now() + CODE_LIFETIME,
        redirect_uri=redirect,
        facebook=facebook,
    )
    suffix = "" if facebook else "#_"  # Instagram appends "#_", which is not part of the code
    return RedirectResponse(f"{redirect}?{urlencode({'code': code, **answer})}{suffix}", 302)


def _client(fake: FakeInstagram, params: dict[str, str]) -> OAuthClient | None:
    client = fake.oauth.clients.get(params.get("client_id", ""))
    if client is None or not secrets.compare_digest(
        client.client_secret, params.get("client_secret", "")
    ):
        return None
    return client


def _take_code(fake: FakeInstagram, params: dict[str, str], *, facebook: bool) -> Grant | None:
    grant = fake.oauth.codes.get(params.get("code", "").removesuffix("#_"))
    if grant is None or grant.used or grant.facebook != facebook or fake.now() >= grant.expires_at:
        return None
    grant.used = True
    if grant.client_id != params.get("client_id") or grant.redirect_uri != params.get(
        "redirect_uri"
    ):
        return None
    return grant


def _exchange(fake: FakeInstagram, params: dict[str, str]) -> Response:
    client = _client(fake, params)
    if client is None:
        return wire.oauth_error("Invalid platform app")
    if params.get("grant_type") != "authorization_code":
        return wire.oauth_error("Invalid grant_type")
    grant = _take_code(fake, params, facebook=False)
    if grant is None:
        return wire.oauth_error("Matching code was not found or was already used")
    account = fake.accounts[grant.account_id]
    token = new_token(fake, account, "ig_short", client.client_id, None, grant.scope)
    body: dict[str, object] = {"access_token": token, "user_id": int(account.id)}
    if fake.oauth.token_shape == "data":  # noqa: S105 - a shape
        body = {"data": [{**body, "permissions": grant.scope}]}
    else:
        body["permissions"] = grant.scope.split(",")
    return Response(orjson.dumps(body), media_type="application/json")


def _lived(token: str, lifetime: timedelta) -> JSONResponse:
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": int(lifetime.total_seconds())}
    )


def _long_lived(fake: FakeInstagram, params: dict[str, str]) -> Response:
    if params.get("grant_type") != "ig_exchange_token":
        return error_response(100, "Unsupported grant_type", kind="OAuthException")
    short = fake.tokens.get(params.get("access_token", ""))
    if short is None or short.kind != "ig_short":
        return wire.bad_token()
    if short.expires_at is not None and fake.now() >= short.expires_at:
        return wire.expired_token()
    client = fake.oauth.clients.get(short.client_id)
    if client is None or not secrets.compare_digest(
        client.client_secret, params.get("client_secret", "")
    ):
        return error_response(101, "Error validating client secret.", kind="OAuthException")
    account = fake.accounts[short.subject]
    return _lived(
        new_token(fake, account, "ig_long", short.client_id, None, short.scope), LONG_LIFETIME
    )


def _refresh(fake: FakeInstagram, params: dict[str, str]) -> Response:
    if params.get("grant_type") != "ig_refresh_token":
        return error_response(100, "Unsupported grant_type", kind="OAuthException")
    current = fake.tokens.get(params.get("access_token", ""))
    now = fake.now()
    if current is None or current.kind != "ig_long":
        return wire.bad_token()
    if current.expires_at is not None and now >= current.expires_at:
        return wire.expired_token()
    if now - current.issued_at < REFRESH_MIN_AGE:
        return error_response(
            100,
            "(#100) The access token is too new to be refreshed (24 hours)",
            kind="OAuthException",
        )
    account = fake.accounts[current.subject]
    return _lived(
        new_token(fake, account, "ig_long", current.client_id, None, current.scope), LONG_LIFETIME
    )


def _facebook_token(fake: FakeInstagram, params: dict[str, str]) -> Response:
    client = _client(fake, params)
    if client is None:
        return error_response(101, "Error validating client secret.", kind="OAuthException")
    if params.get("grant_type") == "fb_exchange_token":
        short = fake.tokens.get(params.get("fb_exchange_token", ""))
        if short is None or short.kind not in ("fb_short", "fb_long"):
            return wire.bad_token()
        if short.expires_at is not None and fake.now() >= short.expires_at:
            return wire.expired_token()
        account = next(a for a in fake.accounts.values() if a.facebook_user == short.subject)
        token = new_token(fake, account, "fb_long", client.client_id, None, short.scope)
        return _lived(token, LONG_LIFETIME)
    grant = _take_code(fake, params, facebook=True)
    if grant is None:
        return error_response(
            100, "This authorization code has been used or has expired.", subcode=36009,
            kind="OAuthException",
        )  # fmt: skip
    account = fake.accounts[grant.account_id]
    token = new_token(fake, account, "fb_short", client.client_id, None, grant.scope)
    return _lived(token, SHORT_LIFETIME)
