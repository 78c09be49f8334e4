"""Connecting an X account with its owner's consent (OAuth 2.0 authorization code + PKCE).

``start`` (the "Connect X with the owner's consent" form, a CSRF-checked POST by an owner or
admin of a live workspace) makes a PKCE verifier and its S256 challenge and an unguessable
``state``, stores the attempt (``OAuthAttempt``: the state's SHA-256, the sealed verifier,
the dashboard login and workspace, a ten-minute expiry) and sends the browser to X's
consent page with the scopes ``tweet.read users.read offline.access``.

``finish`` (X's redirect back to ``<public_base_url>/integrations/x/callback``) accepts the
attempt only from the same login, in the same workspace, before it expires, and once: the
attempt is deleted whatever happens next, and only the request whose delete removed it may
store anything. Then the code is exchanged with the verifier (``refresh.user_tokens``), the
account read with ``/2/users/me``, and the integration created or given the token
(``integrations.service.connect_owner``). Every failure is a ``ConsentError`` with a fixed
code; the integrations page turns the code into a sentence (``MESSAGES``), so nothing from
the query string or from X is echoed, and no token, code or verifier is ever logged or shown.

The code exchange and the account lookup run before the attempt is deleted, so that on
SQLite the request does not hold the database's write lock while X answers.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.errors import BadRequest
from openpost.dashboard.models import OAuthAttempt
from openpost.dashboard.sessions import Viewer, hash_token
from openpost.dashboard.web import policy_with_form_target
from openpost.integrations.models import Platform
from openpost.integrations.service import ConnectResult, connect_owner
from openpost.refresh import user_tokens
from openpost.workspaces.models import WorkspaceMode

CALLBACK_PATH = "/integrations/x/callback"
ATTEMPT_LIFETIME = timedelta(minutes=10)
VERIFIER_BYTES = 64  # 86 URL-safe characters: within PKCE's 43 to 128

MESSAGES = {
    "denied": "The X account owner did not give consent, so nothing was connected.",
    "state_unknown": "That X consent does not belong to this login, or was already used. "
    "Start again with “Connect X with the owner's consent”.",
    "state_expired": "That X consent took too long (attempts last ten minutes). Start again.",
    "state_workspace": "You switched workspace while X asked for consent. Start again from "
    "the workspace the account should join.",
    "x_error": "X could not ask for consent (it answered with an error). Start again.",
    "no_code": "X sent the browser back without a consent code. Start again.",
    "x_code_refused": "X did not accept the consent (it expired or was already used). Start again.",
    "x_no_refresh_token": "X granted no refresh token (offline access), so the connection "
    "would stop after two hours. Start again and allow offline access.",
    "x_oauth_client": "X rejected this server's OAuth client id or secret. An operator has to "
    "fix OPENPOST_X_CLIENT_ID / OPENPOST_X_CLIENT_SECRET; trying again will not help until then.",
    "x_unavailable": "X could not complete the connection right now. Try again in a few minutes.",
}


class ConsentError(Exception):
    """The consent round trip failed; ``code`` is a key of ``MESSAGES``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code if code in MESSAGES else "x_unavailable"

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


def message(code: str | None) -> str | None:
    """The sentence for an error code from the page's query string (unknown: none)."""
    return MESSAGES.get(code) if code else None


# ---- PKCE and state ----------------------------------------------------------------------


def new_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def challenge(verifier: str) -> str:
    """The S256 code challenge: unpadded base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    return secrets.token_urlsafe(32)


# ---- what the page offers ----------------------------------------------------------------


def callback_url(settings: Settings) -> str:
    return settings.public_base_url + CALLBACK_PATH


def missing_settings(settings: Settings) -> list[str]:
    """The settings an operator still has to set before the flow is offered."""
    wanted = {
        "OPENPOST_X_CLIENT_ID": settings.x_client_id,
        "OPENPOST_X_CLIENT_SECRET": settings.x_client_secret,
        "OPENPOST_PUBLIC_BASE_URL": settings.public_base_url,
    }
    return [name for name, value in wanted.items() if not value]


def authorize_origin(settings: Settings) -> str | None:
    """Where the consent form's redirect goes (the page's CSP must allow it as a form
    target), or ``None`` when the flow is not configured."""
    if missing_settings(settings):
        return None
    parts = urlsplit(settings.x_oauth_authorize_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def page_headers(settings: Settings) -> dict[str, str]:
    """Headers of a page that shows the consent form (its CSP lets the form reach X)."""
    origin = authorize_origin(settings)
    return {"Content-Security-Policy": policy_with_form_target(origin)} if origin else {}


def offer(settings: Settings, viewer: Viewer) -> dict[str, object]:
    """What the integrations page shows about the consent flow."""
    return {
        "shown": viewer.can_manage and viewer.mode == WorkspaceMode.live,
        "missing": missing_settings(settings),
        "callback": callback_url(settings) if settings.public_base_url else None,
    }


# ---- the round trip ----------------------------------------------------------------------


def start(session: Session, settings: Settings, viewer: Viewer, *, now: datetime) -> str:
    """Store a new attempt for this login and return X's consent URL to send it to."""
    if viewer.mode != WorkspaceMode.live:
        raise BadRequest("Test workspaces connect synthetic accounts; consent is for live ones.")
    missing = missing_settings(settings)
    if missing:
        raise BadRequest(f"Connecting X with consent is not set up: set {', '.join(missing)}.")
    session.execute(delete(OAuthAttempt).where(OAuthAttempt.expires_at <= now))
    state, verifier = new_state(), new_verifier()
    session.add(
        OAuthAttempt(
            state_hash=hash_token(state),
            session_id=viewer.session_id,
            workspace_id=viewer.workspace_id,
            platform=Platform.twitter.value,
            verifier_sealed=Sealer.from_settings(settings).seal({"verifier": verifier}),
            created_at=now,
            expires_at=now + ATTEMPT_LIFETIME,
        )
    )
    session.flush()
    query = {
        "response_type": "code",
        "client_id": settings.x_client_id,
        "redirect_uri": callback_url(settings),
        "scope": user_tokens.authorize_scopes(),
        "state": state,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    return f"{settings.x_oauth_authorize_url}?{urlencode(query)}"


def finish(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    params: Mapping[str, str],
    *,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> ConnectResult:
    """Complete the attempt named by ``state`` (see the module docs)."""
    state = params.get("state", "")
    if not state or len(state) > 200:
        raise ConsentError("state_unknown")
    attempt = session.execute(
        select(
            OAuthAttempt.id,
            OAuthAttempt.workspace_id,
            OAuthAttempt.verifier_sealed,
            OAuthAttempt.expires_at,
        ).where(
            OAuthAttempt.state_hash == hash_token(state),
            OAuthAttempt.session_id == viewer.session_id,
        )
    ).first()
    if attempt is None:
        raise ConsentError("state_unknown")
    try:
        if attempt.expires_at <= now:
            raise ConsentError("state_expired")
        if attempt.workspace_id != viewer.workspace_id:
            raise ConsentError("state_workspace")
        connection = _exchange(settings, params, attempt.verifier_sealed, now, transport)
    except ConsentError:
        _consume(session, attempt.id)
        raise
    if not _consume(session, attempt.id):  # another request used it meanwhile
        raise ConsentError("state_unknown")
    return connect_owner(
        session,
        viewer.workspace_id,
        platform=Platform.twitter.value,
        external_account_id=connection.external_account_id,
        username=connection.username,
        display_name=connection.display_name,
        credentials=connection.credentials,
        sealer=Sealer.from_settings(settings),
        now=now,
    )


def _exchange(
    settings: Settings,
    params: Mapping[str, str],
    verifier_sealed: str,
    now: datetime,
    transport: httpx.BaseTransport | None,
) -> user_tokens.OwnerConnection:
    if "error" in params:
        raise ConsentError("denied" if params["error"] == "access_denied" else "x_error")
    code = params.get("code", "")
    if not code or len(code) > 1000:
        raise ConsentError("no_code")
    try:
        verifier = Sealer.from_settings(settings).open(verifier_sealed)["verifier"]
    except (CredentialsUnreadable, KeyError):
        raise ConsentError("state_unknown") from None  # sealed under another secret key
    try:
        return user_tokens.exchange(
            settings,
            code=code,
            verifier=str(verifier),
            redirect_uri=callback_url(settings),
            now=now,
            transport=transport,
        )
    except user_tokens.ConsentFailed as exc:
        if exc.operator:
            raise ConsentError("x_oauth_client") from None
        raise ConsentError(exc.code) from None


def _consume(session: Session, attempt_id: object) -> bool:
    """Delete the attempt; whether this request was the one that did."""
    deleted = session.execute(
        delete(OAuthAttempt).where(OAuthAttempt.id == attempt_id).returning(OAuthAttempt.id)
    ).first()
    return deleted is not None
