"""Threads' OAuth endpoints for an account owner's consent: code exchange, the long-lived
token, its renewal, and who the token belongs to.

Facts (``reference/gated-platforms.md`` §1, §2.1; Meta's Threads "Get started" and
"Long-lived tokens" docs):

- The owner consents at ``https://threads.net/oauth/authorize`` (``client_id`` = the
  **Threads** app id, ``redirect_uri``, ``scope=threads_basic,threads_manage_insights``
  comma-separated, ``response_type=code``, ``state``). No PKCE: a confidential client.
- ``POST https://graph.threads.net/oauth/access_token`` (form: ``client_id``,
  ``client_secret``, ``code``, ``grant_type=authorization_code``, ``redirect_uri``) gives a
  one-hour token and ``user_id`` (a large JSON number: read as a string, never a float).
- ``GET /access_token?grant_type=th_exchange_token&client_secret=&access_token=`` swaps it
  for a long-lived one (``expires_in`` about 60 days).
- ``GET /refresh_access_token?grant_type=th_refresh_token&access_token=`` renews a
  long-lived token that is at least 24 hours old and not expired, for 60 days from then.
  There is no refresh token: the access token renews itself, so a token left to expire is
  dead (only a new consent helps). Renewal starts ``REFRESH_MARGIN`` (30 days) before expiry.
- ``GET /v1.0/me?fields=id,username,name`` names the account.
- Errors are Graph JSON (``platforms.meta.graph``): 190 refused token → ``TokenRefused``;
  on the token endpoint code 100 (a used, expired or unknown code) → ``TokenRefused``, 101
  (the app id or secret) → ``ClientRejected``.
- Before App Review only Threads testers may consent. Threads refuses others with error
  1349245 ("the user has not accepted the invite to test the app") and a Facebook app id
  given as the Threads app id with 1349026; when the consent window sends them back to the
  callback (``error_code``/``error_message`` in the query, as Meta's dialogs do) the
  integrations page says what to do (``refusal``, ``ANSWERS``).

App credentials: ``OPENPOST_THREADS_CLIENT_ID`` / ``…_SECRET``; when the Threads id is empty,
the Meta app's pair ``OPENPOST_META_APP_ID`` / ``…_SECRET`` (SPEC §9.1). The pair is taken
together: a Threads id never goes with the Meta app's secret.

Nothing here puts a token, code or secret into a message or a log line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from openpost.core import clock
from openpost.platforms.base import Account, MalformedResponse, TransientError
from openpost.platforms.consent import (
    ClientRejected,
    ConsentClient,
    OwnerConsent,
    TokenRefused,
    TokenSet,
    token_set,
)
from openpost.platforms.http import make_client, send
from openpost.platforms.meta.graph import classify, graph_error

if TYPE_CHECKING:
    from openpost.config import Settings

PLATFORM = "threads"
SCOPES = ("threads_basic", "threads_manage_insights")
TOKEN_PATH = "/oauth/access_token"  # noqa: S105 - a path, not a secret
LONG_LIVED_PATH = "/access_token"
REFRESH_PATH = "/refresh_access_token"
ME_PATH = "/v1.0/me"
SHORT_LIFETIME = timedelta(hours=1)
LONG_LIFETIME = timedelta(days=60)
MIN_AGE_TO_REFRESH = timedelta(hours=24)
REFRESH_MARGIN = timedelta(days=30)
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=4.0)  # under SQLite's busy timeout (10 s)
CODE_REFUSED = 100  # Graph code for a used, expired or unknown authorization code
CLIENT_REFUSED = frozenset({101})  # "Error validating application" (id or secret)
NOT_TESTER, FACEBOOK_APP_ID = "1349245", "1349026"

_ID = re.compile(r"^[0-9]{1,24}$")


def app_credentials(settings: Settings) -> dict[str, str]:
    """The app id and secret Threads is called with, under their setting names: the Threads
    pair when its id is set, else the Meta app's (SPEC §9.1)."""
    if settings.threads_client_id or not settings.meta_app_id:
        return {
            "OPENPOST_THREADS_CLIENT_ID": settings.threads_client_id,
            "OPENPOST_THREADS_CLIENT_SECRET": settings.threads_client_secret,
        }
    return {
        "OPENPOST_META_APP_ID": settings.meta_app_id,
        "OPENPOST_META_APP_SECRET": settings.meta_app_secret,
    }


def client_pair(settings: Settings) -> tuple[str, str]:
    client_id, secret = app_credentials(settings).values()
    return client_id, secret


class ThreadsOAuth:
    """Threads' token endpoints and ``/me`` for one app (its id and secret)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TOKEN_TIMEOUT,
    ) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self._http = make_client(base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ThreadsOAuth:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the secret
        return f"ThreadsOAuth(base_url={str(self._http.base_url)!r})"

    # ---- ConsentClient -----------------------------------------------------------------

    def exchange_code(
        self, code: str, *, verifier: str | None, redirect_uri: str, now: datetime
    ) -> TokenSet:
        """The one-hour token for the code (Threads has no PKCE: ``verifier`` is unused)."""
        del verifier
        self._require_client()
        form = {
            "client_id": self._client_id,
            "client_secret": self._secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        response = send(self._http, "POST", TOKEN_PATH, platform=PLATFORM, data=form)
        body = self._answer(response, what="the authorization code")
        if not isinstance(body.get("user_id"), str) or not _ID.match(body["user_id"]):
            raise _malformed("Threads' token answer has no user id")
        return token_set(body, now, default_lifetime=SHORT_LIFETIME, code="threads_malformed")

    def long_lived(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """The sixty-day token for the one-hour one."""
        self._require_client()
        params = {
            "grant_type": "th_exchange_token",
            "client_secret": self._secret,
            "access_token": tokens.access_token,
        }
        response = send(self._http, "GET", LONG_LIVED_PATH, platform=PLATFORM, params=params)
        body = self._answer(response, what="the short-lived token")
        long = token_set(body, now, default_lifetime=LONG_LIFETIME, code="threads_malformed")
        return TokenSet(long.access_token, None, long.expires_at, tokens.scope or ",".join(SCOPES))

    def renew(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """A new sixty-day token for the stored one. A token under 24 hours old cannot be
        renewed yet (Threads refuses): it is kept as it is, without a call."""
        if not tokens.access_token:
            raise TokenRefused(
                "the Threads connection has no token; reconnect the account",
                code="threads_token_refused",
            )
        if tokens.expires_at is not None and tokens.expires_at <= now:
            raise TokenRefused(
                "the Threads token expired before it was renewed; reconnect the account",
                code="threads_token_expired",
            )
        issued = tokens.expires_at - LONG_LIFETIME if tokens.expires_at is not None else None
        if issued is not None and now - issued < MIN_AGE_TO_REFRESH:
            return tokens
        params = {"grant_type": "th_refresh_token", "access_token": tokens.access_token}
        response = send(self._http, "GET", REFRESH_PATH, platform=PLATFORM, params=params)
        body = self._answer(response, what="the token")
        fresh = token_set(body, now, default_lifetime=LONG_LIFETIME, code="threads_malformed")
        return TokenSet(fresh.access_token, None, fresh.expires_at, tokens.scope)

    def identify(self, access_token: str) -> Account:
        """The account the token belongs to (``/v1.0/me``)."""
        params = {"fields": "id,username,name"}
        headers = {"Authorization": f"Bearer {access_token}"}
        response = send(
            self._http, "GET", ME_PATH, platform=PLATFORM, params=params, headers=headers
        )
        error = classify(response, platform=PLATFORM, now=clock.now(), what="reading the account")
        if error is not None:
            raise error
        body = _json(response)
        user_id, username, name = body.get("id"), body.get("username"), body.get("name")
        if not (isinstance(user_id, str) and _ID.match(user_id) and isinstance(username, str)):
            raise _malformed("Threads' /me answer lacks the id or username")
        return Account(user_id, username, name if isinstance(name, str) and name else username)

    # ---- answers -------------------------------------------------------------------------

    def _require_client(self) -> None:
        if not (self._client_id and self._secret):
            raise ClientRejected(
                "no Threads app is configured (OPENPOST_THREADS_CLIENT_ID and "
                "OPENPOST_THREADS_CLIENT_SECRET, or OPENPOST_META_APP_ID and …_SECRET)",
                code="threads_oauth_not_configured",
            )

    def _answer(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        if response.status_code == 200:
            return _json(response)
        error = graph_error(response) or {}
        code = error.get("code")
        if code in CLIENT_REFUSED:
            raise ClientRejected(
                "Threads rejected this server's app id or secret", code="threads_oauth_client"
            )
        if code == CODE_REFUSED:
            raise TokenRefused(
                f"Threads refused {what} (used, expired or unknown); the owner has to connect "
                "the account again",
                code="threads_token_refused",
            )
        classified = classify(response, platform=PLATFORM, now=clock.now(), what=f"using {what}")
        if classified is not None:
            raise classified
        raise TransientError(f"Threads answered HTTP {response.status_code}", code="threads_error")


def _json(response: httpx.Response) -> dict[str, Any]:
    """The body as an object, big integers kept as their digits (``user_id``)."""
    try:
        body = json.loads(response.content, parse_int=str)
    except ValueError:
        raise _malformed("Threads answered with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise _malformed("Threads answered with JSON that is not an object")
    # Lifetimes are numbers: give them back as ints.
    for key in ("expires_in",):
        value = body.get(key)
        if isinstance(value, str) and value.isdigit():
            body[key] = int(value)
    return body


def _malformed(message: str) -> MalformedResponse:
    return MalformedResponse(message, code="threads_malformed")


# ---- Threads' part of the owner-consent flow -------------------------------------------


def _open(settings: Settings, transport: httpx.BaseTransport | None) -> ConsentClient:
    client_id, secret = client_pair(settings)
    return ThreadsOAuth(
        client_id=client_id,
        client_secret=secret,
        base_url=settings.threads_api_base_url,
        transport=transport,
    )


def refusal(query: Mapping[str, str]) -> str | None:
    """The Threads refusal the callback's query names (``error_code``), if any."""
    code = query.get("error_code", "")
    if code == NOT_TESTER:
        return "not_tester"
    if code == FACEBOOK_APP_ID:
        return "facebook_app_id"
    if code and "code" not in query:
        return "error"
    return None


ANSWERS = (
    (
        "not_tester",
        "{label} refused the consent: that {label} account has not accepted the app's "
        "tester invitation (Threads error 1349245). Until the operator's app passes Meta's App "
        "Review, only {label} testers can connect: an operator adds the account as a Threads "
        "Tester (Meta app dashboard, App roles), its owner accepts the invitation in {label} "
        "(Settings, Account, Website permissions, Invites), then start again.",
    ),
    (
        "facebook_app_id",
        "{label} refused this server's app id: it is the Facebook app id, not the {label} app "
        "id (Threads error 1349026). An operator has to set OPENPOST_THREADS_CLIENT_ID and "
        "OPENPOST_THREADS_CLIENT_SECRET to the Threads app id and secret (Meta app dashboard, "
        "Use cases, Threads API, Settings); trying again will not help until then.",
    ),
)


def _client_id(settings: Settings) -> str:
    return client_pair(settings)[0]


def _authorize_endpoint(settings: Settings) -> str:
    return settings.threads_oauth_authorize_url


CONSENT = OwnerConsent(
    platform=PLATFORM,
    slug=PLATFORM,
    kind="threads_oauth2",
    authorize_endpoint=_authorize_endpoint,
    client_id=_client_id,
    open=_open,
    scopes=SCOPES,
    app_settings=app_credentials,
    pkce=False,
    scope_separator=",",
    uses_refresh_token=False,  # the long-lived access token renews itself
    refresh_margin=REFRESH_MARGIN,
    access_lifetime=LONG_LIFETIME,
    adds="its posts' views, likes, replies, reposts and quotes are collected",
    refusal=refusal,
    answers=ANSWERS,
)


def configured(settings: Settings) -> bool:
    """Whether owners can connect Threads accounts: the app's id and secret, and the
    server's public address (the callback)."""
    client_id, secret = client_pair(settings)
    return bool(client_id and secret and settings.public_base_url)
