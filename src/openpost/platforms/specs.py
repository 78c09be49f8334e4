"""Every platform's spec, by its stored code: adding a platform is one folder and one line
here (``docs/platforms.md``). The synthetic simulator is not a platform: it reads any of
them in test workspaces (``platforms.synthetic``)."""

from __future__ import annotations

from openpost.platforms.bluesky.spec import SPEC as BLUESKY
from openpost.platforms.facebook.spec import SPEC as FACEBOOK
from openpost.platforms.instagram.spec import SPEC as INSTAGRAM
from openpost.platforms.linkedin.spec import SPEC as LINKEDIN
from openpost.platforms.mastodon.spec import SPEC as MASTODON
from openpost.platforms.pinterest.spec import SPEC as PINTEREST
from openpost.platforms.spec import PlatformSpec
from openpost.platforms.threads.spec import SPEC as THREADS
from openpost.platforms.tiktok.spec import SPEC as TIKTOK
from openpost.platforms.x.spec import SPEC as X
from openpost.platforms.youtube.spec import SPEC as YOUTUBE

SPECS: dict[str, PlatformSpec] = {
    spec.name: spec
    for spec in (
        X,
        BLUESKY,
        MASTODON,
        YOUTUBE,
        THREADS,
        INSTAGRAM,
        FACEBOOK,
        LINKEDIN,
        TIKTOK,
        PINTEREST,
    )
}

# Platforms that collection can read (each has a client).
LIVE: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.live)


def spec_for(platform: str) -> PlatformSpec:
    """The spec of a stored platform code (every ``Platform`` value has one)."""
    return SPECS[platform]


def label(platform: str) -> str:
    """What people read for a platform code: ``twitter`` → ``X``; unknown codes as given."""
    spec = SPECS.get(platform)
    return spec.label if spec else platform
