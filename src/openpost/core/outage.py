"""Serving through an outage of the shared rate-limit storage (docs/decisions/0005).

The per-key API limits and the login throttle count in Redis when
``OPENPOST_RATE_LIMIT_STORAGE_URL`` is set, so that every process shares the counts. Redis
is there to make a limit exact across processes, not to make the API work: when it cannot
be reached, callers count in this process's memory instead (each process still enforces
the limit on its own), and ask Redis again after ``retry_seconds``. ``StorageOutage``
holds that state, the warning (at most once per ``warn_seconds``, naming the exception
class only: a Redis URL may carry a password) and the metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from limits.errors import StorageError
from limits.storage import storage_from_string
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("openpost.ratelimit")

REDIS_TIMEOUT_SECONDS = 0.5  # a blackholed Redis must not stall every request


def storage_url(url: str) -> str:
    """``url`` with Redis socket timeouts unless it sets its own (redis-py has none by
    default, so an unreachable host would hold each request for the TCP timeout)."""
    if not url.startswith(("redis://", "rediss://")):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name in ("socket_timeout", "socket_connect_timeout"):
        query.setdefault(name, str(REDIS_TIMEOUT_SECONDS))
    return urlunsplit(parts._replace(query=urlencode(query)))


def storage_errors(url: str) -> tuple[type[Exception], ...]:
    """What the storage behind ``url`` raises when it cannot answer (none in memory)."""
    if not url or url.startswith("memory://"):
        return ()
    found = storage_from_string(url).base_exceptions  # builds a client; connects lazily
    return (StorageError, *(found if isinstance(found, tuple) else (found,)))


class StorageOutage:
    def __init__(
        self,
        url: str,
        registry: CollectorRegistry | None = None,
        *,
        retry_seconds: float = 5.0,
        warn_seconds: float = 60.0,
    ) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.errors = storage_errors(url)
        self.retry_seconds = retry_seconds
        self.warn_seconds = warn_seconds
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._warned_at: float | None = None
        self._down = False
        self.failures = Counter(
            "openpost_rate_limit_storage_errors_total",
            "Calls to the rate-limit storage that failed; the request was limited in this "
            "process's memory instead.",
            registry=registry,
        )
        self.degraded = Gauge(
            "openpost_rate_limit_storage_degraded",
            "1 while the rate-limit storage cannot be reached and limits are per process.",
            registry=registry,
        )

    def available(self) -> bool:
        """Whether to ask the storage now (always, unless it failed in the last
        ``retry_seconds``)."""
        return not self._down or time.monotonic() >= self._retry_at

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        self.failures.inc()
        self.degraded.set(1)
        with self._lock:
            self._down = True
            self._retry_at = now + self.retry_seconds
            warn = self._warned_at is None or now - self._warned_at >= self.warn_seconds
            if warn:
                self._warned_at = now
        if warn:
            log.warning(
                "rate-limit storage unreachable (%s); limiting in this process's memory "
                "until it answers",
                type(error).__name__,
            )

    def recovered(self) -> None:
        if not self._down:
            return
        with self._lock:
            was_down, self._down, self._warned_at = self._down, False, None
        self.degraded.set(0)
        if was_down:
            log.warning("rate-limit storage answers again; limits are shared again")
