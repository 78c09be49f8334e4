"""Account owners' X tokens: the consent exchange, and refreshing before they expire.

An owner's connection is stored sealed on its integration (``credentials_encrypted``) as
``{"kind": "x_oauth2", "integration_id", "access_token", "refresh_token", "expires_at",
"scope"}``. The integration id inside binds the credentials to their row: the refresher
writes back to that row only.

Refreshing (``UserTokens``, the ``UserTokenSource`` the X client asks before each read):

- credentials expiring within ``REFRESH_MARGIN`` (or rejected by X: ``force``) are
  refreshed; anything else is returned as it is, without touching the database;
- X rotates refresh tokens (the old one dies with the refresh), so two workers refreshing at
  once must not both spend it: the integration's row is locked for the refresh (``SELECT …
  FOR UPDATE`` on PostgreSQL; on SQLite a no-op ``UPDATE … RETURNING`` takes the database's
  write lock first), the stored credentials are read again under that lock, and if another
  worker already refreshed them (the access token changed) those are used instead. The new
  credentials are written with a compare-and-swap on the sealed text as well, and threads of
  one process also queue on an in-process lock so they do not wait on the database;
- a refused refresh (``TokenRefused``) is a ``PermissionRequired``: collection records
  ``permission_required`` and the integration becomes ``needs_refresh``. The old credentials
  stay; a new consent replaces them.

The token call runs while the row is locked; its timeout (8 s) stays under SQLite's busy
timeout (10 s), so a writer waiting on the lock waits rather than failing.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import transaction
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.base import PermissionRequired, PlatformError
from openpost.platforms.x_oauth import SCOPES, TokenRefused, TokenSet, XOAuth

KIND = "x_oauth2"
REFRESH_MARGIN = timedelta(minutes=5)


def owner_credentials(tokens: TokenSet) -> dict[str, Any]:
    """What is sealed for an owner's connection (the integration id is added on storing)."""
    return {
        "kind": KIND,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": format_time(tokens.expires_at),
        "scope": tokens.scope,
    }


def expires_soon(credentials: dict[str, Any], now: datetime) -> bool:
    """Whether the access token expires within the margin (unknown expiry: no)."""
    raw = credentials.get("expires_at")
    if not isinstance(raw, str):
        return False
    try:
        expires = datetime.fromisoformat(raw)
    except ValueError:
        return True  # unreadable: refresh rather than read with a token that may be dead
    return expires - now <= REFRESH_MARGIN


def authorize_scopes() -> str:
    return " ".join(SCOPES)


# ---- the consent exchange (the dashboard's callback) ----------------------------------------


class ConsentFailed(Exception):
    """The code could not be turned into a connection; ``operator`` says only the operator
    can fix it (X rejected the server's client), else the owner may simply try again."""

    def __init__(self, message: str, *, code: str, operator: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.operator = operator


@dataclass(frozen=True, slots=True)
class OwnerConnection:
    external_account_id: str
    username: str
    display_name: str
    credentials: dict[str, Any]  # sealed by the caller, never shown


def exchange(
    settings: Settings,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> OwnerConnection:
    """Exchange the consent's code (PKCE) and read which account the token belongs to."""
    try:
        with _oauth(settings, transport) as oauth:
            tokens = oauth.exchange_code(
                code, verifier=verifier, redirect_uri=redirect_uri, now=now
            )
            account = oauth.me(tokens.access_token)
    except TokenRefused:
        raise ConsentFailed(
            "X did not accept the consent (it expired or was already used). Try connecting again.",
            code="x_code_refused",
        ) from None
    except PlatformError as exc:
        operator = exc.code in ("x_oauth_client", "x_oauth_not_configured")
        raise ConsentFailed(exc.message, code=exc.code, operator=operator) from None
    if tokens.refresh_token is None:
        raise ConsentFailed(
            "X gave no refresh token (the offline.access scope was not granted), so the "
            "connection would stop after two hours. Try connecting again.",
            code="x_no_refresh_token",
        )
    return OwnerConnection(
        external_account_id=account.external_account_id,
        username=account.username,
        display_name=account.display_name,
        credentials=owner_credentials(tokens),
    )


def _oauth(settings: Settings, transport: httpx.BaseTransport | None) -> XOAuth:
    return XOAuth(
        client_id=settings.x_client_id,
        client_secret=settings.x_client_secret,
        base_url=settings.x_api_base_url,
        transport=transport,
    )


# ---- refreshing --------------------------------------------------------------------------


class UserTokens:
    """The X client's ``UserTokenSource``: see the module docs."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._transport = transport
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        integration = credentials.get("integration_id")
        if not isinstance(integration, str) or not credentials.get("refresh_token"):
            return credentials  # not a refreshable owner connection
        if not force and not expires_soon(credentials, clock.now()):
            return credentials
        try:
            integration_id = uuid.UUID(integration)
        except ValueError:
            return credentials
        with self._guard:
            lock = self._locks.setdefault(integration, threading.Lock())
        with lock:
            return self._refresh(integration_id, credentials, force=force)

    def _refresh(
        self, integration_id: uuid.UUID, seen: dict[str, Any], *, force: bool
    ) -> dict[str, Any]:
        sealer = Sealer.from_settings(self._settings)
        with transaction(self._factory) as session:
            sealed = _locked_credentials(session, integration_id)
            if sealed is None:
                raise PermissionRequired(
                    "the X connection was removed; reconnect the account",
                    code="x_user_token_missing",
                )
            try:
                current = sealer.open(sealed)
            except CredentialsUnreadable:
                raise PermissionRequired(
                    "the stored credentials cannot be read; reconnect the account",
                    code="credentials_unreadable",
                ) from None
            now = clock.now()
            if current.get("access_token") != seen.get("access_token"):
                return current  # refreshed (or reconnected) by someone else meanwhile
            if not force and not expires_soon(current, now):
                return current
            refresh_token = current.get("refresh_token")
            if not isinstance(refresh_token, str) or not refresh_token:
                raise TokenRefused(
                    "the X connection has no refresh token; reconnect the account",
                    code="x_token_refused",
                )
            with _oauth(self._settings, self._transport) as oauth:
                tokens = oauth.refresh(refresh_token, now=now)
            renewed = {
                **current,
                **owner_credentials(tokens),
                "refresh_token": tokens.refresh_token or refresh_token,
            }
            swapped: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(Integration)
                .where(
                    Integration.id == integration_id,
                    Integration.credentials_encrypted == sealed,
                )
                .values(credentials_encrypted=sealer.seal(renewed))
                .execution_options(synchronize_session=False)
            )
            if swapped.rowcount != 1:  # cannot happen under the lock; never lose a token
                raise PlatformError(
                    "the X credentials changed during a refresh", code="x_refresh_conflict"
                )
        return renewed


def _locked_credentials(session: Session, integration_id: uuid.UUID) -> str | None:
    """The sealed credentials, with the integration's row locked until the commit."""
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = (
            select(Integration.credentials_encrypted)
            .where(Integration.id == integration_id)
            .with_for_update()
        )
    else:
        statement = (
            update(Integration)
            .where(Integration.id == integration_id)
            .values(credentials_encrypted=Integration.credentials_encrypted)
            .returning(Integration.credentials_encrypted)
            .execution_options(synchronize_session=False)
        )
    value: str | None = session.execute(statement).scalar_one_or_none()
    return value
