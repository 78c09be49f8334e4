"""Which client reads an integration, with which credential, in batches of what size.

- A synthetic integration (test workspaces) reads the deterministic simulator.
- ``twitter`` reads X with the app bearer token shared by every workspace, or with the
  account owner's token when the integration carries one; ``bluesky`` reads the public
  AppView; ``mastodon`` reads each account's own instance; ``youtube`` reads the Data API
  with the operator's API key (one quota for every workspace).
- A platform without a client here yet gives ``None``: collection records ``unsupported``.

The *credential key* groups what may share a batch and a rate window: ``twitter`` (the app
token, every workspace), ``twitter:user:<integration>`` (an owner's token),
``mastodon:<instance>`` (limits are per instance; a batch never mixes instances).

``Clients`` is built once per process from ``Settings``; ``transports`` replaces the network
for a platform (a fake's in-process transport in tests). ``user_tokens`` refreshes and stores
owners' X tokens (``refresh.user_tokens``: it needs the database, which platforms do not
touch); without it an owner's token is used until it expires.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.base import PlatformClient, PlatformError
from openpost.platforms.bluesky.client import BlueskyClient
from openpost.platforms.mastodon.client import MastodonClient
from openpost.platforms.synthetic.client import BATCH_SIZES, DEFAULT_BATCH_SIZE, SyntheticClient
from openpost.platforms.x.client import UserTokenSource, XClient
from openpost.platforms.youtube.client import YouTubeClient

LIVE_PLATFORMS = frozenset({"twitter", "bluesky", "mastodon", "youtube"})


@lru_cache(maxsize=65536)
def _instance(username: str) -> str | None:
    """A Mastodon account's instance (cached: parsing a host name is not cheap, and the
    planner asks once per integration with due posts on every pass)."""
    try:
        return MastodonClient.instance_of(username)
    except (PlatformError, ValueError):
        return None


class Clients:
    def __init__(
        self,
        settings: Settings,
        *,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
        user_tokens: UserTokenSource | None = None,
    ) -> None:
        self.settings = settings
        self.user_tokens = user_tokens
        self._transports = dict(transports or {})
        self._local = threading.local()
        self._opened: list[PlatformClient] = []
        self._lock = threading.Lock()

    def supported(self, platform: str, synthetic: bool) -> bool:
        return synthetic or platform in LIVE_PLATFORMS

    def batch_size(self, platform: str, synthetic: bool) -> int:
        """The most post ids one metrics request may carry."""
        if not synthetic:
            if platform == "twitter":
                return min(self.settings.x_batch_size, XClient.batch_size)
            if platform == "bluesky":
                return min(self.settings.bluesky_batch_size, BlueskyClient.batch_size)
            if platform == "mastodon":
                return min(self.settings.mastodon_batch_size, MastodonClient.batch_size)
            if platform == "youtube":
                return min(self.settings.youtube_batch_size, YouTubeClient.batch_size)
        return BATCH_SIZES.get(platform, DEFAULT_BATCH_SIZE)

    def discovery_limit(self, platform: str, default: int) -> int:
        """At most this many of an account's newest posts per discovery run."""
        return {
            "twitter": self.settings.x_max_posts_per_integration,
            "bluesky": self.settings.bluesky_max_posts_per_integration,
            "mastodon": self.settings.mastodon_max_posts_per_integration,
            "youtube": self.settings.youtube_max_posts_per_integration,
        }.get(platform, default)

    @staticmethod
    def credential_key(
        platform: str,
        synthetic: bool,
        integration_id: uuid.UUID,
        has_user_token: bool,
        username: str = "",
    ) -> str:
        """Targets with the same key may share a batch: one credential, one rate window."""
        if synthetic:
            return f"synthetic:{platform}"
        if has_user_token:
            return f"{platform}:user:{integration_id}"
        if platform == "mastodon":
            return f"mastodon:{_instance(username) or '?'}"
        return platform

    @staticmethod
    def read_credentials(
        platform: str, username: str, stored: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """What the client's calls take as ``credentials`` for this account."""
        if platform == "mastodon":
            instance = _instance(username)
            return {**(stored or {}), **({"instance": instance} if instance else {})}
        return stored

    def build(self, platform: str, synthetic: bool) -> PlatformClient | None:
        if synthetic:
            return SyntheticClient(platform)
        transport = self._transports.get(platform)
        if platform == "twitter":
            return XClient.from_settings(
                self.settings, transport=transport, user_tokens=self.user_tokens
            )
        if platform == "bluesky":
            return BlueskyClient.from_settings(self.settings, transport=transport)
        if platform == "mastodon":
            return MastodonClient.from_settings(self.settings, transport=transport)
        if platform == "youtube":
            return YouTubeClient.from_settings(self.settings, transport=transport)
        return None

    @contextmanager
    def open(self, platform: str, synthetic: bool) -> Iterator[PlatformClient | None]:
        """This thread's client for the platform: reused from job to job (its connections
        stay open), never shared between threads (a client remembers its last response's
        rate window)."""
        cache: dict[tuple[str, bool], PlatformClient | None] = self._local.__dict__.setdefault(
            "clients", {}
        )
        if (platform, synthetic) not in cache:
            client = cache[(platform, synthetic)] = self.build(platform, synthetic)
            if client is not None:
                with self._lock:
                    self._opened.append(client)
        yield cache[(platform, synthetic)]

    def close(self) -> None:
        """Close every client this object opened, in every thread."""
        with self._lock:
            opened, self._opened = self._opened, []
        for client in opened:
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self._local = threading.local()
