"""Per-key request limits: a fixed window in memory for one process, ``limits`` on Redis for many.

The in-memory counter is our own: ``limits``' ``MemoryStorage`` starts a timer thread to
expire keys, on almost every hit, and that showed in the API's per-request cost. Ours has
the same semantics (a key's window opens at its first hit and lasts the rate's period; hits
past the limit still count) and expires windows lazily under a lock.
"""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from openpost.core.errors import TooManyRequests

# Expired windows are swept when this many keys are held (one per API key that called).
SWEEP_AT = 10_000


class MemoryWindows:
    """Fixed windows per key in this process: ``hit`` returns (count so far, window end)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.windows: dict[str, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def hit(self, key: str, now: float) -> tuple[int, float]:
        with self.lock:
            ends, count = self.windows.get(key, (0.0, 0))
            if now >= ends:
                if len(self.windows) >= SWEEP_AT:
                    self.windows = {k: w for k, w in self.windows.items() if w[0] > now}
                ends, count = now + self.period, 0
            count += 1
            self.windows[key] = (ends, count)
            return count, ends


class KeyRateLimiter:
    def __init__(self, rate: str, storage_url: str = "") -> None:
        self.item: RateLimitItem = parse(rate)
        self.memory: MemoryWindows | None = None
        self.limiter: FixedWindowRateLimiter | None = None
        if not storage_url or storage_url.startswith("memory://"):
            self.memory = MemoryWindows(self.item.get_expiry())
        else:
            self.limiter = FixedWindowRateLimiter(storage_from_string(storage_url))

    def hit(self, key: str) -> dict[str, str]:
        """Count one request for ``key``; return the ``RateLimit-*`` headers, or raise 429."""
        now = time.time()
        if self.memory is not None:
            count, reset_at = self.memory.hit(key, now)
            allowed = count <= self.item.amount
            remaining = self.item.amount - count
        elif self.limiter is not None:
            allowed = self.limiter.hit(self.item, "api-key", key)
            reset_at, remaining = self.limiter.get_window_stats(self.item, "api-key", key)
            now = time.time()  # the stats' reset time was taken after the hit
        else:  # pragma: no cover - __init__ sets one of the two
            raise RuntimeError("rate limiter has no storage")
        reset_in = max(0, math.ceil(reset_at - now))
        headers = {
            "RateLimit-Limit": str(self.item.amount),
            "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": str(reset_in),
        }
        if not allowed:
            raise TooManyRequests(headers={**headers, "Retry-After": str(max(1, reset_in))})
        return headers
