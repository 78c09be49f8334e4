"""Prometheus metrics: request counts and latencies by route template, served at /metrics."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpost.core.web import error_response

log = logging.getLogger("openpost.request")


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "openpost_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "openpost_http_request_seconds",
            "Time to the response's first byte, by method and route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Each series' child, looked up once: ``labels()`` validates and locks on every call.
        # Bounded: methods, route templates (not paths) and status codes are few.
        self._timers: dict[tuple[str, str], Histogram] = {}
        self._counters: dict[tuple[str, str, int], Counter] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One finished request: its latency, and one more in its method/route/status count."""
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = self.latency.labels(method, route)
        timer.observe(seconds)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(method, route, str(status))
            self._counters[(method, route, status)] = counter
        counter.inc()

    def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def guarded_endpoint(self, token: str) -> Callable[[Request], Response]:
        """``/metrics`` for the API's port: only with ``Authorization: Bearer <token>``
        (401 otherwise), and not at all without a token (404). docs/decisions/0006."""
        expected = f"Bearer {token}".encode()

        def endpoint(request: Request) -> Response:
            if not token:
                return error_response(404, "not found")
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return error_response(
                    401, "Invalid metrics token", {"WWW-Authenticate": 'Bearer realm="metrics"'}
                )
            return self.endpoint(request)

        return endpoint


class MetricsMiddleware:
    """Counts and times every HTTP request, and writes one structured log line for it."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route_template(scope)
                elapsed = time.perf_counter() - started
                self.metrics.observe(scope["method"], route, status, elapsed)
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            await send(message)

        await self.app(scope, receive, observe)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
