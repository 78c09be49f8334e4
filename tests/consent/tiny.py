"""A tiny OAuth 2.0 provider for tests, and its ``OwnerConsent``: a second platform's consent
that differs from X's wherever the generic flow must not assume X.

- no PKCE (a confidential web client: the code alone, with the client secret in the form);
- the client id travels as ``client_key`` (as TikTok names it), scopes are joined by commas,
  and the consent page gets an extra parameter (``display=page``);
- the code buys a one-hour token plus a refresh token, and a long-lived step swaps the
  access token for a thirty-day one (as Meta does); the refresh token expires in 180 days;
- every refresh rotates the refresh token (the old one is refused with ``invalid_grant``),
  and renewal starts a day before expiry (``refresh_margin``), not five minutes;
- ``GET /me`` names the account.

The provider is an in-process ``httpx`` transport: the browser's visit to its consent page
and the server's calls to its token endpoint both go through ``transport()``. It counts the
calls per endpoint and can answer the token endpoint slowly (``slow``) or with a 500
(``failing``). It borrows the ``pinterest`` code so that pages looking up a platform's spec
find one; its URL slug is ``tiny``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from openpost.platforms.base import Account, PlatformError, TransientError
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)

if TYPE_CHECKING:
    from openpost.config import Settings

ORIGIN = "https://tiny.test"
PLATFORM, SLUG = "pinterest", "tiny"
SCOPES = ("posts.read", "account.read")
SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME = timedelta(days=30)
REFRESH_LIFETIME = timedelta(days=180)
CODE_LIFETIME = timedelta(seconds=30)


@dataclass
class Grant:
    account: str
    expires_at: datetime | None
    used: bool = False


@dataclass
class TinyProvider:
    client_key: str
    client_secret: str
    redirect_uri: str
    now: Callable[[], datetime]
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → handle, name
    consenting: str | None = None
    deny: bool = False
    slow: float = 0.0
    failing: bool = False
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    seen_authorize: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_account(self, account_id: str, handle: str, name: str) -> None:
        self.accounts[account_id] = (handle, name)
        self.consenting = account_id

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def issue(self, account_id: str) -> dict[str, object]:
        """Tokens as if the owner consented earlier (for refresher tests)."""
        with self._lock:
            return self._tokens(account_id, lifetime=LONG_LIFETIME)

    # ---- the endpoints -------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oauth/authorize":
            return self._authorize(request)
        if path == "/oauth/token":
            self.calls["token"] += 1
            if self.slow:
                time.sleep(self.slow)  # outside the lock: two callers really overlap
            with self._lock:
                return self._token(request)
        if path == "/oauth/long_lived":
            self.calls["long_lived"] += 1
            with self._lock:
                return self._long_lived(request)
        if path == "/me":
            self.calls["me"] += 1
            with self._lock:
                return self._me(request)
        return httpx.Response(404, json={"error": "not_found"})

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params.items())
        self.seen_authorize.append(query)
        if query.get("client_key") != self.client_key:
            return httpx.Response(400, text="unknown client")
        if query.get("redirect_uri") != self.redirect_uri:
            return httpx.Response(400, text="redirect_uri not registered")
        back = {"state": query.get("state", "")}
        if self.deny or self.consenting is None:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = Grant(self.consenting, self.now() + CODE_LIFETIME)
            back["code"] = code
        return httpx.Response(302, headers={"location": f"{self.redirect_uri}?{urlencode(back)}"})

    def _token(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(500, json={"error": "server_error"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if (form.get("client_key"), form.get("client_secret")) != (
            self.client_key,
            self.client_secret,
        ):
            return httpx.Response(401, json={"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            grant = self._spend(self.codes, form.get("code", ""))
            if grant is None or form.get("redirect_uri") != self.redirect_uri:
                return _invalid_grant()
            return httpx.Response(200, json=self._tokens(grant.account, lifetime=SHORT_LIFETIME))
        if form.get("grant_type") == "refresh_token":
            grant = self._spend(self.refresh_tokens, form.get("refresh_token", ""))
            if grant is None:
                return _invalid_grant()
            return httpx.Response(200, json=self._tokens(grant.account, lifetime=LONG_LIFETIME))
        return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def _long_lived(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params.items())
        if params.get("client_secret") != self.client_secret:
            return httpx.Response(401, json={"error": "invalid_client"})
        grant = self.access_tokens.get(params.get("access_token", ""))
        if grant is None or grant.expires_at is None or grant.expires_at <= self.now():
            return _invalid_grant()
        access = secrets.token_urlsafe(24)
        self.access_tokens[access] = Grant(grant.account, self.now() + LONG_LIFETIME)
        seconds = int(LONG_LIFETIME.total_seconds())
        return httpx.Response(200, json={"access_token": access, "expires_in": seconds})

    def _me(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        grant = self.access_tokens.get(token)
        if grant is None or grant.expires_at is None or grant.expires_at <= self.now():
            return httpx.Response(401, json={"error": "invalid_token"})
        handle, name = self.accounts[grant.account]
        return httpx.Response(200, json={"id": grant.account, "handle": handle, "name": name})

    # ---- helpers (under the lock) --------------------------------------------------------

    def _spend(self, table: dict[str, Grant], token: str) -> Grant | None:
        grant = table.get(token)
        if grant is None or grant.used:
            return None
        grant.used = True  # single use: a refused attempt burns it too
        if grant.expires_at is not None and grant.expires_at <= self.now():
            return None
        return grant

    def _tokens(self, account: str, *, lifetime: timedelta) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens[access] = Grant(account, self.now() + lifetime)
        self.refresh_tokens[refresh] = Grant(account, self.now() + REFRESH_LIFETIME)
        return {
            "access_token": access,
            "expires_in": int(lifetime.total_seconds()),
            "refresh_token": refresh,
            "refresh_expires_in": int(REFRESH_LIFETIME.total_seconds()),
            "scope": ",".join(SCOPES),
        }


def _invalid_grant() -> httpx.Response:
    return httpx.Response(400, json={"error": "invalid_grant"})


# ---- the platform's consent part (what a real platform would put in platforms/<name>/) ---


class TinyClient:
    def __init__(self, client_key: str, secret: str, transport: httpx.BaseTransport | None):
        self._key, self._secret = client_key, secret
        self._http = httpx.Client(base_url=ORIGIN, transport=transport, timeout=8.0)

    def close(self) -> None:
        self._http.close()

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        assert verifier is None, "the tiny provider has no PKCE"
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token(form, now)

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        params = {"access_token": tokens.access_token, "client_secret": self._secret}
        body = self._answer(self._http.get("/oauth/long_lived", params=params))
        long = token_set(body, now, code="tiny_malformed")
        return TokenSet(
            access_token=long.access_token,
            refresh_token=tokens.refresh_token,  # the long-lived step keeps the refresh token
            expires_at=long.expires_at,
            scope=tokens.scope,
            refresh_expires_at=tokens.refresh_expires_at,
        )

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        assert tokens.refresh_token is not None
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}, now
        )

    def identify(self, access_token: str) -> Account:
        response = self._http.get("/me", headers={"Authorization": f"Bearer {access_token}"})
        body = self._answer(response)
        return Account(str(body["id"]), str(body["handle"]), str(body["name"]))

    def _token(self, form: dict[str, str], now: datetime) -> TokenSet:
        form = {**form, "client_key": self._key, "client_secret": self._secret}
        return token_set(self._answer(self._http.post("/oauth/token", data=form)), now)

    @staticmethod
    def _answer(response: httpx.Response) -> dict[str, object]:
        body = response.json()
        assert isinstance(body, dict)
        if response.status_code == 200:
            return body
        if response.status_code == 400 and body.get("error") == "invalid_grant":
            raise TokenRefused("the tiny provider refused the grant", code="tiny_token_refused")
        if response.status_code == 401 and body.get("error") == "invalid_client":
            raise ClientRejected("the tiny provider refused the client", code="tiny_oauth_client")
        if response.status_code >= 500:
            raise TransientError("the tiny provider is down", code="tiny_server_error")
        raise PlatformError(f"the tiny provider answered {response.status_code}", code="tiny_http")


def tiny_consent(client_key: str, secret: str) -> OwnerConsent:
    """The tiny provider's consent for an app (empty values: not configured)."""

    def open_client(_settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
        return TinyClient(client_key, secret, transport)

    return OwnerConsent(
        platform=PLATFORM,
        slug=SLUG,
        kind="tiny_oauth2",
        authorize_endpoint=lambda _settings: ORIGIN + "/oauth/authorize",
        client_id=lambda _settings: client_key,
        open=open_client,
        scopes=SCOPES,
        app_settings=lambda _settings: {
            "OPENPOST_TINY_CLIENT_ID": client_key,
            "OPENPOST_TINY_CLIENT_SECRET": secret,
        },
        pkce=False,
        scope_separator=",",
        client_id_param="client_key",
        extra_params=(("display", "page"),),
        refresh_margin=timedelta(days=1),
        access_lifetime=LONG_LIFETIME,
        adds="its posts are read with the owner's token",
    )


def redirect_target(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """Where a 302 from the provider's consent page sends the browser, and its query."""
    location = response.headers["location"]
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {
        k: v[0] for k, v in parse_qs(parts.query).items()
    }
