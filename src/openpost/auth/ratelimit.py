"""Per-key request limits with ``limits``: in memory for one process, Redis for many."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from openpost.core.errors import TooManyRequests


class KeyRateLimiter:
    def __init__(self, rate: str, storage_url: str = "") -> None:
        self.item = parse(rate)
        self.storage = storage_from_string(storage_url or "memory://")
        self.limiter = FixedWindowRateLimiter(self.storage)

    def hit(self, key: str) -> dict[str, str]:
        """Count one request for ``key``; return the ``RateLimit-*`` headers, or raise 429."""
        allowed = self.limiter.hit(self.item, "api-key", key)
        reset_at, remaining = self.limiter.get_window_stats(self.item, "api-key", key)
        reset_in = max(0, math.ceil(reset_at - time.time()))
        headers = {
            "RateLimit-Limit": str(self.item.amount),
            "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": str(reset_in),
        }
        if not allowed:
            raise TooManyRequests(headers={**headers, "Retry-After": str(max(1, reset_in))})
        return headers
