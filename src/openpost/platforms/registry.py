"""Which client reads an integration, and which credential (hence which batches) it uses.

- A synthetic integration (test workspaces) reads the deterministic simulator.
- ``twitter`` reads X with the app bearer token shared by every workspace, or with the
  account owner's token when the integration carries one; ``bluesky`` reads the public
  AppView (no credential).
- A platform without a client here yet gives ``None``: collection records ``unsupported``.

``Clients`` is built once per process from ``Settings``; ``transports`` replaces the network
for a platform (a fake's in-process transport in tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

from openpost.config import Settings
from openpost.platforms.base import PlatformClient
from openpost.platforms.bluesky import BlueskyClient
from openpost.platforms.synthetic import BATCH_SIZES, DEFAULT_BATCH_SIZE, SyntheticClient
from openpost.platforms.x import XClient

LIVE_PLATFORMS = frozenset({"twitter", "bluesky"})


class Clients:
    def __init__(
        self, settings: Settings, *, transports: Mapping[str, httpx.BaseTransport] | None = None
    ) -> None:
        self.settings = settings
        self._transports = dict(transports or {})

    def supported(self, platform: str, synthetic: bool) -> bool:
        return synthetic or platform in LIVE_PLATFORMS

    def batch_size(self, platform: str, synthetic: bool) -> int:
        """The most post ids one metrics request may carry."""
        if platform == "twitter" and not synthetic:
            return min(self.settings.x_batch_size, XClient.batch_size)
        return BATCH_SIZES.get(platform, DEFAULT_BATCH_SIZE)

    @staticmethod
    def credential_key(
        platform: str, synthetic: bool, integration_id: uuid.UUID, has_user_token: bool
    ) -> str:
        """Targets with the same key may share a batch: they are read with one credential."""
        if synthetic:
            return f"synthetic:{platform}"
        if has_user_token:
            return f"{platform}:user:{integration_id}"
        return platform

    def build(self, platform: str, synthetic: bool) -> PlatformClient | None:
        if synthetic:
            return SyntheticClient(platform)
        transport = self._transports.get(platform)
        if platform == "twitter":
            return XClient.from_settings(self.settings, transport=transport)
        if platform == "bluesky":
            return BlueskyClient.from_settings(self.settings, transport=transport)
        return None

    @contextmanager
    def open(self, platform: str, synthetic: bool) -> Iterator[PlatformClient | None]:
        """A client for one job, closed afterwards."""
        client = self.build(platform, synthetic)
        try:
            yield client
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
