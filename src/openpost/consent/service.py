"""An owner's consent round trip, the same for every platform (OAuth 2.0 authorization code).

``start`` (the dashboard's "Connect <platform> with the owner's consent", by an owner or
admin of a live workspace) makes an unguessable ``state`` and, where the platform uses PKCE,
a verifier and its S256 challenge; stores the attempt (``OAuthAttempt``: the state's SHA-256,
the sealed verifier, the dashboard login, workspace and platform, a ten-minute expiry) and
returns the platform's consent URL (``OwnerConsent.authorize_url``: its scopes and extra
parameters).

``finish`` (the platform's redirect back to ``<public_base_url>/integrations/<slug>/callback``)
accepts the attempt only from the same login, for the same platform, in the same workspace,
before it expires, and once: the attempt is deleted whatever happens next, and only the
request whose delete removed it may store anything. Then the code is exchanged (with the
verifier), swapped for a long-lived token where the platform has that step, the account
identified, and the integration created or given the token (``integrations.service.
connect_owner``). A platform whose one consent covers several accounts, each with its own
token (``platforms.consent.ManyAccounts``: Facebook's Pages), gets one integration per
account; none at all is the failure ``<slug>_no_accounts``. Every failure is a
``ConsentError`` with a fixed code; the dashboard turns the code into a sentence
(``error_message``), so nothing from the query string or the platform is echoed, and no
token, code or verifier is ever logged or shown.

The platform calls run before the attempt is deleted, so that on SQLite the request does not
hold the database's write lock while the platform answers.

A platform may name its own refusals on the callback (``OwnerConsent.refusal``, worded by
its ``answers``): Threads' "not a tester of the app yet" (1349245) and "a Facebook app id"
(1349026) become ``threads_not_tester`` and ``threads_facebook_app_id``.

Failure codes travel in the redirect to the integrations page as ``<slug>_error=<code>``
(X's: ``x_error=denied``). The codes of the round trip itself are plain (``denied``,
``state_unknown``, ``state_expired``, ``state_workspace``, ``no_code``); those about the
platform's answers carry the slug (``x_code_refused``, ``x_no_refresh_token``,
``x_oauth_client``, ``x_unavailable``, and ``x_error`` when the consent page itself failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.consent.models import OAuthAttempt
from openpost.consent.security import challenge, new_state, new_verifier, state_hash
from openpost.consent.tokens import owner_credentials
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.errors import BadRequest
from openpost.integrations.service import ConnectResult, connect_owner
from openpost.platforms.base import PlatformError
from openpost.platforms.consent import ClientRejected, ManyAccounts, OwnerConsent, TokenRefused
from openpost.platforms.specs import label

ATTEMPT_LIFETIME = timedelta(minutes=10)
BASE_URL_SETTING = "OPENPOST_PUBLIC_BASE_URL"

# The round trip's own failures: the same words for every platform.
ROUND_TRIP = {
    "denied": "The {label} account owner did not give consent, so nothing was connected.",
    "state_unknown": "That {label} consent does not belong to this login, or was already "
    "used. Start again with “Connect {label} with the owner's consent”.",
    "state_expired": "That {label} consent took too long (attempts last ten minutes). Start again.",
    "state_workspace": "You switched workspace while {label} asked for consent. Start again "
    "from the workspace the account should join.",
    "no_code": "{label} sent the browser back without a consent code. Start again.",
}
# Failures in the platform's answers: sent as ``<slug>_<code>``.
PLATFORM_ANSWERS = {
    "error": "{label} could not ask for consent (it answered with an error). Start again.",
    "code_refused": "{label} did not accept the consent (it expired or was already used). "
    "Start again.",
    "no_refresh_token": "{label} granted no refresh token (offline access), so the connection "
    "would stop when its first access token expires. Start again and allow offline access.",
    "oauth_client": "{label} rejected this server's OAuth client id or secret. An operator has "
    "to fix {settings}; trying again will not help until then.",
    "unavailable": "{label} could not complete the connection right now. Try again in a few "
    "minutes.",
    "no_accounts": "{label} gave access to no account this server can read (none was chosen, "
    "or none lets you see its insights). Start again and choose at least one.",
}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: the dashboard login, its current workspace and whether that is live."""

    session_id: uuid.UUID
    workspace_id: uuid.UUID
    live: bool


class ConsentError(Exception):
    """The round trip failed; ``reason`` is a key of ``ROUND_TRIP`` or ``PLATFORM_ANSWERS``
    (anything else is reported as ``unavailable``)."""

    def __init__(self, consent: OwnerConsent, reason: str) -> None:
        known = reason in ROUND_TRIP or _platform_answer(consent, reason) is not None
        super().__init__(reason if known else "unavailable")
        self.consent = consent
        self.reason = reason if known else "unavailable"

    @property
    def code(self) -> str:
        """The code as the redirect carries it (``x_unavailable``, ``denied``)."""
        if _platform_answer(self.consent, self.reason) is not None:
            return f"{self.consent.slug}_{self.reason}"
        return self.reason

    @property
    def query(self) -> dict[str, str]:
        """The integrations page's query parameter naming this failure."""
        return {f"{self.consent.slug}_error": self.code}


def _platform_answer(consent: OwnerConsent, reason: str) -> str | None:
    """The template for a failure in the platform's answers: the common ones, or the
    platform's own (``OwnerConsent.answers``)."""
    return PLATFORM_ANSWERS.get(reason) or dict(consent.answers).get(reason)


def sentence(settings: Settings, consent: OwnerConsent, reason: str) -> str:
    """What the integrations page says for a failure (``reason`` as in ``ConsentError``)."""
    template = ROUND_TRIP.get(reason) or _platform_answer(consent, reason)
    assert template is not None, reason
    names = " / ".join(consent.app_settings(settings)) or "the platform's app settings"
    return template.format(label=label(consent.platform), settings=names)


def error_message(
    settings: Settings, consents: Mapping[str, OwnerConsent], query: Mapping[str, str]
) -> str | None:
    """The sentence for a failure code in the integrations page's query (unknown: none)."""
    for slug, consent in consents.items():
        code = query.get(f"{slug}_error")
        if not code:
            continue
        if code in ROUND_TRIP:
            return sentence(settings, consent, code)
        reason = code.removeprefix(f"{slug}_")
        if code != reason and _platform_answer(consent, reason) is not None:
            return sentence(settings, consent, reason)
    return None


# ---- what the page offers ----------------------------------------------------------------


def callback_path(consent: OwnerConsent) -> str:
    return f"/integrations/{consent.slug}/callback"


def callback_url(settings: Settings, consent: OwnerConsent) -> str:
    return settings.public_base_url + callback_path(consent)


def missing_settings(settings: Settings, consent: OwnerConsent) -> list[str]:
    """The settings an operator still has to set before the platform's consent is offered."""
    missing = consent.missing(settings)
    return [*missing, BASE_URL_SETTING] if not settings.public_base_url else missing


def authorize_origin(settings: Settings, consent: OwnerConsent) -> str | None:
    """Where the consent form's redirect goes (a page showing the form must allow it as a
    form target), or ``None`` when the platform's consent is not configured."""
    if missing_settings(settings, consent):
        return None
    parts = urlsplit(consent.authorize_endpoint(settings))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


@dataclass(frozen=True, slots=True)
class Offer:
    """What the integrations page shows about one platform's consent."""

    slug: str
    platform: str
    label: str
    adds: str
    missing: list[str]
    callback: str | None


def offers(settings: Settings, consents: Mapping[str, OwnerConsent]) -> list[Offer]:
    return [
        Offer(
            slug=consent.slug,
            platform=consent.platform,
            label=label(consent.platform) + (f" {consent.variant}" if consent.variant else ""),
            adds=consent.adds,
            missing=missing_settings(settings, consent),
            callback=callback_url(settings, consent) if settings.public_base_url else None,
        )
        for consent in consents.values()
    ]


# ---- the round trip ----------------------------------------------------------------------


def start(
    session: Session,
    settings: Settings,
    consent: OwnerConsent,
    requester: Requester,
    *,
    now: datetime,
) -> str:
    """Store a new attempt for this login and return the platform's consent URL."""
    name = label(consent.platform)
    if not requester.live:
        raise BadRequest("Test workspaces connect synthetic accounts; consent is for live ones.")
    missing = missing_settings(settings, consent)
    if missing:
        raise BadRequest(f"Connecting {name} with consent is not set up: set {', '.join(missing)}.")
    session.execute(delete(OAuthAttempt).where(OAuthAttempt.expires_at <= now))
    state = new_state()
    verifier = new_verifier() if consent.pkce else None
    sealed = {"verifier": verifier} if verifier is not None else {}
    session.add(
        OAuthAttempt(
            state_hash=state_hash(state),
            session_id=requester.session_id,
            workspace_id=requester.workspace_id,
            platform=consent.platform,
            verifier_sealed=Sealer.from_settings(settings).seal(sealed),
            created_at=now,
            expires_at=now + ATTEMPT_LIFETIME,
        )
    )
    session.flush()
    return consent.authorize_url(
        settings,
        redirect_uri=callback_url(settings, consent),
        state=state,
        challenge=challenge(verifier) if verifier is not None else None,
    )


def finish(
    session: Session,
    settings: Settings,
    consent: OwnerConsent,
    requester: Requester,
    params: Mapping[str, str],
    *,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> ConnectResult:
    """Complete the attempt named by ``state`` (see the module docs)."""
    state = params.get("state", "")
    if not state or len(state) > 200:
        raise ConsentError(consent, "state_unknown")
    attempt = session.execute(
        select(
            OAuthAttempt.id,
            OAuthAttempt.workspace_id,
            OAuthAttempt.verifier_sealed,
            OAuthAttempt.expires_at,
        ).where(
            OAuthAttempt.state_hash == state_hash(state),
            OAuthAttempt.session_id == requester.session_id,
            OAuthAttempt.platform == consent.platform,
        )
    ).first()
    if attempt is None:
        raise ConsentError(consent, "state_unknown")
    try:
        if attempt.expires_at <= now:
            raise ConsentError(consent, "state_expired")
        if attempt.workspace_id != requester.workspace_id:
            raise ConsentError(consent, "state_workspace")
        connections = _exchange(settings, consent, params, attempt.verifier_sealed, now, transport)
    except ConsentError:
        _consume(session, attempt.id)
        raise
    if not _consume(session, attempt.id):  # another request used it meanwhile
        raise ConsentError(consent, "state_unknown")
    results = [
        connect_owner(
            session,
            requester.workspace_id,
            platform=consent.platform,
            external_account_id=connection.external_account_id,
            username=connection.username,
            display_name=connection.display_name,
            credentials=connection.credentials,
            sealer=Sealer.from_settings(settings),
            now=now,
        )
        for connection in connections
    ]
    # A consent covering several accounts (``ManyAccounts``): the first one's integration,
    # ``created`` when any of them is new.
    return replace(results[0], created=any(result.created for result in results))


@dataclass(frozen=True, slots=True)
class OwnerConnection:
    external_account_id: str
    username: str
    display_name: str
    credentials: dict[str, object]  # sealed by ``connect_owner``, never shown


def _exchange(
    settings: Settings,
    consent: OwnerConsent,
    params: Mapping[str, str],
    verifier_sealed: str,
    now: datetime,
    transport: httpx.BaseTransport | None,
) -> list[OwnerConnection]:
    """The platform's part: code → tokens → long-lived tokens → the account (or, for a
    ``ManyAccounts`` platform, every account the consent covers, each with its tokens)."""
    refused = consent.refusal(params) if consent.refusal is not None else None
    if refused is not None:
        raise ConsentError(consent, refused)
    if "error" in params:
        raise ConsentError(consent, "denied" if params["error"] == "access_denied" else "error")
    code = params.get("code", "")
    if not code or len(code) > 1000:
        raise ConsentError(consent, "no_code")
    try:
        verifier = Sealer.from_settings(settings).open(verifier_sealed).get("verifier")
    except CredentialsUnreadable:
        raise ConsentError(consent, "state_unknown") from None  # sealed under another key
    if consent.pkce and not isinstance(verifier, str):
        raise ConsentError(consent, "state_unknown")
    try:
        with closing(consent.open(settings, transport)) as client:
            tokens = client.exchange_code(
                code,
                verifier=str(verifier) if consent.pkce else None,
                redirect_uri=callback_url(settings, consent),
                now=now,
            )
            tokens = client.long_lived(tokens, now=now)
            if isinstance(client, ManyAccounts):
                given = [(one.account, one.tokens) for one in client.accounts(tokens, now=now)]
            else:
                given = [(client.identify(tokens.access_token), tokens)]
    except TokenRefused:
        raise ConsentError(consent, "code_refused") from None
    except ClientRejected:
        raise ConsentError(consent, "oauth_client") from None
    except PlatformError:
        raise ConsentError(consent, "unavailable") from None
    if not given:
        raise ConsentError(consent, "no_accounts")
    if consent.uses_refresh_token and any(kept.refresh_token is None for _, kept in given):
        raise ConsentError(consent, "no_refresh_token")
    return [
        OwnerConnection(
            external_account_id=account.external_account_id,
            username=account.username,
            display_name=account.display_name,
            credentials=owner_credentials(consent, kept),
        )
        for account, kept in given
    ]


def _consume(session: Session, attempt_id: object) -> bool:
    """Delete the attempt; whether this request was the one that did."""
    deleted = session.execute(
        delete(OAuthAttempt).where(OAuthAttempt.id == attempt_id).returning(OAuthAttempt.id)
    ).first()
    return deleted is not None
