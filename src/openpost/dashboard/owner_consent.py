"""The dashboard's side of connecting accounts with their owner's consent.

The round trip itself is ``openpost.consent.service``; this module only adapts it to the
dashboard: which platforms' consents the app offers (``available``: every platform's, or
``app.state.owner_consents`` when a test sets its own), the requester a ``Viewer`` is, what
the integrations page shows (one card per platform, the notice after a consent, the sentence
for a failure code) and the page's Content-Security-Policy, which must let each consent form
reach its platform's consent page (browsers check a form's redirects against
``form-action`` too).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from openpost.config import Settings
from openpost.consent import providers, service
from openpost.consent.providers import OwnerConsent
from openpost.dashboard.sessions import Viewer
from openpost.dashboard.web import policy_with_form_target
from openpost.platforms.specs import label
from openpost.workspaces.models import WorkspaceMode


def available(request: Request) -> Mapping[str, OwnerConsent]:
    """The platforms whose consent this app offers, by URL slug."""
    chosen: Mapping[str, OwnerConsent] | None = getattr(request.app.state, "owner_consents", None)
    return chosen if chosen is not None else providers.all_consents()


def requester(viewer: Viewer) -> service.Requester:
    return service.Requester(
        session_id=viewer.session_id,
        workspace_id=viewer.workspace_id,
        live=viewer.mode == WorkspaceMode.live,
    )


def offer(
    settings: Settings, viewer: Viewer, consents: Mapping[str, OwnerConsent]
) -> dict[str, object]:
    """What the integrations page shows about owner consent: whether this member may start
    one here, and each platform's card (its settings still missing, its callback URL)."""
    return {
        "shown": viewer.can_manage and viewer.mode == WorkspaceMode.live,
        "platforms": service.offers(settings, consents),
    }


def notice(consents: Mapping[str, OwnerConsent], code: str | None) -> dict[str, str] | None:
    """After a consent went through (``<slug>-connected`` or ``<slug>-attached``): the
    outcome, the platform's name and what the consent adds (the page words it)."""
    if not code:
        return None
    slug, _, outcome = code.rpartition("-")
    consent = consents.get(slug)
    if consent is None or outcome not in ("connected", "attached"):
        return None
    return {"outcome": outcome, "label": label(consent.platform), "adds": consent.adds}


def error(
    settings: Settings, consents: Mapping[str, OwnerConsent], query: Mapping[str, str]
) -> str | None:
    return service.error_message(settings, consents, query)


def page_headers(settings: Settings, consents: Mapping[str, OwnerConsent]) -> dict[str, str]:
    """Headers of a page that shows consent forms (its CSP lets each reach its platform)."""
    origins = sorted(
        {
            origin
            for consent in consents.values()
            if (origin := service.authorize_origin(settings, consent)) is not None
        }
    )
    if not origins:
        return {}
    return {"Content-Security-Policy": policy_with_form_target(" ".join(origins))}
