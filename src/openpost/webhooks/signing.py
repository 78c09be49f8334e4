"""``OpenPost-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (SPEC §9.7).

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with the secret it
was shown when the webhook was created, compares in constant time, and refuses timestamps
too far from its clock (replays). ``verify`` is that check, for tests and for receivers
written in Python.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "OpenPost-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, within ``tolerance`` of ``now``."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
