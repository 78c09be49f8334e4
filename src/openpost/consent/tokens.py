"""Account owners' tokens: what is sealed for a connection, and renewing it in time.

An owner's connection is stored sealed on its integration (``credentials_encrypted``) as
``{"kind", "integration_id", "access_token", "refresh_token", "expires_at", "scope"}``
(plus ``refresh_expires_at`` where the platform gives one). ``kind`` names the platform's
consent (``x_oauth2`` for X); the integration id binds the credentials to their row: the
refresher writes back to that row only.

Renewing (``OwnerTokens``, the ``UserTokenSource`` a platform client asks before each read
with an owner's token):

- credentials expiring within the platform's ``refresh_margin`` (five minutes unless it
  says otherwise), or rejected by the platform (``force``, after a 401), are renewed;
  anything else is returned as it is, without touching the database;
- refresh tokens may rotate (the old one dies with the refresh: X, TikTok, Pinterest), so
  two workers renewing at once must not both spend it: the integration's row is locked for
  the renewal (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite a no-op ``UPDATE …
  RETURNING`` takes the database's write lock first), the stored credentials are read again
  under that lock, and if another worker already renewed them (the access token changed)
  those are used instead. The new credentials are written with a compare-and-swap on the
  sealed text as well, and threads of one process also queue on an in-process lock so they
  do not wait on the database;
- a refused renewal (``TokenRefused``) is a ``PermissionRequired``: collection records
  ``permission_required`` and the integration becomes ``needs_refresh``. The old
  credentials stay; a new consent replaces them.

The token call runs while the row is locked; platform consent clients keep its timeout
(X: 8 s) under SQLite's busy timeout (10 s), so a writer waiting on the lock waits rather
than failing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.consent import providers
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import transaction
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.base import PermissionRequired, PlatformError
from openpost.platforms.consent import REFRESH_MARGIN, OwnerConsent, TokenRefused, TokenSet


def owner_credentials(consent: OwnerConsent, tokens: TokenSet) -> dict[str, Any]:
    """What is sealed for an owner's connection (the integration id is added on storing)."""
    credentials: dict[str, Any] = {
        "kind": consent.kind,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": format_time(tokens.expires_at),
        "scope": tokens.scope,
    }
    if tokens.refresh_expires_at is not None:
        credentials["refresh_expires_at"] = format_time(tokens.refresh_expires_at)
    return credentials


def stored_tokens(credentials: Mapping[str, Any]) -> TokenSet:
    """The sealed credentials as the platform's client takes them back."""
    refresh = credentials.get("refresh_token")
    scope = credentials.get("scope")
    return TokenSet(
        access_token=str(credentials.get("access_token") or ""),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=_time(credentials.get("expires_at")),
        scope=scope if isinstance(scope, str) else "",
        refresh_expires_at=_time(credentials.get("refresh_expires_at")),
    )


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def expires_soon(
    credentials: Mapping[str, Any], now: datetime, margin: timedelta = REFRESH_MARGIN
) -> bool:
    """Whether the access token expires within the margin (unknown expiry: no)."""
    raw = credentials.get("expires_at")
    if not isinstance(raw, str):
        return False
    try:
        expires = datetime.fromisoformat(raw)
    except ValueError:
        return True  # unreadable: renew rather than read with a token that may be dead
    return expires - now <= margin


class OwnerTokens:
    """The ``UserTokenSource`` of every platform with owner consent: see the module docs.

    ``consents`` default to every platform's (``providers.all_consents``); ``transports``
    replace the network per stored platform code (a fake's, in tests).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        consents: Iterable[OwnerConsent] | None = None,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        chosen = providers.all_consents().values() if consents is None else consents
        self._by_kind = {consent.kind: consent for consent in chosen}
        self._transports = dict(transports or {})
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        consent = self._by_kind.get(str(credentials.get("kind")))
        integration = credentials.get("integration_id")
        if consent is None or not isinstance(integration, str):
            return credentials  # not an owner connection this source renews
        if consent.uses_refresh_token and not credentials.get("refresh_token"):
            return credentials  # nothing to renew with: used until the platform refuses it
        if not force and not expires_soon(credentials, clock.now(), consent.refresh_margin):
            return credentials
        try:
            integration_id = uuid.UUID(integration)
        except ValueError:
            return credentials
        with self._guard:
            lock = self._locks.setdefault(integration, threading.Lock())
        with lock:
            return self._renew(consent, integration_id, credentials, force=force)

    def _renew(
        self,
        consent: OwnerConsent,
        integration_id: uuid.UUID,
        seen: dict[str, Any],
        *,
        force: bool,
    ) -> dict[str, Any]:
        sealer = Sealer.from_settings(self._settings)
        prefix = consent.slug
        with transaction(self._factory) as session:
            locked = _locked_credentials(session, integration_id)
            if locked is None or locked[0] is None or locked[1] != consent.platform:
                raise PermissionRequired(
                    "the owner's connection was removed; reconnect the account",
                    code=f"{prefix}_user_token_missing",
                )
            sealed = locked[0]
            try:
                current = sealer.open(sealed)
            except CredentialsUnreadable:
                raise PermissionRequired(
                    "the stored credentials cannot be read; reconnect the account",
                    code="credentials_unreadable",
                ) from None
            now = clock.now()
            if current.get("access_token") != seen.get("access_token"):
                return current  # renewed (or reconnected) by someone else meanwhile
            if not force and not expires_soon(current, now, consent.refresh_margin):
                return current
            stored = stored_tokens(current)
            if consent.uses_refresh_token and stored.refresh_token is None:
                raise TokenRefused(
                    "the owner's connection has no refresh token; reconnect the account",
                    code=f"{prefix}_token_refused",
                )
            transport = self._transports.get(consent.platform)
            with closing(consent.open(self._settings, transport)) as client:
                tokens = client.renew(stored, now=now)
            renewed = {
                **current,
                **owner_credentials(consent, tokens),
                "refresh_token": tokens.refresh_token or stored.refresh_token,
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
                    "the owner's credentials changed during a refresh",
                    code=f"{prefix}_refresh_conflict",
                )
        return renewed


def _locked_credentials(
    session: Session, integration_id: uuid.UUID
) -> tuple[str | None, str] | None:
    """The sealed credentials and platform, with the integration's row locked until the
    commit (``None``: no such row)."""
    columns = (Integration.credentials_encrypted, Integration.platform)
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = select(*columns).where(Integration.id == integration_id).with_for_update()
    else:
        statement = (
            update(Integration)
            .where(Integration.id == integration_id)
            .values(credentials_encrypted=Integration.credentials_encrypted)
            .returning(*columns)
            .execution_options(synchronize_session=False)
        )
    row = session.execute(statement).first()
    return None if row is None else (row[0], row[1])
