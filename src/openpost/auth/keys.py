"""API key format: ``op_live_`` or ``op_test_`` + 32 URL-safe base64 characters (40 in all)."""

from __future__ import annotations

import hashlib
import re
import secrets

LIVE_PREFIX = "op_live_"
TEST_PREFIX = "op_test_"
KEY_LENGTH = 40

_KEY_PATTERN = re.compile(r"^op_(live|test)_[A-Za-z0-9_-]{32}$")


def generate_key(mode: str) -> str:
    """A new key for a workspace of ``mode`` (``live`` or ``test``)."""
    prefix = TEST_PREFIX if mode == "test" else LIVE_PREFIX
    return prefix + secrets.token_urlsafe(24)  # 24 random bytes → 32 characters


def is_well_formed(key: str) -> bool:
    return bool(_KEY_PATTERN.match(key))


def hash_key(key: str) -> str:
    """SHA-256 hex digest: what the database stores instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()
