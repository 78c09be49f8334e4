"""Which client reads an integration, with which credential, in batches of what size: all
read from the platforms' specs (``platforms.specs``), with no per-platform branch here.

- A synthetic integration (test workspaces) reads the deterministic simulator.
- A live platform reads through its spec's ``reader``: the client it builds, its batch size
  and discovery limit (from settings), the credential an account's reads spend and the
  ``credentials`` its calls take. A platform without a reader gives ``None``: collection
  records ``unsupported``.

The *credential key* (``platforms.spec.CredentialKey``) groups what may share a batch and a
rate window; ``credential_key`` gives its stored form (``str``), which jobs carry.

``Clients`` is built once per process from ``Settings``; ``transports`` replaces the network
for a platform (a fake's in-process transport in tests). ``user_tokens`` refreshes and stores
owners' tokens (``refresh.user_tokens``: it needs the database, which platforms do not
touch); without it an owner's token is used until it expires.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.base import PlatformClient
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import CredentialKey
from openpost.platforms.specs import LIVE, SPECS
from openpost.platforms.synthetic.client import BATCH_SIZES, DEFAULT_BATCH_SIZE, SyntheticClient

SYNTHETIC = "synthetic"


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
        return synthetic or platform in LIVE

    def batch_size(self, platform: str, synthetic: bool) -> int:
        """The most post ids one metrics request may carry."""
        spec = SPECS.get(platform)
        if not synthetic and spec is not None and spec.reader is not None:
            return spec.reader.batch_size(self.settings)
        return BATCH_SIZES.get(platform, DEFAULT_BATCH_SIZE)

    def discovery_limit(self, platform: str, default: int) -> int:
        """At most this many of an account's newest posts per discovery run."""
        spec = SPECS.get(platform)
        if spec is None or spec.reader is None:
            return default
        return spec.reader.discovery_limit(self.settings)

    @staticmethod
    def credential_key(
        platform: str,
        synthetic: bool,
        integration_id: uuid.UUID,
        has_user_token: bool,
        username: str = "",
    ) -> str:
        """Targets with the same key may share a batch: one credential, one rate window.
        The stored form of the spec's ``CredentialKey``, which batches, jobs and the rate
        state carry."""
        if synthetic:
            return str(CredentialKey(SYNTHETIC, platform))
        spec = SPECS.get(platform)
        if spec is None:
            return platform
        return str(spec.credential_key(username, integration_id if has_user_token else None))

    @staticmethod
    def read_credentials(
        platform: str, username: str, stored: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """What the client's calls take as ``credentials`` for this account."""
        spec = SPECS.get(platform)
        if spec is None or spec.reader is None or spec.reader.read_credentials is None:
            return stored
        return spec.reader.read_credentials(username, stored)

    def build(self, platform: str, synthetic: bool) -> PlatformClient | None:
        if synthetic:
            return SyntheticClient(platform)
        spec = SPECS.get(platform)
        if spec is None or spec.reader is None:
            return None
        return spec.reader.build(self.settings, self._transports.get(platform), self.user_tokens)

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
