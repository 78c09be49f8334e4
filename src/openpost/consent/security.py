"""The random values of a consent round trip: ``state`` and the PKCE verifier (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets

VERIFIER_BYTES = 64  # 86 URL-safe characters: within PKCE's 43 to 128
STATE_BYTES = 32


def new_state() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def state_hash(state: str) -> str:
    """What is stored of a state: its SHA-256, hex (the same hash as dashboard logins)."""
    return hashlib.sha256(state.encode()).hexdigest()


def new_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def challenge(verifier: str) -> str:
    """The S256 code challenge: unpadded base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
