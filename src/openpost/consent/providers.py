"""Which platforms connect accounts with their owner's consent, found by URL slug.

A platform offers consent when its spec gives an ``OwnerConsent`` (``PlatformSpec.consent``,
``platforms.consent``): today X's (``platforms.x.oauth.CONSENT``). A new platform needs no
line here.

The URL names a platform by its ``slug``: ``x`` for X (``/integrations/x/connect``, and
``/integrations/x/callback`` as registered with X), the stored code for every other
platform (``/integrations/threads/connect``). ``find`` turns a slug that names no consent
into a 404 that says why: an unknown name, a platform that connects by handle, or one whose
consent is not built yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from openpost.core.errors import NotFound
from openpost.platforms.consent import OwnerConsent as OwnerConsent  # for the dashboard
from openpost.platforms.specs import SPECS


def all_consents() -> dict[str, OwnerConsent]:
    """Every platform's consents (its spec's ``consent`` and ``more_consents``), by slug."""
    return by_slug(
        consent
        for spec in SPECS.values()
        for consent in ((spec.consent,) if spec.consent is not None else ()) + spec.more_consents
    )


def by_slug(consents: Iterable[OwnerConsent]) -> dict[str, OwnerConsent]:
    return {consent.slug: consent for consent in consents}


def find(consents: Mapping[str, OwnerConsent], slug: str) -> OwnerConsent:
    """The consent the URL's slug names, or a ``NotFound`` saying why there is none."""
    consent = consents.get(slug)
    if consent is not None:
        return consent
    spec = SPECS.get(slug)
    elsewhere = [c.slug for c in consents.values() if c.platform == slug]
    if spec is not None and elsewhere:
        raise NotFound(
            f"{spec.label}'s owner consent is at /integrations/{elsewhere[0]}/connect "
            f"(its URL name is “{elsewhere[0]}”)."
        )
    if spec is None:
        raise NotFound("No platform of that name connects accounts with their owner's consent.")
    if not spec.consent_only:
        raise NotFound(
            f"{spec.label} accounts are connected by their handle on the Integrations page, "
            "not with their owner's consent."
        )
    raise NotFound(
        f"Connecting {spec.label} accounts with their owner's consent is not available on "
        "this server yet."
    )
